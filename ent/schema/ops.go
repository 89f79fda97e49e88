package schema

import (
	"context"
	"errors"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SwitchState is the stored state of one degradation switch; the switches themselves (names,
// descriptions, safe defaults) are declared in code.
type SwitchState struct{ ent.Schema }

// Fields of the SwitchState.
func (SwitchState) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").Immutable(), // the switch name
		field.Bool("enabled"),
		field.String("updated_by").Default(""),
		field.String("reason").Default(""),
		field.Time("updated_at"),
	}
}

// AuditEntry records one admin change: who, what, before and after, and why. Entries are
// append-only and written in the same transaction as the change.
type AuditEntry struct{ ent.Schema }

// Fields of the AuditEntry.
func (AuditEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("actor").Immutable(),
		field.String("action").Immutable(),
		field.String("target").Immutable(),
		field.Text("before").Default("").Immutable(),
		field.Text("after").Default("").Immutable(),
		field.String("reason").Default("").Immutable(),
		field.String("request_id").Default("").Immutable(),
		field.Time("at").Immutable(),
	}
}

// Indexes of the AuditEntry.
func (AuditEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("at"), index.Fields("target")}
}

// errAuditAppendOnly refuses edits of the audit log.
var errAuditAppendOnly = errors.New("audit entries are append-only")

// Hooks of the AuditEntry: updates and deletes are refused at the ORM layer.
func (AuditEntry) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if !m.Op().Is(ent.OpCreate) {
					return nil, errAuditAppendOnly
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}

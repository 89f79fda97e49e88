package schema

import (
	"context"
	"errors"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ReconciliationReport is the outcome of one reconciliation run over one (child) activity:
// whether the ledger, balances, orders, withdrawals, red packets and Redis state agreed, and
// every disagreement found. Reports are kept so operators can compare runs over time.
type ReconciliationReport struct{ ent.Schema }

// Fields of the ReconciliationReport.
func (ReconciliationReport) Fields() []ent.Field {
	return []ent.Field{
		// id sorts by start time, like withdrawal ids.
		field.String("id").Immutable(),
		// activity_id is the child activity checked; requested_id is what the operator named
		// (a parent id resolves to its live child).
		field.String("activity_id").Immutable(),
		field.String("requested_id").Default("").Immutable(),
		field.Bool("ok").Immutable(),
		// discrepancy_count counts every discrepancy found; discrepancies (JSON) holds at most
		// the first thousand, so one broken activity cannot make a report unreadably large.
		field.Int("discrepancy_count").Default(0).Immutable(),
		field.Text("discrepancies").Default("[]").Immutable(),
		// checked (JSON) says how much was examined: orders, ledger legs, accounts, ...
		field.Text("checked").Default("{}").Immutable(),
		field.String("actor").Default("").Immutable(),
		field.Time("started_at").Immutable(),
		field.Time("finished_at").Immutable(),
	}
}

// Indexes of the ReconciliationReport.
func (ReconciliationReport) Indexes() []ent.Index {
	return []ent.Index{index.Fields("activity_id", "started_at")}
}

// errReportAppendOnly refuses edits of reconciliation reports: a report is evidence.
var errReportAppendOnly = errors.New("reconciliation reports are append-only")

// Hooks of the ReconciliationReport: updates and deletes are refused at the ORM layer.
func (ReconciliationReport) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if !m.Op().Is(ent.OpCreate) {
					return nil, errReportAppendOnly
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}

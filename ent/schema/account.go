package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Account is a cross-app user identity: the act_id the account platform shares across the apps.
type Account struct{ ent.Schema }

// Fields of the Account: its id is the act_id itself, so no lookup table is needed.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").Positive().Immutable(),
	}
}

// Mixin of the Account.
func (Account) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Edges of the Account.
func (Account) Edges() []ent.Edge {
	return []ent.Edge{edge.To("apps", AppBinding.Type)}
}

// AppBinding records that an account was seen on an app (1..8), so rewards earned on one app
// are known to belong to the same person on every other.
type AppBinding struct{ ent.Schema }

// Fields of the AppBinding.
func (AppBinding) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("act_id").Immutable(),
		field.Int("app_id").Range(1, 8).Immutable(),
	}
}

// Mixin of the AppBinding.
func (AppBinding) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Edges of the AppBinding.
func (AppBinding) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account", Account.Type).Ref("apps").Field("act_id").Unique().Required().Immutable(),
	}
}

// Indexes of the AppBinding.
func (AppBinding) Indexes() []ent.Index {
	return []ent.Index{index.Fields("act_id", "app_id").Unique()}
}

package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// IssuedReward is the database's record of a reward issuance accepted, written shortly after
// the fact: issuance itself touches only Redis, and each instance appends what it accepted to
// this journal in batches (services/wallet, journal.go). It is what lets the service know about
// pending rewards when Redis loses them: balances still show them, budgets are rebuilt with
// them, a re-issued order is answered with its first token, and they are settled from here.
// Rows are never deleted; settled is set once the order is in reward_orders.
type IssuedReward struct{ ent.Schema }

// Fields of the IssuedReward.
func (IssuedReward) Fields() []ent.Field {
	return []ent.Field{
		field.String("activity_id").Immutable(),
		field.String("order_no").Immutable(),
		field.Int64("act_id").Immutable(),
		field.Int("app_id").Immutable(),
		field.String("scene_id").Immutable(),
		field.Int("rain_id").Immutable(),
		field.String("award_type").Immutable(),
		field.Int("stage").Immutable(),
		field.Int64("amount").Positive().Immutable(),
		field.Text("token").Optional().Immutable(),
		field.Time("issued_at").Immutable(),
		// settled is true once the order is known to be in reward_orders; a false one may still
		// be settled (the journal row and the settlement can race), so readers check.
		field.Bool("settled").Default(false),
		field.Time("recorded_at").Default(time.Now).Immutable(),
	}
}

// Indexes of the IssuedReward.
func (IssuedReward) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("activity_id", "order_no").Unique(),
		// An account's unsettled rewards (balances, forceSettle).
		index.Fields("activity_id", "act_id", "settled"),
		// The unsettled rewards of every activity, oldest first (the sweeper).
		index.Fields("settled", "issued_at"),
		// An activity's earliest issuance (which orders Redis can vouch for).
		index.Fields("activity_id", "issued_at"),
	}
}

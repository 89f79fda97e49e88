package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Withdrawal is money leaving a wallet: debited at once into the payout clearing account,
// then paid (SUCCEEDED) or returned with a compensating entry (FAILED) by the payout worker.
type Withdrawal struct{ ent.Schema }

// Fields of the Withdrawal.
func (Withdrawal) Fields() []ent.Field {
	return []ent.Field{
		// id sorts by creation time, so feed cursors can compare ids as strings.
		field.String("id").Immutable(),
		field.String("activity_id").Immutable(),
		field.Int64("act_id").Immutable(),
		// request_id is the client's idempotency key.
		field.String("request_id").Immutable(),
		field.Int64("amount").Positive().Immutable(),
		field.Enum("status").Values("PROCESSING", "SUCCEEDED", "FAILED").Default("PROCESSING"),
		field.String("failure_reason").Default(""),
		field.Int("attempts").Default(0),
		// next_attempt_at and claimed_until let any number of payout workers share the queue:
		// a worker claims a row by moving claimed_until forward in a conditional update.
		field.Time("next_attempt_at"),
		field.Time("claimed_until").Optional().Nillable(),
		// outcome_unknown_since is set when a payout call ended without an answer (a timeout, a
		// transport error): the provider may have paid, so the withdrawal stays PROCESSING until
		// a status lookup says paid or refused.
		field.Time("outcome_unknown_since").Optional().Nillable(),
		field.Time("created_at").Immutable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Indexes of the Withdrawal.
func (Withdrawal) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("activity_id", "act_id", "request_id").Unique(),
		index.Fields("activity_id", "act_id", "created_at", "id"),
		index.Fields("act_id", "created_at"),
		index.Fields("status", "next_attempt_at"),
		index.Fields("status", "outcome_unknown_since"),
	}
}

package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// SimulatedPayout is the built-in simulated payout provider's own record of what it was asked
// to pay, kept in the database so that, like a real provider, it remembers across restarts
// and answers every instance's status lookups the same way. Production deployments with a
// real provider never write it.
type SimulatedPayout struct{ ent.Schema }

// Fields of the SimulatedPayout.
func (SimulatedPayout) Fields() []ent.Field {
	return []ent.Field{
		// id is the payout's idempotency key: the withdrawal id.
		field.String("id").Immutable(),
		field.Int64("amount").Immutable(),
		field.Enum("status").Values("PENDING", "PAID", "REJECTED").Default("PENDING"),
		field.Time("received_at").Immutable(),
		// due_at is when the simulated payment is decided (received_at + latency).
		field.Time("due_at").Immutable(),
		field.Time("decided_at").Optional().Nillable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RedPacket is a C2C red packet: the sender's money held in an escrow ledger account and split
// into shares that grabbers take one at a time; what is left at expiry goes back to the sender.
type RedPacket struct{ ent.Schema }

// Fields of the RedPacket.
func (RedPacket) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").Immutable(),
		field.String("activity_id").Immutable(),
		field.Int64("sender_act_id").Immutable(),
		field.String("request_id").Immutable(),
		field.Int64("total_amount").Positive().Immutable(),
		field.Int("count").Positive().Immutable(),
		field.Enum("mode").Values("RANDOM", "FIXED").Immutable(),
		field.String("greeting").Default("").Immutable(),
		// shares is the split, decided once at sending; the database keeps it so the Redis
		// copy that grabs pop from can always be rebuilt.
		field.JSON("shares", []int64{}).Immutable(),
		field.Int("remaining_count"),
		field.Int64("remaining_amount"),
		field.Enum("status").Values("OPEN", "FINISHED", "EXPIRED").Default("OPEN"),
		field.Int64("refunded_amount").Default(0),
		field.Time("expires_at").Immutable(),
		field.Time("created_at").Immutable(),
	}
}

// Indexes of the RedPacket.
func (RedPacket) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("activity_id", "sender_act_id", "request_id").Unique(),
		index.Fields("status", "expires_at"),
	}
}

// RedPacketGrab is one share taken by one account; each account grabs a packet at most once
// and each share is taken at most once.
type RedPacketGrab struct{ ent.Schema }

// Fields of the RedPacketGrab.
func (RedPacketGrab) Fields() []ent.Field {
	return []ent.Field{
		field.String("packet_id").Immutable(),
		field.Int64("act_id").Immutable(),
		field.Int("seq").Immutable(),
		field.Int64("amount").Positive().Immutable(),
		field.Time("created_at").Immutable(),
	}
}

// Indexes of the RedPacketGrab.
func (RedPacketGrab) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("packet_id", "act_id").Unique(),
		index.Fields("packet_id", "seq").Unique(),
	}
}

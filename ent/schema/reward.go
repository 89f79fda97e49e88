package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RewardOrder is a settled reward. Its (activity_id, order_no) pair is unique, which is what
// makes settlement idempotent: a second settlement of the same order inserts nothing.
type RewardOrder struct{ ent.Schema }

// Fields of the RewardOrder.
func (RewardOrder) Fields() []ent.Field {
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
		// status is the red-packet token status the server keeps: 1 created, 2 processing, 8 success.
		field.Int("status").Default(8),
		field.Text("token").Optional(),
		// issued_at is the token's OpenTime; the feed orders rewards by it so that a reward keeps
		// its place when it moves from pending to settled.
		field.Time("issued_at").Immutable(),
		field.Time("settled_at").Immutable(),
	}
}

// Indexes of the RewardOrder.
func (RewardOrder) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("activity_id", "order_no").Unique(),
		index.Fields("activity_id", "act_id", "award_type", "issued_at", "order_no"),
		index.Fields("activity_id", "act_id", "scene_id"),
	}
}

// Asset is a non-cash award (a coupon, a voucher) held by an account.
type Asset struct{ ent.Schema }

// Fields of the Asset.
func (Asset) Fields() []ent.Field {
	return []ent.Field{
		field.String("activity_id").Immutable(),
		field.Int64("act_id").Immutable(),
		field.String("order_no").Immutable(),
		field.String("scene_id").Immutable(),
		field.String("award_type").Immutable(),
		// face_value is the award's value in fen (what the budget is charged).
		field.Int64("face_value").Immutable(),
	}
}

// Mixin of the Asset.
func (Asset) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Indexes of the Asset.
func (Asset) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("activity_id", "order_no").Unique(),
		index.Fields("activity_id", "act_id"),
	}
}

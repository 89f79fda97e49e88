package schema

import (
	"regexp"
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Activity is an event (or one phase of it). A parent activity's children are its phases
// (internal test, gray, production); the child whose window holds the request time is used.
type Activity struct{ ent.Schema }

// Fields of the Activity.
func (Activity) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").Match(regexp.MustCompile(idPattern)).Immutable(),
		field.String("name").Default(""),
		field.String("parent_id").Optional().Nillable(),
		field.Enum("phase").Values("INTERNAL", "GRAY", "PRODUCTION").Default("PRODUCTION"),
		field.Time("starts_at"),
		field.Time("ends_at"),
		// budget_total caps what all scenes of the activity may issue together (0: no cap).
		field.Int64("budget_total").Default(0).NonNegative(),
		// per_user_cap caps what one account may receive in the activity, in fen (0: no cap).
		field.Int64("per_user_cap").Default(0).NonNegative(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Mixin of the Activity.
func (Activity) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Edges of the Activity.
func (Activity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("children", Activity.Type).From("parent").Field("parent_id").Unique(),
		edge.To("scenes", Scene.Type),
	}
}

// Scene is one reward type within an activity, with its budget and limits. A scene defined on
// a parent applies to every child, each child consuming its own copy of the budget.
type Scene struct{ ent.Schema }

// Fields of the Scene.
func (Scene) Fields() []ent.Field {
	return []ent.Field{
		field.String("activity_id").Immutable(),
		field.String("scene_id").Match(regexp.MustCompile(idPattern)).Immutable(),
		field.String("award_type"),
		// per_txn_limit is the largest single reward in fen (0: no limit).
		field.Int64("per_txn_limit").Default(0).NonNegative(),
		field.Int64("budget_total").Default(0).NonNegative(),
		// reserve_ppm is reserveRatio in parts per million, so the reserve is computed in
		// integers: a float 0.1 × total can round one fen the wrong way.
		field.Int64("reserve_ppm").Default(100_000).Range(0, 1_000_000),
		field.Int("rate_per_second").Default(0).NonNegative(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Mixin of the Scene.
func (Scene) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Edges of the Scene.
func (Scene) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("activity", Activity.Type).Ref("scenes").Field("activity_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Scene.
func (Scene) Indexes() []ent.Index {
	return []ent.Index{index.Fields("activity_id", "scene_id").Unique()}
}

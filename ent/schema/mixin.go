package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// TimeMixin stamps rows with their creation time; rows that change also carry updated_at.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// idPattern is the contract's id shape for activities and scenes; it leaves out "_" because
// order numbers join ids with "_".
const idPattern = `^[A-Za-z0-9-]{1,64}$`

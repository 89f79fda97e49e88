package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Announcement is a notice shown on the wallet page of the targeted apps during its window.
type Announcement struct{ ent.Schema }

// Fields of the Announcement.
func (Announcement) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").Immutable(),
		field.String("activity_id"),
		// app_ids lists the apps (1..8) it is shown on; empty means every app.
		field.JSON("app_ids", []int{}),
		field.String("title"),
		field.Text("body"),
		field.Time("starts_at"),
		field.Time("ends_at"),
		// priority orders announcements: higher first.
		field.Int("priority").Default(0),
		field.Time("created_at").Immutable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Indexes of the Announcement.
func (Announcement) Indexes() []ent.Index {
	return []ent.Index{index.Fields("activity_id", "ends_at")}
}

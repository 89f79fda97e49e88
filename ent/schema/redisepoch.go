package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RedisEpoch records that the service found Redis without its epoch markers and
// re-established them (services/wallet, epoch.go): START the first time (nothing had been
// lost), LOSS afterwards (Redis, or some of its Cluster nodes, had lost their data). Since is
// the time from which Redis holds every order record again; activities that began earlier have
// their new orders checked against the database.
type RedisEpoch struct{ ent.Schema }

// Fields of the RedisEpoch.
func (RedisEpoch) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").Immutable(),
		field.Enum("kind").Values("START", "LOSS").Immutable(),
		field.Time("since").Immutable(),
		field.Time("detected_at").Immutable(),
		field.Time("recovered_at").Immutable(),
		// slots is how many Redis Cluster slots (of 16,384) had lost their marker.
		field.Int("slots").Immutable(),
		field.String("instance").Default("").Immutable(),
	}
}

// Indexes of the RedisEpoch.
func (RedisEpoch) Indexes() []ent.Index {
	return []ent.Index{index.Fields("detected_at")}
}

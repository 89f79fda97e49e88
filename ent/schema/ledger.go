package schema

import (
	"context"
	"errors"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// LedgerEntry is one leg of a double-entry transaction. Entries are append-only: every
// transaction's legs sum to zero, so the whole ledger always sums to zero, and a correction is
// a new compensating transaction, never an edit.
type LedgerEntry struct{ ent.Schema }

// Fields of the LedgerEntry.
func (LedgerEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("txn_id").Immutable(),
		field.String("activity_id").Immutable(),
		// account names the ledger account: "user:<actId>", "budget:<sceneId>", "payout", ...
		field.String("account").Immutable(),
		// act_id is the user the leg belongs to, 0 for system accounts.
		field.Int64("act_id").Default(0).Immutable(),
		// amount is signed fen: credit > 0, debit < 0.
		field.Int64("amount").Immutable(),
		field.String("kind").Immutable(),
		// ref points at what caused the transaction (an order number, a withdrawal id, ...).
		field.String("ref").Immutable(),
		// feed names the wallet-feed source a user's leg shows under ("" for none), so the
		// feed reads its rows with one index range instead of filtering by kind.
		field.String("feed").Default("").Immutable(),
	}
}

// Mixin of the LedgerEntry.
func (LedgerEntry) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Indexes of the LedgerEntry.
func (LedgerEntry) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("activity_id", "account", "feed", "created_at"),
		index.Fields("txn_id"),
		index.Fields("activity_id", "ref"),
	}
}

// errAppendOnly refuses edits of the ledger.
var errAppendOnly = errors.New("ledger entries are append-only")

// Hooks of the LedgerEntry: updates and deletes are refused at the ORM layer.
func (LedgerEntry) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if !m.Op().Is(ent.OpCreate) {
					return nil, errAppendOnly
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}

// Balance is an account's settled balance within one activity: the sum of its ledger legs,
// kept alongside the ledger in the same transaction so a read or a debit check is one row.
type Balance struct{ ent.Schema }

// Fields of the Balance.
func (Balance) Fields() []ent.Field {
	return []ent.Field{
		field.String("activity_id").Immutable(),
		field.Int64("act_id").Immutable(),
		field.Int64("settled").Default(0),
		// cumulative counts every credit that was income (rewards, grabbed red packets); it
		// never goes down.
		field.Int64("cumulative").Default(0),
	}
}

// Indexes of the Balance.
func (Balance) Indexes() []ent.Index {
	return []ent.Index{index.Fields("activity_id", "act_id").Unique()}
}

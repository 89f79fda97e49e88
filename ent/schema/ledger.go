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
		// chain, seq, prev_hash and hash link the entry into its activity's hash chains: seq
		// counts from 1 within (activity_id, chain), hash covers the entry's content and
		// prev_hash, so an edited, deleted or inserted row breaks the chain (verify-ledger).
		// Rows written before the chains existed have seq 0 and no hash.
		field.Int("chain").Default(0).Immutable(),
		field.Int64("seq").Default(0).Immutable(),
		field.String("prev_hash").Default("").Immutable(),
		field.String("hash").Default("").Immutable(),
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
		index.Fields("activity_id", "chain", "seq"),
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

// LedgerChain is the head of one hash chain of an activity's ledger: the last entry's seq and
// hash. Posting locks it, so entries of one chain are linked in order; an activity has
// several chains so that concurrent transactions rarely wait for each other.
type LedgerChain struct{ ent.Schema }

// Fields of the LedgerChain.
func (LedgerChain) Fields() []ent.Field {
	return []ent.Field{
		field.String("activity_id").Immutable(),
		field.Int("chain").Immutable(),
		field.Int64("seq").Default(0),
		field.String("hash").Default(""),
	}
}

// Indexes of the LedgerChain.
func (LedgerChain) Indexes() []ent.Index {
	return []ent.Index{index.Fields("activity_id", "chain").Unique()}
}

// LedgerSeal is a signed ledger head: the activity's chain heads at one moment, signed with
// the service's Ed25519 key (published in /.well-known/jwks.json). A later rewrite of the
// chains, hashes recomputed and all, no longer matches a seal made before it.
type LedgerSeal struct{ ent.Schema }

// Fields of the LedgerSeal.
func (LedgerSeal) Fields() []ent.Field {
	return []ent.Field{
		field.String("activity_id").Immutable(),
		field.Int64("entries").Immutable(),
		field.String("hash").Immutable(),
		// chains is the JSON list of {chain, seq, hash} the hash covers.
		field.String("chains").Immutable(),
		field.String("signature").Immutable(),
		field.Time("signed_at").Immutable(),
	}
}

// Indexes of the LedgerSeal.
func (LedgerSeal) Indexes() []ent.Index {
	return []ent.Index{index.Fields("activity_id", "signed_at")}
}

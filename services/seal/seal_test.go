package seal

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/token"
)

const act = "cny-prod"

// ledgerWith posts n rewards into a fresh database and returns it with a sealing service.
func ledgerWith(t *testing.T, n int) (*store.DB, *Service) {
	t.Helper()
	db := testenv.SQLite(t)
	ctx := context.Background()
	at := time.Date(2027, 1, 28, 20, 0, 0, 0, time.UTC)
	err := db.WriteTx(ctx, func(tx *ent.Tx) error {
		txns := make([]ledger.Txn, n)
		for i := range txns {
			id := fmt.Sprintf("reward:%s:%d", act, i)
			txns[i] = ledger.Txn{ID: id, ActivityID: act, Kind: ledger.KindReward, Ref: id, At: at.Add(time.Duration(i) * time.Second), Income: true,
				Legs: []ledger.Leg{ledger.System(ledger.BudgetAccount("rain"), -int64(i+1)), ledger.User(int64(i%7+1), int64(i+1))}}
		}
		return ledger.Post(ctx, tx, txns...)
	})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return db, New(db, signer, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// exec runs raw SQL past the ORM's append-only hook, as someone with database access would.
func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.W.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}

func mustVerify(t *testing.T, s *Service) *Report {
	t.Helper()
	r, err := s.Verify(context.Background(), act)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// entry returns the n-th entry (by id) of the activity.
func entry(t *testing.T, db *store.DB, n int) *ent.LedgerEntry {
	t.Helper()
	es, err := db.R.LedgerEntry.Query().Where(ledgerentry.ActivityID(act)).Order(ent.Asc(ledgerentry.FieldID)).All(context.Background())
	if err != nil || len(es) <= n {
		t.Fatalf("entries: %d, %v", len(es), err)
	}
	return es[n]
}

func TestAnIntactLedgerVerifiesAndItsSealSigns(t *testing.T) {
	db, s := ledgerWith(t, 50)
	seal, err := s.Seal(context.Background(), act)
	if err != nil || seal.Entries != 100 || len(seal.Hash) != 64 {
		t.Fatalf("seal = %+v, %v", seal, err)
	}
	claims, err := s.signer.VerifyClaims(seal.Signature)
	if err != nil || claims["hash"] != seal.Hash || claims["entries"].(float64) != 100 {
		t.Fatalf("signature claims = %v, %v", claims, err)
	}
	if r := mustVerify(t, s); !r.OK || r.Entries != 100 {
		t.Fatalf("verify = %+v", r)
	}
	// More entries after the seal are fine: the seal covers what existed then.
	_ = db
}

// TestEveryTamperingIsFound edits, deletes and inserts ledger rows past the ORM, as someone
// with database access could, and expects Verify to name the first broken entry each time.
func TestEveryTamperingIsFound(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, db *store.DB) int // returns the entry id expected to be named (0: none)
		reason string
	}{
		{"an amount edited", func(t *testing.T, db *store.DB) int {
			e := entry(t, db, 10)
			exec(t, db, "UPDATE ledger_entries SET amount = amount + 100 WHERE id = $1", e.ID)
			return e.ID
		}, "edited"},
		{"an account edited", func(t *testing.T, db *store.DB) int {
			e := entry(t, db, 11)
			exec(t, db, "UPDATE ledger_entries SET account = 'user:999' WHERE id = $1", e.ID)
			return e.ID
		}, "edited"},
		{"a middle entry deleted", func(t *testing.T, db *store.DB) int {
			e := entry(t, db, 20)
			exec(t, db, "DELETE FROM ledger_entries WHERE id = $1", e.ID)
			// The entry named is the next one of the same chain, now out of sequence.
			next, err := db.R.LedgerEntry.Query().Where(ledgerentry.ActivityID(act), ledgerentry.Chain(e.Chain), ledgerentry.SeqGT(e.Seq)).
				Order(ent.Asc(ledgerentry.FieldSeq)).First(context.Background())
			if err != nil {
				return 0
			}
			return next.ID
		}, "deleted or inserted"},
		{"the last entries deleted", func(t *testing.T, db *store.DB) int {
			exec(t, db, "DELETE FROM ledger_entries WHERE id = (SELECT MAX(id) FROM ledger_entries)")
			return 0
		}, "deleted"},
		{"an unchained entry inserted", func(t *testing.T, db *store.DB) int {
			exec(t, db, `INSERT INTO ledger_entries (txn_id, activity_id, account, act_id, amount, kind, ref, feed, chain, seq, prev_hash, hash, created_at)
				VALUES ('forged', $1, 'user:1', 1, 1000000, 'REWARD', 'forged', '', 0, 0, '', '', $2)`, act, time.Now())
			return entry(t, db, 100).ID
		}, "inserted"},
		{"the chain rewritten after the seal", func(t *testing.T, db *store.DB) int {
			// Edit an old entry and recompute every hash after it and the heads: the links all
			// check out, but the signed seal no longer matches.
			e := entry(t, db, 4)
			exec(t, db, "UPDATE ledger_entries SET amount = amount + 100 WHERE id = $1", e.ID)
			es, _ := db.R.LedgerEntry.Query().Where(ledgerentry.ActivityID(act), ledgerentry.Chain(e.Chain)).Order(ent.Asc(ledgerentry.FieldSeq)).All(context.Background())
			prev := ""
			for _, x := range es {
				h := ledger.EntryHash(prev, x)
				exec(t, db, "UPDATE ledger_entries SET prev_hash = $1, hash = $2 WHERE id = $3", prev, h, x.ID)
				prev = h
			}
			exec(t, db, "UPDATE ledger_chains SET hash = $1 WHERE activity_id = $2 AND chain = $3", prev, act, e.Chain)
			return 0
		}, "seal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, s := ledgerWith(t, 50)
			if _, err := s.Seal(context.Background(), act); err != nil {
				t.Fatal(err)
			}
			want := tc.tamper(t, db)
			r := mustVerify(t, s)
			if r.OK || r.BrokenEntry != want || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("verify = %+v; want broken at %d (%q)", r, want, tc.reason)
			}
		})
	}
}

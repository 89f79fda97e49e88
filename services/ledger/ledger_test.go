package ledger

import (
	"context"
	"errors"
	"go/ast"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/balance"
	"github.com/springwallet/wallet/internal/srcscan"
	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/store"
)

var at = time.Date(2027, 1, 28, 20, 0, 0, 0, time.UTC)

func txn(id string, kind Kind, legs ...Leg) Txn {
	return Txn{ID: id, ActivityID: "a", Kind: kind, Ref: id, At: at, Legs: legs}
}

// post runs Post in its own write transaction, as the services do.
func post(t *testing.T, db *store.DB, txns ...Txn) error {
	t.Helper()
	return db.WriteTx(context.Background(), func(tx *ent.Tx) error { return Post(context.Background(), tx, txns...) })
}

func counts(t *testing.T, db *store.DB) (legs int, settled map[int64]int64, income map[int64]int64) {
	t.Helper()
	ctx := context.Background()
	legs, err := db.R.LedgerEntry.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.R.Balance.Query().Where(balance.ActivityID("a")).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	settled, income = map[int64]int64{}, map[int64]int64{}
	for _, r := range rows {
		settled[r.ActID], income[r.ActID] = r.Settled, r.Cumulative
	}
	return legs, settled, income
}

func TestPostRefusesBadTransactionsAndWritesNothing(t *testing.T) {
	db := testenv.SQLite(t)
	good := txn("ok", KindReward, System(BudgetAccount("rain"), -5), User(1, 5))
	for _, tc := range []struct {
		name string
		t    Txn
	}{
		{"unbalanced", txn("u", KindReward, System(BudgetAccount("rain"), -5), User(1, 6))},
		{"one leg", txn("one", KindReward, User(1, 5))},
		{"zero leg", txn("z", KindReward, System(BudgetAccount("rain"), 0), User(1, 0))},
		{"unknown kind", txn("k", Kind("GIFT"), System(BudgetAccount("rain"), -5), User(1, 5))},
		{"user leg not built by User", txn("f", KindReward, System(BudgetAccount("rain"), -5), Leg{Account: "user:2", ActID: 1, Amount: 5})},
		{"user account without its act id", txn("g", KindReward, System(BudgetAccount("rain"), -5), Leg{Account: "x", ActID: 3, Amount: 5})},
		{"no id", Txn{ActivityID: "a", Kind: KindReward, Ref: "r", At: at, Legs: good.Legs}},
		{"no time", Txn{ID: "t", ActivityID: "a", Kind: KindReward, Ref: "r", Legs: good.Legs}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A bad transaction next to a good one refuses both: nothing is written.
			if err := post(t, db, good, tc.t); err == nil {
				t.Fatal("posted")
			}
			if legs, settled, _ := counts(t, db); legs != 0 || len(settled) != 0 {
				t.Fatalf("%d legs and balances %v written after a refusal", legs, settled)
			}
		})
	}
}

func TestPostMovesBalancesWithUserLegs(t *testing.T) {
	db := testenv.SQLite(t)
	reward := txn("r1", KindReward, System(BudgetAccount("rain"), -100), User(1, 100))
	reward.Income = true
	if err := post(t, db, reward, txn("c1", KindAssetGrant, System(BudgetAccount("gala"), -30), System(AssetAccount("COUPON"), 30))); err != nil {
		t.Fatal(err)
	}
	if err := post(t, db, txn("w1", KindWithdrawal, User(1, -60), System(PayoutClearing, 60))); err != nil {
		t.Fatal(err)
	}
	// A refund is not income.
	if err := post(t, db, txn("f1", KindWithdrawalRefund, System(PayoutClearing, -60), User(1, 60))); err != nil {
		t.Fatal(err)
	}
	legs, settled, income := counts(t, db)
	if legs != 8 || settled[1] != 100 || income[1] != 100 || len(settled) != 1 {
		t.Fatalf("legs %d, settled %v, income %v; want 8 legs, 100 settled, 100 income, one balance row", legs, settled, income)
	}
	// Overdrawing is refused with INSUFFICIENT_BALANCE, and the transaction writes nothing.
	err := post(t, db, txn("w2", KindWithdrawal, User(1, -101), System(PayoutClearing, 101)))
	if !errs.Is(err, errs.InsufficientBalance) {
		t.Fatalf("overdraw = %v, want INSUFFICIENT_BALANCE", err)
	}
	if legs, settled, _ := counts(t, db); legs != 8 || settled[1] != 100 {
		t.Fatalf("after a refused debit: %d legs, settled %v", legs, settled)
	}
	// A debit of someone with no balance row at all is refused the same way.
	if err := post(t, db, txn("w3", KindWithdrawal, User(2, -1), System(PayoutClearing, 1))); !errs.Is(err, errs.InsufficientBalance) {
		t.Fatalf("debit without a balance = %v", err)
	}
}

func TestRedPacketLegsAreInTheFeed(t *testing.T) {
	db := testenv.SQLite(t)
	r := txn("r", KindReward, System(BudgetAccount("rain"), -10), User(1, 10))
	if err := post(t, db, r, txn("s", KindRedPacketSent, User(1, -10), System(RedPacketAccount("p"), 10))); err != nil {
		t.Fatal(err)
	}
	rows, err := db.R.LedgerEntry.Query().All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rows {
		want := ""
		if l.Kind == string(KindRedPacketSent) && l.ActID != 0 {
			want = FeedRedPacket
		}
		if l.Feed != want {
			t.Errorf("leg %s/%s feed %q, want %q", l.Kind, l.Account, l.Feed, want)
		}
	}
}

// TestOnlyPostInsertsLedgerRows proves this package is the one door to the ledger: no other
// production code creates ledger rows (tests may, to fake corruption for reconciliation).
func TestOnlyPostInsertsLedgerRows(t *testing.T) {
	inserts, err := srcscan.Find(filepath.Join("..", ".."), func(n ast.Node) bool {
		for _, m := range []string{"Create", "CreateBulk", "MapCreateBulk"} {
			if srcscan.Selector(n, "LedgerEntry", m) {
				return true
			}
		}
		lit, ok := n.(*ast.BasicLit)
		return ok && lit.Kind == token.STRING && strings.Contains(strings.ToLower(lit.Value), "insert into ledger")
	})
	if err != nil {
		t.Fatal(err)
	}
	own := 0
	for _, in := range inserts {
		if filepath.Dir(in.File) == filepath.Join("services", "ledger") {
			own++
			continue
		}
		t.Errorf("%s creates ledger rows outside services/ledger: post a ledger.Txn instead", in.Pos)
	}
	if own == 0 {
		t.Fatal("the scan found no ledger inserts even in services/ledger: it is broken")
	}
}

func TestIsNoRows(t *testing.T) {
	if IsNoRows(nil) || !IsNoRows(errors.New("sql: no rows in result set")) {
		t.Fatal("IsNoRows")
	}
}

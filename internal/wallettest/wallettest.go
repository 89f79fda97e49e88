// Package wallettest wires the reward core into a testworld.World for the tests of the
// packages built on it (withdrawals, red packets, the feed), and funds wallets the way users
// get money: rewards issued and settled.
package wallettest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/springwallet/wallet/internal/testworld"
	"github.com/springwallet/wallet/services/wallet"
)

// Core returns the reward core on w's parts, with short settlement timings for tests.
func Core(t testing.TB, w *testworld.World) *wallet.Service {
	t.Helper()
	s, err := wallet.New(wallet.Deps{DB: w.DB, Redis: w.Redis, Catalog: w.Catalog, Signer: w.Signer, Switches: w.Switches,
		Counter: w.Counter, Scenes: wallet.NoSceneLimits{}, Now: w.Clock.Now, Log: w.Log,
		Config: wallet.Config{Shards: 2, BatchSize: 64, ClaimIdle: 300 * time.Millisecond, SweepAge: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rainSeq numbers funding rewards so that every one is a new order.
var rainSeq atomic.Int64

// Cash is a cash reward of amount fen for actID in the world's cash scene, a new order each time.
func Cash(actID, amount int64) wallet.IssueInput {
	return wallet.IssueInput{ActID: actID, AppID: 1, ActivityID: testworld.Parent, SceneID: testworld.CashScene,
		RainID: int(rainSeq.Add(1)), AwardType: wallet.AwardCash, Amount: amount}
}

// Issue issues a reward and fails the test on an error.
func Issue(t testing.TB, core *wallet.Service, in wallet.IssueInput) *wallet.IssueResult {
	t.Helper()
	res, err := core.Issue(context.Background(), in)
	if err != nil {
		t.Fatalf("issue %+v: %v", in, err)
	}
	return res
}

// Fund gives actID amount fen of settled balance in the live phase: cash rewards within the
// scene's per-transaction limit, then settled.
func Fund(t testing.TB, w *testworld.World, core *wallet.Service, actID, amount int64) {
	t.Helper()
	for amount > 0 {
		chunk := min(amount, 10_000)
		Issue(t, core, Cash(actID, chunk))
		amount -= chunk
	}
	if _, err := core.ForceSettle(context.Background(), w.Live(t), actID); err != nil {
		t.Fatal(err)
	}
}

// Balance reads actID's wallet in the live phase and checks balance == settled + pending.
func Balance(t testing.TB, w *testworld.World, core *wallet.Service, actID int64) wallet.Balance {
	t.Helper()
	b, err := core.Wallet(context.Background(), w.Live(t), actID)
	if err != nil {
		t.Fatalf("wallet: %v", err)
	}
	if b.Balance != b.Settled+b.Pending {
		t.Fatalf("balance %d != settled %d + pending %d", b.Balance, b.Settled, b.Pending)
	}
	return b
}

package wallet

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/internal/testworld"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/lifecycle"
)

// Benchmarks of the reward core's hot paths with the issuance journal running, as the server
// runs them (the README has the numbers): `go test -run x -bench . -benchtime 2s ./services/wallet/`.

// benchCore is the reward core on a fresh world (SQLite, the package's Redis database), with
// server timings and its journal worker running.
func benchCore(b *testing.B) *Service {
	b.Helper()
	w := testworld.New(b, testworld.Options{RedisDB: testenv.DBWallet})
	s := newService(b, w, DefaultConfig())
	g := lifecycle.NewGroup(s.log)
	g.Start(context.Background(), map[string]lifecycle.Worker{"journal": s.Journal()})
	b.Cleanup(func() { _ = g.Stop(10 * time.Second) })
	if _, err := s.Issue(context.Background(), cash(1, 0, 1)); err != nil { // markers, counters
		b.Fatal(err)
	}
	return s
}

func benchIssue(b *testing.B, s *Service) {
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Issue(context.Background(), cash(i%10_000+2, int(i), 1)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIssue is one cash reward: sign, reserve, record (marker checked in the script),
// queue, and the order appended to the journal buffer. No database on the request's path.
func BenchmarkIssue(b *testing.B) { benchIssue(b, benchCore(b)) }

// BenchmarkIssueAfterRedisLoss is the same after Redis lost its data during the activity:
// Redis cannot vouch for new orders of an activity that began before the loss, so each asks
// the database first (two indexed lookups).
func BenchmarkIssueAfterRedisLoss(b *testing.B) {
	s := benchCore(b)
	ctx := context.Background()
	s.rdb.FlushDB(ctx)
	if _, err := s.Issue(ctx, cash(1, 1, 1)); err != nil { // the recovery
		b.Fatal(err)
	}
	benchIssue(b, s)
}

// BenchmarkIssueReplay is a duplicate of an order already issued.
func BenchmarkIssueReplay(b *testing.B) {
	s := benchCore(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Issue(context.Background(), cash(1, 0, 1)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWallet is the balance read of an account with 50 settled and 10 pending rewards,
// all journaled: the pending hash and its slot's marker in one round trip, then one snapshot
// (balance row, the journal's unsettled rows, which pending orders are settled).
func BenchmarkWallet(b *testing.B) {
	s := benchCore(b)
	ctx := context.Background()
	for i := range 60 {
		if _, err := s.Issue(ctx, cash(7, i, 1)); err != nil {
			b.Fatal(err)
		}
		if i == 49 {
			if _, err := s.ForceSettle(ctx, benchLive(b, s), 7); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.flushJournal(ctx); err != nil {
		b.Fatal(err)
	}
	live := benchLive(b, s)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Wallet(ctx, live, 7); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSettleJournaled is settlement throughput per reward when the journal holds the
// rewards (each batch also marks their journal rows settled).
func BenchmarkSettleJournaled(b *testing.B) {
	s := benchCore(b)
	ctx := context.Background()
	for i := range b.N {
		if _, err := s.Issue(ctx, cash(int64(i/100+2), i, 1)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.flushJournal(ctx); err != nil {
		b.Fatal(err)
	}
	live := benchLive(b, s)
	b.ResetTimer()
	for acct := int64(2); acct <= int64(b.N/100+2); acct++ {
		if _, err := s.ForceSettle(ctx, live, acct); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLive is the world's live child.
func benchLive(b *testing.B, s *Service) *activity.Live {
	b.Helper()
	l, err := s.catalog.Resolve(context.Background(), parentID, s.now())
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkJournalWrite is the journal worker's database cost per accepted reward: rows
// inserted in chunks of 500, the settled ones marked (none here).
func BenchmarkJournalWrite(b *testing.B) {
	s := benchCore(b)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	b.ResetTimer()
	for i := range b.N {
		s.journalAdd(Order{OrderNo: OrderNo(int64(i%10_000+2), "rain", i, AwardCash, 0), ActivityID: childID, ActID: int64(i%10_000 + 2),
			AppID: 1, SceneID: "rain", RainID: i, AwardType: AwardCash, Amount: 1, IssuedAtMs: now, Token: "x"})
		if i%500 == 499 {
			if err := s.flushJournal(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.flushJournal(ctx); err != nil {
		b.Fatal(err)
	}
}

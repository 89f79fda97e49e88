// Package bench measures the service's hot paths against real Redis and SQLite: issuance,
// the wallet read, settlement throughput and the feed of an account with 10,000 items.
// Run with `go test -run xxx -bench . -benchtime 3s ./bench/`; results are in the README.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/counter"
	"github.com/springwallet/wallet/services/feed"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/token"
	"github.com/springwallet/wallet/services/wallet"
)

const activityID = "bench"

// stack is the reward core and the feed, wired as server.go wires them.
type stack struct {
	*wallet.Service
	live *activity.Live
	feed *feed.Service
}

// Feed reads one feed page of the benchmark's activity.
func (s *stack) Feed(ctx context.Context, actID int64, first int, after string) (*feed.Page, error) {
	return s.feed.Page(ctx, s.live, actID, first, after)
}

func setup(b *testing.B) (*stack, *store.DB) {
	b.Helper()
	ctx := context.Background()
	db := testenv.SQLite(b)
	rdb := testenv.Redis(b, testenv.DBBench)
	cat := activity.NewCatalog(db, time.Now)
	now := time.Now()
	if _, err := cat.UpsertActivity(ctx, activity.ActivityInput{ID: activityID, Phase: "PRODUCTION", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(24 * time.Hour)}); err != nil {
		b.Fatal(err)
	}
	if _, err := cat.UpsertScene(ctx, activity.SceneInput{ActivityID: activityID, SceneID: "rain", AwardType: "CASH", BudgetTotal: 1 << 60, ReservePPM: -1}); err != nil {
		b.Fatal(err)
	}
	signer, err := token.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sw := switches.AllOn()
	s, err := wallet.New(wallet.Deps{DB: db, Redis: rdb, Catalog: cat, Signer: signer, Switches: sw, Counter: counter.New(rdb, log, time.Second),
		Scenes: wallet.NoSceneLimits{}, Now: time.Now, Log: log, Config: wallet.DefaultConfig()})
	if err != nil {
		b.Fatal(err)
	}
	f, err := feed.New(feed.Deps{DB: db, Rewards: s, Switches: sw, Breakers: breaker.NewRegistry(prometheus.NewRegistry()), Log: log})
	if err != nil {
		b.Fatal(err)
	}
	// The journal worker runs beside issuance, as in the server.
	jctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Journal().Run(jctx); close(done) }()
	b.Cleanup(func() { stop(); <-done })
	live, err := cat.Resolve(ctx, activityID, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return &stack{Service: s, live: live, feed: f}, db
}

func in(actID int64, rain int) wallet.IssueInput {
	return wallet.IssueInput{ActID: actID, AppID: 1, ActivityID: activityID, SceneID: "rain", RainID: rain, AwardType: "CASH", Amount: 1}
}

// BenchmarkIssue is one cash reward: validation, token signing, budget reservation, the
// idempotent record in Redis and the settlement job. No database write.
func BenchmarkIssue(b *testing.B) {
	s, _ := setup(b)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Issue(context.Background(), in(i%10_000+1, int(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIssueReplay is a duplicate of an order already issued.
func BenchmarkIssueReplay(b *testing.B) {
	s, _ := setup(b)
	if _, err := s.Issue(context.Background(), in(1, 1)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Issue(context.Background(), in(1, 1)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSettle is settlement throughput: rewards moved from Redis into the ledger, in
// batches of up to 100 per account.
func BenchmarkSettle(b *testing.B) {
	s, _ := setup(b)
	ctx := context.Background()
	for i := range b.N {
		if _, err := s.Issue(ctx, in(int64(i/100+1), i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for acct := int64(1); acct <= int64(b.N/100+1); acct++ {
		if _, err := s.ForceSettle(ctx, s.live, acct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWallet is the wallet page's balance read for an account with pending and settled
// rewards.
func BenchmarkWallet(b *testing.B) {
	s, _ := setup(b)
	ctx := context.Background()
	for i := range 50 {
		if _, err := s.Issue(ctx, in(7, i)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.ForceSettle(ctx, s.live, 7); err != nil {
		b.Fatal(err)
	}
	for i := 50; i < 60; i++ {
		if _, err := s.Issue(ctx, in(7, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Wallet(ctx, s.live, 7); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFeed10k pages through the feed of an account holding 10,000 settled rewards: the
// first page and a page deep in the history cost the same (keyset, not offset).
func BenchmarkFeed10k(b *testing.B) {
	s, _ := setup(b)
	ctx := context.Background()
	for i := range 10_000 {
		if _, err := s.Issue(ctx, in(9, i)); err != nil {
			b.Fatal(err)
		}
		if i%500 == 499 {
			if _, err := s.ForceSettle(ctx, s.live, 9); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Find a cursor 9,000 items deep.
	after := ""
	for range 90 {
		p, err := s.Feed(ctx, 9, 100, after)
		if err != nil {
			b.Fatal(err)
		}
		after = p.Cursors[len(p.Cursors)-1]
	}
	for _, c := range []struct{ name, after string }{{"first-page", ""}, {"page-91", after}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				p, err := s.Feed(ctx, 9, 20, c.after)
				if err != nil || len(p.Items) != 20 || len(p.Degraded) != 0 {
					b.Fatal(fmt.Sprint(err, len(p.Items), p.Degraded))
				}
			}
		})
	}
}

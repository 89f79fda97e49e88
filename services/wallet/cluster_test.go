package wallet

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/token"
)

// TestOnRedisCluster runs issuance, settlement, budgets, token restore, the sweeper and red
// packets against a real three-node Redis Cluster: every script must touch one slot only and
// every scan must visit every master, or Redis Cluster refuses.
func TestOnRedisCluster(t *testing.T) {
	ctx := context.Background()
	rc := testenv.Cluster(t)
	db := testenv.SQLite(t)
	clk := &clock{t: t0}
	cat := activity.NewCatalog(db, clk.Now)
	if _, err := cat.UpsertActivity(ctx, activity.ActivityInput{ID: parentID, Phase: "PRODUCTION", StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.UpsertActivity(ctx, activity.ActivityInput{ID: childID, ParentID: parentID, Phase: "PRODUCTION", StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []activity.SceneInput{
		{ActivityID: parentID, SceneID: "rain", AwardType: "CASH", BudgetTotal: 1_000_000_000, ReservePPM: -1},
		{ActivityID: parentID, SceneID: "tight", AwardType: "CASH", BudgetTotal: 1000, ReservePPM: -1},
	} {
		if _, err := cat.UpsertScene(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	signer, _ := token.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	s := New(db, rc, cat, signer, clk.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Shards: 4, ClaimIdle: time.Second, SweepAge: time.Second})
	f := &fixture{s: s, db: db, clock: clk, signer: signer}

	// Issue to accounts spread over every node; replays and conflicts behave.
	var toks []string
	for u := int64(1); u <= 30; u++ {
		r := f.issue(t, cash(u, 1, 100))
		toks = append(toks, r.Token)
		if again := f.issue(t, cash(u, 1, 100)); !again.Replayed || again.Token != r.Token {
			t.Fatalf("replay on the cluster = %+v", again)
		}
		if _, err := s.Issue(ctx, cash(u, 1, 101)); !errs.Is(err, errs.IdempotencyConflict) {
			t.Fatalf("conflict on the cluster: %v", err)
		}
	}
	// The worker settles from every stream shard.
	wctx, cancel := context.WithCancel(ctx)
	w := s.NewWorker()
	w.block = 50 * time.Millisecond
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for u := int64(1); u <= 30; u++ {
		for f.wallet(t, u).Settled != 100 || rc.Exists(ctx, pendingKey(childID, u)).Val() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("account %d not settled on the cluster: %+v", u, f.wallet(t, u))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cancel()
	<-done

	// Budgets: the scene and activity counters share a slot; a race stops exactly at the limit.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := cash(int64(1000+i), 1, 10)
			in.SceneID = "tight"
			if _, err := s.Issue(ctx, in); err == nil {
				ok.Add(1)
			} else if !errs.Is(err, errs.BudgetExhausted) {
				t.Errorf("issue: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 90 { // 900 of the 1,000 may be issued: exactly 90 rewards of 10
		t.Fatalf("%d of 120 accepted on the cluster, want exactly 90", ok.Load())
	}

	// The sweeper scans every master.
	o := Order{OrderNo: OrderNo(200, "rain", 1, AwardCash, 0), ActivityID: childID, ActID: 200, AppID: 1, SceneID: "rain",
		RainID: 1, AwardType: AwardCash, Amount: 5, IssuedAtMs: clk.Now().UnixMilli()}
	if err := issueScript.Run(ctx, rc, []string{orderKey(childID, 200, o.OrderNo), pendingKey(childID, 200), capKey(childID, 200, 0)},
		o.content(), "", o.marshal(), o.OrderNo, int64(60_000), o.IssuedAtMs, 0, "-", 0).Err(); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	if n, err := s.Sweep(ctx); err != nil || n < 1 {
		t.Fatalf("sweep on the cluster = %d, %v", n, err)
	}

	// Redis loses everything; tokens restore their rewards, settled ones are not paid twice.
	if err := rc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushAll(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks[:5] {
		r, err := s.Redeem(ctx, tok, int64(i+1))
		if err != nil || !r.Replayed {
			t.Fatalf("redeem of a settled token after the loss = %+v, %v", r, err)
		}
	}

	// Red packets: send and concurrent grabs, keys on one slot per packet.
	f.fund(t, 300, 1000)
	p, _, err := s.SendRedPacket(ctx, SendRedPacketInput{ActivityID: childID, ActID: 300, TotalAmount: 1000, Count: 10, Mode: "RANDOM", Greeting: "hi", RequestID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	var grabbed atomic.Int32
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := s.GrabRedPacket(ctx, p.ID, int64(400+i))
			if err == nil {
				grabbed.Add(1)
				got.Add(g.Amount)
			} else if !errs.Is(err, errs.RedPacketEmpty) {
				t.Errorf("grab: %v", err)
			}
		}()
	}
	wg.Wait()
	if grabbed.Load() != 10 || got.Load() != 1000 {
		t.Fatalf("%d grabs took %d fen, want 10 taking 1000", grabbed.Load(), got.Load())
	}
	f.checkLedger(t)
}

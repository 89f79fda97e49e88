package wallet

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent/redisepoch"
	"github.com/springwallet/wallet/internal/testworld"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
)

// TestOnRedisCluster runs issuance, settlement, budgets, token restore and the sweeper
// against a real three-node Redis Cluster (services/redpacket runs red packets there): every script must touch one slot only and
// every scan must visit every master, or Redis Cluster refuses.
func TestOnRedisCluster(t *testing.T) {
	ctx := context.Background()
	w := testworld.New(t, testworld.Options{Cluster: true})
	rc := w.Redis
	if _, err := w.Catalog.UpsertScene(ctx, activity.SceneInput{ActivityID: parentID, SceneID: "tight", AwardType: "CASH", BudgetTotal: 1000, ReservePPM: -1}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: newService(t, w, Config{Shards: 4, ClaimIdle: time.Second, SweepAge: time.Second}), w: w, db: w.DB, rdb: rc, clock: w.Clock, signer: w.Signer}
	s := f.s
	clk := w.Clock

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
	worker := s.Settler()
	worker.block = 50 * time.Millisecond
	done := make(chan struct{})
	go func() { _ = worker.Run(wctx); close(done) }()
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

	// Every epoch marker lands on the slot it stands for, the accounts' and budgets' on theirs.
	for _, slot := range []int{0, 1, 5460, 5461, 10923, clusterSlots - 1} {
		if got := rc.ClusterKeySlot(ctx, markerKey(slot)).Val(); got != int64(slot) {
			t.Fatalf("marker of slot %d is on slot %d", slot, got)
		}
	}
	if a, b := rc.ClusterKeySlot(ctx, accountMarker(childID, 7)).Val(), rc.ClusterKeySlot(ctx, pendingKey(childID, 7)).Val(); a != b {
		t.Fatalf("account marker on slot %d, its keys on %d", a, b)
	}
	if a, b := rc.ClusterKeySlot(ctx, budgetMarker(childID)).Val(), rc.ClusterKeySlot(ctx, budgetSceneKey(childID, "rain")).Val(); a != b {
		t.Fatalf("budget marker on slot %d, the counters on %d", a, b)
	}
	// One node loses its data: its slots alone are recovered, and account 1's settled order,
	// issued again, is its first answer replayed.
	node, err := rc.(*redis.ClusterClient).MasterForKey(ctx, pendingKey(childID, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := node.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if again := f.issue(t, cash(1, 1, 100)); !again.Replayed || again.Token != toks[0] || again.Status != StatusSettled {
		t.Fatalf("re-issue after a node lost its data = %+v", again)
	}
	if ep := w.DB.R.RedisEpoch.Query().Where(redisepoch.KindEQ(redisepoch.KindLOSS)).OnlyX(ctx); ep.Slots <= 0 || ep.Slots >= clusterSlots {
		t.Fatalf("loss recovered %d slots, want only the node's", ep.Slots)
	}

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
	f.recordOnly(t, o)
	clk.Add(2 * time.Second)
	if n, err := s.Sweep(ctx); err != nil || n < 1 {
		t.Fatalf("sweep on the cluster = %d, %v", n, err)
	}

	// Redis loses everything; tokens restore their rewards, settled ones are not paid twice.
	if err := rc.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushAll(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks[:5] {
		r, err := s.Redeem(ctx, tok, int64(i+1))
		if err != nil || !r.Replayed {
			t.Fatalf("redeem of a settled token after the loss = %+v, %v", r, err)
		}
	}

	f.checkLedger(t)
}

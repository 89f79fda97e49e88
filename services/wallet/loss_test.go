package wallet

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/issuedreward"
	"github.com/springwallet/wallet/ent/redisepoch"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/internal/testworld"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/lifecycle"
)

// Redis losing its data, as an attacker or a failing infrastructure would arrange it: flushed
// at the worst moment (right after an acknowledgement, before any journal write), mid-burst,
// under concurrent instances, or an order record outliving its 30 days.

// stats is the activity's issuance totals as activityStats reports them.
func (f *fixture) stats(t *testing.T) Stats {
	t.Helper()
	a, err := f.s.catalog.Lookup(context.Background(), childID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.s.Stats(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// other is a second instance of the reward core on the same database and Redis, with its own
// journal and its own view of the activities.
func (f *fixture) other(t *testing.T) *Service {
	t.Helper()
	w := *f.w
	w.Catalog = activity.NewCatalog(f.db, f.clock.Now)
	return newService(t, &w, f.s.cfg)
}

// runJournal runs s's journal worker until the test ends.
func runJournal(t *testing.T, s *Service) {
	t.Helper()
	g := lifecycle.NewGroup(s.log)
	g.Start(context.Background(), map[string]lifecycle.Worker{"journal": s.Journal()})
	t.Cleanup(func() {
		if err := g.Stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
}

// Item 2: a settled order issued again after Redis forgot it is its first answer replayed.
func TestSettledOrderIsReplayedAfterRedisLoss(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	first := f.issue(t, cash(7, 1, 88))
	if _, err := f.s.ForceSettle(ctx, f.live(t), 7); err != nil {
		t.Fatal(err)
	}
	f.rdb.FlushDB(ctx)
	again, err := f.s.Issue(ctx, cash(7, 1, 88))
	if err != nil || !again.Replayed || again.Token != first.Token || again.Status != StatusSettled {
		t.Fatalf("re-issue after the loss = %+v, %v; want the first token replayed, SETTLED", again, err)
	}
	_, err = f.s.Issue(ctx, cash(7, 1, 89))
	wantCode(t, err, errs.IdempotencyConflict)
	// The database's answer is remembered in Redis: the next replay needs only Redis.
	if st := f.rdb.HGet(ctx, orderKey(childID, 7, first.OrderNo), "st").Val(); st != "8" {
		t.Fatalf("record status %q after the replay, want 8", st)
	}
	if again := f.issue(t, cash(7, 1, 88)); !again.Replayed || again.Token != first.Token {
		t.Fatalf("second replay = %+v", again)
	}
	if st := f.stats(t); st.IssuedCount != 1 || st.IssuedAmount != 88 {
		t.Fatalf("stats = %+v, want the order counted once", st)
	}
	if b := f.wallet(t, 7); b.Settled != 88 || b.Pending != 0 {
		t.Fatalf("wallet = %+v, want 88 settled once", b)
	}
	if st := f.budget(t, "rain"); st.Issued != 88 {
		t.Fatalf("budget issued %d, want 88: a replay charges nothing", st.Issued)
	}
	f.checkLedger(t)
}

// Item 2, the order still pending when Redis lost it (flushed right after its
// acknowledgement, before any journal write): its first token comes back, PENDING.
func TestPendingOrderIsReplayedAfterRedisLoss(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	first := f.issue(t, cash(8, 1, 66))
	f.rdb.FlushDB(ctx)
	_, err := f.s.Issue(ctx, cash(8, 1, 67))
	wantCode(t, err, errs.IdempotencyConflict)
	again, err := f.s.Issue(ctx, cash(8, 1, 66))
	if err != nil || !again.Replayed || again.Token != first.Token || again.Status != StatusPending {
		t.Fatalf("re-issue after the loss = %+v, %v; want the first token replayed, PENDING", again, err)
	}
	if st := f.stats(t); st.IssuedCount != 1 {
		t.Fatalf("stats = %+v, want the order counted once", st)
	}
	// Restored to Redis, it settles as usual, once.
	res, err := f.s.ForceSettle(ctx, f.live(t), 8)
	if err != nil || res.Count != 1 || res.Amount != 66 {
		t.Fatalf("settle = %+v, %v", res, err)
	}
	if n := f.db.R.RewardOrder.Query().CountX(ctx); n != 1 {
		t.Fatalf("%d orders settled, want 1", n)
	}
	if tok := f.db.R.RewardOrder.Query().OnlyX(ctx).Token; tok != first.Token {
		t.Fatal("settled with another token than the one the client holds")
	}
	f.checkLedger(t)
}

// Item 2 across instances: one instance acknowledges, Redis is flushed at once, and another
// instance gets the retry. The recovery waits until the first one's journal holds the order.
func TestRetryOnAnotherInstanceAfterRedisLoss(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	other := f.other(t)
	runJournal(t, f.s)
	first := f.issue(t, cash(9, 1, 55))
	f.rdb.FlushDB(ctx)
	again, err := other.Issue(ctx, cash(9, 1, 55))
	if err != nil || !again.Replayed || again.Token != first.Token {
		t.Fatalf("retry on another instance = %+v, %v; want the first token replayed", again, err)
	}
	_, err = other.Issue(ctx, cash(9, 1, 56))
	wantCode(t, err, errs.IdempotencyConflict)
}

// Item 2, no data lost: an order settled more than OrderTTL ago has no Redis record any more;
// issued again (its activity still live), it is its first answer replayed.
func TestOrderOlderThanItsRecordIsReplayed(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.s.catalog.UpsertActivity(ctx, activity.ActivityInput{ID: childID, ParentID: parentID, Phase: "PRODUCTION",
		StartsAt: t0, EndsAt: t0.Add(60 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	first := f.issue(t, cash(10, 1, 77))
	if _, err := f.s.ForceSettle(ctx, f.live(t), 10); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(f.s.cfg.OrderTTL + time.Hour)
	// Redis counts the record's lifetime on its own clock: expire it the way Redis would.
	f.rdb.PExpire(ctx, orderKey(childID, 10, first.OrderNo), time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	if n := f.rdb.Exists(ctx, orderKey(childID, 10, first.OrderNo)).Val(); n != 0 {
		t.Fatal("the record did not expire")
	}
	again, err := f.s.Issue(ctx, cash(10, 1, 77))
	if err != nil || !again.Replayed || again.Token != first.Token || again.Status != StatusSettled {
		t.Fatalf("re-issue after the record expired = %+v, %v; want the first token replayed, SETTLED", again, err)
	}
	f.rdb.Del(ctx, orderKey(childID, 10, first.OrderNo))
	_, err = f.s.Issue(ctx, cash(10, 1, 78))
	wantCode(t, err, errs.IdempotencyConflict)
	if st := f.stats(t); st.IssuedCount != 1 {
		t.Fatalf("stats = %+v, want the order counted once", st)
	}
	// New orders of the long activity are still accepted (the database is asked first).
	if r := f.issue(t, cash(10, 2, 1)); r.Replayed {
		t.Fatalf("a new order = %+v", r)
	}
}

// Item 3: the scene's budget was fully issued, all of it pending, when Redis lost everything.
// The rebuilt counter counts the pending rewards (the journal has them): the scene does not
// issue its budget a second time, and the lost tokens handed back charge nothing more.
func TestBudgetIsNotIssuedTwiceAfterRedisLoss(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tightScene(t, "lossy", 1000) // 900 may be issued
	a := f.issue(t, tight(91, "lossy", 1, 500))
	b := f.issue(t, tight(92, "lossy", 1, 400))
	f.rdb.FlushDB(ctx) // right after the acknowledgements: nothing journaled by a worker yet
	_, err := f.s.Issue(ctx, tight(93, "lossy", 1, 400))
	wantCode(t, err, errs.BudgetExhausted)
	_, err = f.s.Issue(ctx, tight(93, "lossy", 1, 1))
	wantCode(t, err, errs.BudgetExhausted)
	if st := f.budget(t, "lossy"); st.Issued != 900 {
		t.Fatalf("rebuilt counter says %d issued, want 900", st.Issued)
	}
	for i, tok := range []string{a.Token, b.Token} {
		r, err := f.s.Redeem(ctx, tok, int64(91+i))
		if err != nil || r.Status != StatusPending {
			t.Fatalf("redeem lost token: %+v, %v", r, err)
		}
	}
	if st := f.budget(t, "lossy"); st.Issued != 900 {
		t.Fatalf("after redeeming the lost tokens the counter says %d issued, want 900", st.Issued)
	}
	for _, u := range []int64{91, 92, 93} {
		if _, err := f.s.ForceSettle(ctx, f.live(t), u); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.settledInScene(t, "lossy"); got != 900 {
		t.Fatalf("%d fen settled in the scene, want exactly its 900", got)
	}
	f.checkLedger(t)
}

// settledInScene sums the scene's settled orders.
func (f *fixture) settledInScene(t *testing.T, scene string) int64 {
	t.Helper()
	var rows []struct {
		Sum int64 `json:"sum"`
	}
	if err := f.db.R.RewardOrder.Query().Where(rewardorder.SceneID(scene)).Aggregate(ent.As(ent.Sum(rewardorder.FieldAmount), "sum")).Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return 0
	}
	return rows[0].Sum
}

// Item 3, the bounded risk: a reward its instance accepted and died with before writing its
// journal, while Redis lost its data, is known to nobody but the client. Its token handed back
// is charged to the budget then, past the limit if need be (it was promised), and the budget
// overspent by it is what reconciliation reports.
func TestRedeemedTokenTheDatabaseNeverKnewIsCharged(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tightScene(t, "lossy", 1000)
	dead := f.other(t)
	lost, err := dead.Issue(ctx, tight(94, "lossy", 1, 300)) // dead never writes its journal
	if err != nil {
		t.Fatal(err)
	}
	f.rdb.FlushDB(ctx)
	f.issue(t, tight(95, "lossy", 1, 900))
	if _, err := f.s.Redeem(ctx, lost.Token, 94); err != nil {
		t.Fatal(err)
	}
	if st := f.budget(t, "lossy"); st.Issued != 1200 {
		t.Fatalf("counter says %d issued, want 1,200: the token unknown to the database is charged", st.Issued)
	}
}

// Item 3 under load: two instances issue a scene's budget in small rewards while Redis is
// flushed twice mid-burst; every accepted token is handed back afterwards. The scene never
// pays more than its budget less reserve, and no accepted reward is lost. The second
// instance's database writes are slow (a quarter second each, 25 of its journal intervals):
// the recovery must wait for them, not for a timer.
func TestBudgetHoldsWhenRedisIsFlushedMidBurst(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tightScene(t, "burst", 3_000) // 2,700 may be issued: 270 rewards of 10
	other := f.other(t)
	other.beforeJournal = func() { time.Sleep(250 * time.Millisecond) }
	runJournal(t, f.s)
	runJournal(t, other)
	var mu sync.Mutex
	accepted := map[int64]string{} // act id → token
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := f.s
			if g%2 == 1 {
				svc = other
			}
			for {
				i := n.Add(1)
				if i > 500 {
					return
				}
				res, err := svc.Issue(ctx, tight(10_000+i, "burst", 1, 10))
				switch {
				case err == nil:
					mu.Lock()
					accepted[10_000+i] = res.Token
					mu.Unlock()
				case errs.Is(err, errs.BudgetExhausted):
				default:
					t.Errorf("issue: %v", err)
					return
				}
			}
		}()
	}
	for _, at := range []int64{100, 220} {
		for n.Load() < at {
			time.Sleep(time.Millisecond)
		}
		f.rdb.FlushDB(ctx)
	}
	wg.Wait()
	t.Logf("%d rewards of 10 accepted", len(accepted))
	if len(accepted) > 270 {
		t.Fatalf("%d rewards of 10 accepted, more than the 270 the budget allows", len(accepted))
	}
	for actID, tok := range accepted {
		if _, err := f.s.Redeem(ctx, tok, actID); err != nil {
			t.Fatalf("redeem: %v", err)
		}
		if _, err := f.s.ForceSettle(ctx, f.live(t), actID); err != nil {
			t.Fatal(err)
		}
	}
	got := f.settledInScene(t, "burst")
	if got > 2_700 || got != int64(10*len(accepted)) {
		t.Fatalf("%d fen settled for %d accepted rewards of 10; want each once and at most 2,700", got, len(accepted))
	}
	f.checkLedger(t)
}

// Item 4: a reader watches one wallet while rewards are issued and settled and Redis is flushed
// twice; the balance and cumulativeIncome never drop, and everything acknowledged settles.
func TestWalletNeverDropsWhenRedisLosesData(t *testing.T) {
	f := setup(t)
	stop := runWorker(f)
	defer stop()
	const writers, perWriter, amount = 4, 60, 7
	var started, acked atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				started.Add(amount)
				f.issue(t, cash(78, w*1000+i, amount))
				acked.Add(amount)
			}
		}()
	}
	readerErr := make(chan string, 1)
	quit := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var last Balance
		for {
			select {
			case <-quit:
				return
			default:
			}
			low := acked.Load()
			b, err := f.s.Wallet(context.Background(), f.live(t), 78)
			high := started.Load()
			var problem string
			switch {
			case err != nil:
				problem = err.Error()
			case b.Balance != b.Settled+b.Pending:
				problem = "balance != settled + pending"
			case b.Balance < low || b.Balance > high:
				problem = "balance outside [acknowledged, started]"
			case b.Balance < last.Balance:
				problem = "balance went down with only credits"
			case b.CumulativeIncome < last.CumulativeIncome:
				problem = "cumulativeIncome went down"
			}
			if problem != "" {
				readerErr <- problem
				return
			}
			last = b
		}
	}()
	for _, at := range []int64{60 * amount, 150 * amount} {
		for acked.Load() < at {
			time.Sleep(time.Millisecond)
		}
		f.rdb.FlushDB(context.Background())
	}
	wg.Wait()
	total := int64(writers * perWriter * amount)
	// Rewards Redis lost are settled from the journal by the sweeper once SweepAge old.
	f.clock.Add(2 * f.s.cfg.SweepAge)
	deadline := time.Now().Add(20 * time.Second)
	for f.wallet(t, 78).Settled != total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(quit)
	<-readerDone
	select {
	case e := <-readerErr:
		t.Fatal(e)
	default:
	}
	if b := f.wallet(t, 78); b.Settled != total || b.Pending != 0 || b.CumulativeIncome != total {
		t.Fatalf("after settling: %+v, want all %d settled", b, total)
	}
	f.checkLedger(t)
}

// Loss detection: the first start writes the markers vouching for everything; a loss is
// recorded, with the time from which Redis holds every record again.
func TestRedisLossIsDetectedAndRecorded(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, cash(11, 1, 5))
	ep := f.db.R.RedisEpoch.Query().AllX(ctx)
	if len(ep) != 1 || ep[0].Kind != redisepoch.KindSTART || ep[0].Slots != clusterSlots || ep[0].Since.UnixMilli() != 0 {
		t.Fatalf("epochs after the first issuance = %+v, want one START over every slot", ep)
	}
	f.rdb.FlushDB(ctx)
	f.clock.Add(time.Minute)
	f.issue(t, cash(11, 2, 5))
	ep = f.db.R.RedisEpoch.Query().Order(ent.Asc(redisepoch.FieldDetectedAt)).AllX(ctx)
	if len(ep) != 2 || ep[1].Kind != redisepoch.KindLOSS || !ep[1].Since.Equal(f.clock.Now()) || ep[1].Slots != clusterSlots {
		t.Fatalf("epochs after the loss = %+v, want a LOSS since now", ep)
	}
	if v := f.rdb.Get(ctx, accountMarker(childID, 11)).Val(); v != strconv.FormatInt(f.clock.Now().UnixMilli(), 10) {
		t.Fatalf("marker = %q", v)
	}
	// The journal holds both orders, the first one settled by nobody yet.
	if n := f.db.R.IssuedReward.Query().Where(issuedreward.ActID(11)).CountX(ctx); n != 1 {
		t.Fatalf("%d journaled orders, want the one accepted before the loss (the second waits for the worker)", n)
	}
}

// The journal write is idempotent (a retried write, a recovery and the worker racing) and marks
// the orders already settled.
func TestJournalWritesOnceAndMarksSettled(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, cash(12, 1, 5))
	f.issue(t, cash(12, 2, 6))
	if _, err := f.s.ForceSettle(ctx, f.live(t), 12); err != nil { // settled before journaled
		t.Fatal(err)
	}
	f.s.journal.mu.Lock()
	dup := append([]Order(nil), f.s.journal.buf...)
	f.s.journal.mu.Unlock()
	if err := f.s.flushJournal(ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range dup {
		f.s.journalAdd(o)
	}
	if err := f.s.flushJournal(ctx); err != nil {
		t.Fatal(err)
	}
	rows := f.db.R.IssuedReward.Query().AllX(ctx)
	if len(rows) != 2 || !rows[0].Settled || !rows[1].Settled {
		t.Fatalf("journal = %+v, want the two orders once, settled", rows)
	}
	if b := f.wallet(t, 12); b.Settled != 11 || b.Pending != 0 {
		t.Fatalf("wallet = %+v", b)
	}
}

// A full journal buffer (the database away too long) slows issuance down rather than let it
// accept rewards only Redis would know of.
func TestIssuanceWaitsForAJournalTooFarBehind(t *testing.T) {
	w := testworld.New(t, testworld.Options{RedisDB: testenv.DBWallet, Postgres: onPostgres})
	s := newService(t, w, Config{JournalBuffer: 2})
	f := &fixture{s: s, w: w, db: w.DB, rdb: w.Redis, clock: w.Clock, signer: w.Signer}
	f.issue(t, cash(13, 1, 5))
	f.issue(t, cash(13, 2, 5))
	_, err := s.Issue(context.Background(), cash(13, 3, 5))
	wantCode(t, err, errs.Degraded)
	if err := s.flushJournal(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.issue(t, cash(13, 3, 5))
}

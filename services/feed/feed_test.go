package feed

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/internal/testworld"
	"github.com/springwallet/wallet/internal/wallettest"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/wallet"
	"github.com/springwallet/wallet/services/withdraw"
)

// fixture is the feed wired into a test world as server.go wires it: the reward core is its
// Rewards, and withdrawals (through services/withdraw) and red-packet ledger rows (through
// services/ledger) give it the other two sources.
type fixture struct {
	w     *testworld.World
	core  *wallet.Service
	wd    *withdraw.Service
	s     *Service
	db    *store.DB
	clock *testworld.Clock
}

// onPostgres makes setup use a fresh PostgreSQL database instead of SQLite; TestOnPostgres
// sets it to run the scenarios that matter most for scale on the production database.
var onPostgres bool

func setup(t *testing.T) *fixture {
	t.Helper()
	w := testworld.New(t, testworld.Options{RedisDB: testenv.DBFeatures, Postgres: onPostgres})
	core := wallettest.Core(t, w)
	wd, err := withdraw.New(withdraw.Deps{DB: w.DB, Settler: core, Switches: w.Switches, Breakers: w.Breakers,
		Provider: withdraw.NewSimulatedProvider(w.DB, 0, 0, w.Clock.Now), Now: w.Clock.Now, Log: w.Log})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{w: w, core: core, wd: wd, s: newFeed(t, w, core), db: w.DB, clock: w.Clock}
}

// newFeed is the feed on w's parts with the given rewards.
func newFeed(t *testing.T, w *testworld.World, rewards Rewards) *Service {
	t.Helper()
	s, err := New(Deps{DB: w.DB, Rewards: rewards, Switches: w.Switches, Breakers: w.Breakers, Log: w.Log})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// live is the parent's phase live at the fixture's time.
func (f *fixture) live(t *testing.T) *activity.Live { return f.w.Live(t) }

func cash(actID int64, rain int, amount int64) wallet.IssueInput {
	return wallet.IssueInput{ActID: actID, AppID: 1, ActivityID: testworld.Parent, SceneID: testworld.CashScene, RainID: rain,
		AwardType: wallet.AwardCash, Amount: amount}
}

func (f *fixture) issue(t *testing.T, in wallet.IssueInput) *wallet.IssueResult {
	t.Helper()
	return wallettest.Issue(t, f.core, in)
}

func (f *fixture) forceSettle(t *testing.T, actID int64) wallet.SettleResult {
	t.Helper()
	res, err := f.core.ForceSettle(context.Background(), f.live(t), actID)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) wallet(t *testing.T, actID int64) wallet.Balance {
	t.Helper()
	return wallettest.Balance(t, f.w, f.core, actID)
}

func (f *fixture) withdraw(t *testing.T, actID, amount int64, requestID string) (*withdraw.Withdrawal, bool, error) {
	t.Helper()
	return f.wd.Withdraw(context.Background(), withdraw.Input{Live: f.live(t), ActID: actID, Amount: amount, RequestID: requestID})
}

// post appends one balanced ledger transaction at the fixture's current time.
func (f *fixture) post(t *testing.T, kind ledger.Kind, income bool, legs func(id string) []ledger.Leg) {
	t.Helper()
	ctx := context.Background()
	live := f.live(t)
	now := store.Time(f.clock.Now())
	id := store.NewID(strings.ToLower(string(kind))+":", now)
	err := f.db.WriteTx(ctx, func(tx *ent.Tx) error {
		return ledger.Post(ctx, tx, ledger.Txn{ID: id, ActivityID: live.ID, Kind: kind, Ref: id, At: now, Income: income, Legs: legs(id)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fund credits a user's settled balance through a balanced ledger transaction, as a settled
// reward would, without the reward's per-transaction limit and without being a feed item (a
// REWARD ledger transaction that is no reward order).
func (f *fixture) fund(t *testing.T, actID, amount int64) {
	t.Helper()
	f.post(t, ledger.KindReward, true, func(string) []ledger.Leg {
		return []ledger.Leg{ledger.System(ledger.BudgetAccount(testworld.CashScene), -amount), ledger.User(actID, amount)}
	})
}

// feedPostRP records red-packet flow on a user's account the way the red-packet code posts
// it (a user leg and an escrow leg), at the fixture's current time.
func (f *fixture) feedPostRP(t *testing.T, actID int64, kind ledger.Kind, amount int64) {
	t.Helper()
	f.post(t, kind, kind == ledger.KindRedPacketGrab, func(id string) []ledger.Leg {
		return []ledger.Leg{ledger.User(actID, amount), ledger.System(ledger.RedPacketAccount(id), -amount)}
	})
}

// settleInDatabaseOnly writes actID's pending rewards to the database the way a settlement's
// commit does (the reward orders and their ledger transactions) and stops there, as a crash
// between the commit and the Redis cleanup would: the rewards are settled in the database and
// still pending in Redis.
func (f *fixture) settleInDatabaseOnly(t *testing.T, actID int64) {
	t.Helper()
	ctx := context.Background()
	live := f.live(t)
	pending, err := f.core.Pending(ctx, live, actID)
	if err != nil {
		t.Fatal(err)
	}
	done, err := f.core.SettledAmong(ctx, live, pending)
	if err != nil {
		t.Fatal(err)
	}
	now := store.Time(f.clock.Now())
	err = f.db.WriteTx(ctx, func(tx *ent.Tx) error {
		for _, o := range pending {
			if done[o.OrderNo] || !o.IsCash() {
				continue
			}
			if err := tx.RewardOrder.Create().SetActivityID(o.ActivityID).SetOrderNo(o.OrderNo).SetActID(o.ActID).
				SetAppID(o.AppID).SetSceneID(o.SceneID).SetRainID(o.RainID).SetAwardType(o.AwardType).SetStage(o.Stage).
				SetAmount(o.Amount).SetToken(o.Token).SetIssuedAt(o.IssuedAt()).SetSettledAt(now).Exec(ctx); err != nil {
				return err
			}
			if err := ledger.Post(ctx, tx, ledger.Txn{ID: wallet.RewardTxnID(o.ActivityID, o.OrderNo), ActivityID: o.ActivityID,
				Kind: ledger.KindReward, Ref: o.OrderNo, At: now, Income: true,
				Legs: []ledger.Leg{ledger.System(ledger.BudgetAccount(o.SceneID), -o.Amount), ledger.User(o.ActID, o.Amount)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) feed(t *testing.T, actID int64, first int, after string) *Page {
	t.Helper()
	p, err := f.s.Page(context.Background(), f.live(t), actID, first, after)
	if err != nil {
		t.Fatalf("feed: %v", err)
	}
	return p
}

// walk pages through the whole feed and returns every item in order.
func (f *fixture) walk(t *testing.T, actID int64, first int) []Item {
	t.Helper()
	var all []Item
	after := ""
	for range 10_000 {
		p := f.feed(t, actID, first, after)
		if len(p.Degraded) != 0 {
			t.Fatalf("degraded sources %v", p.Degraded)
		}
		all = append(all, p.Items...)
		if !p.HasNext {
			return all
		}
		after = p.Cursors[len(p.Cursors)-1]
	}
	t.Fatal("the feed never ended")
	return nil
}

// wantCode fails the test unless err carries code.
var wantCode = testworld.WantCode

// stubRewards is a Rewards that is never asked anything.
type stubRewards struct{}

func (stubRewards) Pending(context.Context, *activity.Live, int64) ([]wallet.Order, error) {
	return nil, nil
}

func (stubRewards) SettledAmong(context.Context, *activity.Live, []wallet.Order) (map[string]bool, error) {
	return nil, nil
}

// TestNewRequiresEveryDependency leaves out each dependency in turn (every field of Deps but
// the optional SourceTimeout, found by reflection so a new one is covered too) and wants an
// error naming it.
func TestNewRequiresEveryDependency(t *testing.T) {
	full := Deps{DB: &store.DB{}, Rewards: stubRewards{}, Switches: switches.AllOn(),
		Breakers: breaker.NewRegistry(prometheus.NewRegistry()), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := New(full)
	if err != nil || s == nil {
		t.Fatalf("New with every dependency = %v, %v", s, err)
	}
	if s.timeout != DefaultSourceTimeout {
		t.Fatalf("source timeout %s with none given, want the default %s", s.timeout, DefaultSourceTimeout)
	}
	full.SourceTimeout = time.Second
	if s, err := New(full); err != nil || s.timeout != time.Second {
		t.Fatalf("New with a source timeout = %v, %v; want it kept", s, err)
	}
	typ := reflect.TypeFor[Deps]()
	required := 0
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if name == "SourceTimeout" {
			continue
		}
		required++
		t.Run(name, func(t *testing.T) {
			d := full
			reflect.ValueOf(&d).Elem().Field(i).SetZero()
			s, err := New(d)
			if err == nil || s != nil {
				t.Fatalf("New without %s = %v, %v; want an error", name, s, err)
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("New without %s: %q does not name it", name, err)
			}
		})
	}
	if required != 5 {
		t.Fatalf("%d required dependencies, want 5 (DB, Rewards, Switches, Breakers, Log)", required)
	}
}

func TestFeedMergesSourcesNewestFirst(t *testing.T) {
	f := setup(t)
	f.issue(t, cash(31, 1, 1000)) // t0
	f.forceSettle(t, 31)
	f.clock.Add(time.Second)
	w, _, err := f.withdraw(t, 31, 300, "w1") // t0+1s
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Second)
	f.feedPostRP(t, 31, ledger.KindRedPacketSent, -200) // t0+2s
	f.clock.Add(time.Second)
	f.feedPostRP(t, 31, ledger.KindRedPacketGrab, 50) // t0+3s
	f.clock.Add(time.Second)
	f.feedPostRP(t, 31, ledger.KindRedPacketRefund, 20) // t0+4s
	f.clock.Add(time.Second)
	f.issue(t, cash(31, 2, 77)) // t0+5s, pending
	p := f.feed(t, 31, 10, "")
	want := []struct {
		kind, status string
		amount       int64
	}{
		{ItemReward, wallet.StatusPending, 77},
		{string(ledger.KindRedPacketRefund), wallet.StatusSettled, 20},
		{string(ledger.KindRedPacketGrab), wallet.StatusSettled, 50},
		{string(ledger.KindRedPacketSent), wallet.StatusSettled, -200},
		{ItemWithdrawal, withdraw.Processing, -300},
		{ItemReward, wallet.StatusSettled, 1000},
	}
	if len(p.Items) != len(want) || p.HasNext || len(p.Degraded) != 0 {
		t.Fatalf("feed = %+v", p)
	}
	for i, w := range want {
		got := p.Items[i]
		if got.Kind != w.kind || got.Status != w.status || got.Amount != w.amount {
			t.Errorf("item %d = %+v, want %s %s %d", i, got, w.kind, w.status, w.amount)
		}
	}
	if p.Items[4].ID != prefixWithdrawal+w.ID {
		t.Errorf("withdrawal item id %s, want it to name withdrawal %s", p.Items[4].ID, w.ID)
	}
	// The signed amounts add up to the balance.
	var sum int64
	for _, it := range p.Items {
		sum += it.Amount
	}
	if b := f.wallet(t, 31); b.Balance != sum {
		t.Fatalf("feed amounts sum to %d, balance is %d", sum, b.Balance)
	}
	f.w.CheckLedger(t)
}

func TestPendingRewardKeepsItsIDAndPlaceWhenSettled(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, cash(32, 1, 10))
	f.clock.Add(time.Millisecond)
	f.issue(t, cash(32, 2, 20))
	before := f.feed(t, 32, 10, "")
	f.forceSettle(t, 32)
	after := f.feed(t, 32, 10, "")
	if len(before.Items) != 2 || len(after.Items) != 2 {
		t.Fatalf("before %+v after %+v", before.Items, after.Items)
	}
	for i := range before.Items {
		b, a := before.Items[i], after.Items[i]
		if b.Status != wallet.StatusPending || a.Status != wallet.StatusSettled || a.ID != b.ID || !a.OccurredAt.Equal(b.OccurredAt) || before.Cursors[i] != after.Cursors[i] {
			t.Fatalf("item %d before %+v after %+v: want the same id, time and cursor, PENDING then SETTLED", i, b, a)
		}
	}
	// In the window between commit and cleanup the item shows once, as settled. The window is
	// made by settling in the database only, as a crash right after the commit leaves it.
	f.issue(t, cash(32, 3, 30))
	f.settleInDatabaseOnly(t, 32)
	if pending, err := f.core.Pending(ctx, f.live(t), 32); err != nil || len(pending) != 1 || pending[0].Amount != 30 {
		t.Fatalf("pending in redis = %+v, %v; want the settled reward still listed (the crash window)", pending, err)
	}
	p := f.feed(t, 32, 10, "")
	if len(p.Items) != 3 || p.Items[0].Status != wallet.StatusSettled || p.Items[0].Amount != 30 {
		t.Fatalf("feed in the crash window = %+v", p.Items)
	}
	// The next settlement only cleans up; the feed does not change.
	if res := f.forceSettle(t, 32); res.Count != 0 {
		t.Fatalf("settlement after the window = %+v, want nothing new written", res)
	}
	if again := f.feed(t, 32, 10, ""); !reflect.DeepEqual(again.Items, p.Items) || !reflect.DeepEqual(again.Cursors, p.Cursors) {
		t.Fatalf("feed after cleanup = %+v, want %+v", again.Items, p.Items)
	}
	if b := f.wallet(t, 32); b.Settled != 60 || b.Pending != 0 {
		t.Fatalf("wallet = %+v, want 60 settled once", b)
	}
	f.w.CheckLedger(t)
}

// settlingRewards is the reward core with a settlement committing between the feed's read of
// the settled rewards and its check of which pending ones are settled.
type settlingRewards struct {
	*wallet.Service
	settle func()
}

func (r settlingRewards) SettledAmong(ctx context.Context, live *activity.Live, pending []wallet.Order) (map[string]bool, error) {
	r.settle()
	return r.Service.SettledAmong(ctx, live, pending)
}

// TestRewardSettledDuringAPageShowsAsSettled: a reward read as pending whose settlement
// commits after the feed read the settled rewards (so that read missed it) is shown once, as
// settled: the feed asks the reward core which pending entries are in the database already.
func TestRewardSettledDuringAPageShowsAsSettled(t *testing.T) {
	f := setup(t)
	f.issue(t, cash(36, 1, 40))
	s := newFeed(t, f.w, settlingRewards{f.core, func() { f.settleInDatabaseOnly(t, 36) }})
	p, err := s.Page(context.Background(), f.live(t), 36, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 || p.Items[0].Status != wallet.StatusSettled || p.Items[0].Amount != 40 {
		t.Fatalf("feed = %+v, want the reward once, as settled", p.Items)
	}
}

// buildMixedFeed gives account 33 n items from all three sources, many sharing a timestamp.
func buildMixedFeed(t *testing.T, f *fixture, n int) {
	t.Helper()
	f.fund(t, 33, 1_000_000)
	for i := 0; i < n; i++ {
		if i%4 == 0 {
			f.clock.Add(time.Millisecond) // groups of four share an instant
		}
		switch i % 3 {
		case 0:
			f.issue(t, cash(33, i, 5))
			if i%2 == 0 {
				f.forceSettle(t, 33)
			}
		case 1:
			if _, _, err := f.withdraw(t, 33, 10, fmt.Sprint("w", i)); err != nil {
				t.Fatal(err)
			}
		case 2:
			f.feedPostRP(t, 33, ledger.KindRedPacketGrab, 3)
		}
	}
}

func checkOrderedOnce(t *testing.T, items []Item) {
	t.Helper()
	seen := map[string]bool{}
	for i, it := range items {
		if seen[it.ID] {
			t.Fatalf("item %s appears twice", it.ID)
		}
		seen[it.ID] = true
		if i > 0 && !itemKey(it).before(itemKey(items[i-1])) {
			t.Fatalf("item %d (%s at %s) is not older than item %d (%s at %s)", i, it.ID, it.OccurredAt, i-1, items[i-1].ID, items[i-1].OccurredAt)
		}
	}
}

func TestFeedFullWalkWithSmallPages(t *testing.T) {
	f := setup(t)
	const n = 90
	buildMixedFeed(t, f, n)
	// The fund transaction is not a feed item; every other one is, exactly once.
	whole := f.feed(t, 33, 100, "")
	if len(whole.Items) != n {
		t.Fatalf("%d items in one page, want %d", len(whole.Items), n)
	}
	for _, size := range []int{1, 4, 7, 89, 90} {
		t.Run(fmt.Sprint("first=", size), func(t *testing.T) {
			items := f.walk(t, 33, size)
			if len(items) != n {
				t.Fatalf("walked %d items, want %d", len(items), n)
			}
			checkOrderedOnce(t, items)
			for i := range items {
				if items[i].ID != whole.Items[i].ID {
					t.Fatalf("item %d is %s walking by %d, %s in one page", i, items[i].ID, size, whole.Items[i].ID)
				}
			}
		})
	}
}

func TestFeedCursorStableAcrossInserts(t *testing.T) {
	f := setup(t)
	buildMixedFeed(t, f, 40)
	want := f.walk(t, 33, 100)
	first := f.feed(t, 33, 15, "")
	// New items of every source arrive while the user is on page one.
	f.clock.Add(time.Second)
	f.issue(t, cash(33, 9999, 5))
	if _, _, err := f.withdraw(t, 33, 10, "late"); err != nil {
		t.Fatal(err)
	}
	f.feedPostRP(t, 33, ledger.KindRedPacketGrab, 3)
	got := first.Items
	after := first.Cursors[len(first.Cursors)-1]
	for {
		p := f.feed(t, 33, 15, after)
		got = append(got, p.Items...)
		if !p.HasNext {
			break
		}
		after = p.Cursors[len(p.Cursors)-1]
	}
	if len(got) != len(want) {
		t.Fatalf("walked %d items, want the original %d (new ones must not shift later pages)", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("item %d is %s, want %s", i, got[i].ID, want[i].ID)
		}
	}
	if top := f.feed(t, 33, 3, ""); len(top.Items) != 3 || top.Items[0].OccurredAt.Before(first.Items[0].OccurredAt) {
		t.Fatalf("the new items are not at the top: %+v", top.Items)
	}
}

func TestFeedDegradesEachSource(t *testing.T) {
	f := setup(t)
	f.fund(t, 34, 1000)
	f.issue(t, cash(34, 1, 10))
	if _, _, err := f.withdraw(t, 34, 100, "w"); err != nil {
		t.Fatal(err)
	}
	f.feedPostRP(t, 34, ledger.KindRedPacketGrab, 7)
	kinds := map[string]string{SourceSettlement: ItemReward, SourceWithdrawal: ItemWithdrawal, SourceRedPacket: string(ledger.KindRedPacketGrab)}
	for source, sw := range sourceSwitches {
		t.Run(source, func(t *testing.T) {
			f.w.Switches.Only(sw)
			defer f.w.Switches.Only()
			p := f.feed(t, 34, 10, "")
			if len(p.Degraded) != 1 || p.Degraded[0] != source {
				t.Fatalf("degraded = %v, want [%s]", p.Degraded, source)
			}
			if len(p.Items) != 2 {
				t.Fatalf("%d items, want the other two sources' items", len(p.Items))
			}
			for _, it := range p.Items {
				if it.Kind == kinds[source] {
					t.Fatalf("item %+v of a switched-off source", it)
				}
			}
		})
	}
	t.Run("redis unreachable", func(t *testing.T) {
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
		defer dead.Close()
		// The same world but for Redis, with breakers of its own, as another instance would.
		w := *f.w
		w.Redis = dead
		w.Breakers = breaker.NewRegistry(prometheus.NewRegistry())
		broken := newFeed(t, &w, wallettest.Core(t, &w))
		p, err := broken.Page(context.Background(), f.live(t), 34, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Degraded) != 1 || p.Degraded[0] != SourceSettlement || len(p.Items) != 2 {
			t.Fatalf("feed without redis = %+v, want rewards degraded and the rest served", p)
		}
	})
}

func TestFeedRefusesBadPagingInput(t *testing.T) {
	f := setup(t)
	for _, first := range []int{0, -1, 101} {
		_, err := f.s.Page(context.Background(), f.live(t), 35, first, "")
		wantCode(t, err, errs.BadUserInput)
	}
	for _, cur := range []string{"garbage", "eyJ0IjoxfQ", "e30", strings.Repeat("A", 40), feedKey{at: 1, id: "x:1"}.encode()} {
		_, err := f.s.Page(context.Background(), f.live(t), 35, 10, cur)
		wantCode(t, err, errs.BadUserInput)
	}
}

// TestFeedPendingSwitchDoesWhatItSays is the feed.pending case of the switch-effects test:
// with the switch off the feed reads the database only, so a reward still pending in Redis is
// not listed; with every switch on it is.
func TestFeedPendingSwitchDoesWhatItSays(t *testing.T) {
	f := setup(t)
	t.Run(string(switches.FeedPending), func(t *testing.T) {
		f.w.Switches.Only(switches.FeedPending)
		defer f.w.Switches.Only()
		f.issue(t, cash(43, 1, 5))
		p := f.feed(t, 43, 10, "")
		if len(p.Items) != 0 {
			t.Fatalf("feed shows %d items, want none: the only one is pending", len(p.Items))
		}
		if len(p.Degraded) != 0 {
			t.Fatalf("degraded = %v, want none: settled rewards are still served", p.Degraded)
		}
	})
	// With every switch on, the same feed shows the pending reward.
	if p := f.feed(t, 43, 10, ""); len(p.Items) != 1 || p.Items[0].Status != wallet.StatusPending || p.Items[0].Amount != 5 {
		t.Fatalf("feed with every switch on = %+v, want the pending reward", p.Items)
	}
}

// TestOnPostgres runs the feed scenarios that matter most for scale again on PostgreSQL, the
// production database: keyset pages over many rows sharing a timestamp, cursors under
// concurrent inserts, and a reward keeping its place as it settles.
func TestOnPostgres(t *testing.T) {
	onPostgres = true
	defer func() { onPostgres = false }()
	for name, test := range map[string]func(*testing.T){
		"FeedFullWalkWithSmallPages":    TestFeedFullWalkWithSmallPages,
		"FeedCursorStableAcrossInserts": TestFeedCursorStableAcrossInserts,
		"PendingRewardKeepsItsPlace":    TestPendingRewardKeepsItsIDAndPlaceWhenSettled,
	} {
		t.Run(name, test)
	}
}

package wallet

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/internal/testworld"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/luascript"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/token"
)

type fixture struct {
	s      *Service
	w      *testworld.World
	db     *store.DB
	rdb    redis.UniversalClient
	clock  *testworld.Clock
	signer *token.Signer
}

var t0 = testworld.T0

const (
	parentID = testworld.Parent
	childID  = testworld.Child
)

// onPostgres makes setup use a fresh PostgreSQL database instead of SQLite; TestOnPostgres
// sets it to run the scenarios that matter most for scale on the production database.
var onPostgres bool

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, testworld.New(t, testworld.Options{RedisDB: testenv.DBWallet, Postgres: onPostgres}))
}

// setupWith wires the reward core into w, as server.go does, with short settlement timings.
func setupWith(t *testing.T, w *testworld.World) *fixture {
	t.Helper()
	s := newService(t, w, Config{Shards: 2, BatchSize: 64, ClaimIdle: 300 * time.Millisecond, SweepAge: time.Second,
		JournalInterval: 10 * time.Millisecond})
	return &fixture{s: s, w: w, db: w.DB, rdb: w.Redis, clock: w.Clock, signer: w.Signer}
}

func newService(t testing.TB, w *testworld.World, cfg Config) *Service {
	t.Helper()
	s, err := New(Deps{DB: w.DB, Redis: w.Redis, Catalog: w.Catalog, Signer: w.Signer, Switches: w.Switches, Counter: w.Counter,
		Scenes: NoSceneLimits{}, Now: w.Clock.Now, Log: w.Log, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// live is the parent's phase live at the fixture's time.
func (f *fixture) live(t *testing.T) *activity.Live { return f.w.Live(t) }

func cash(actID int64, rain int, amount int64) IssueInput {
	return IssueInput{ActID: actID, AppID: 1, ActivityID: parentID, SceneID: "rain", RainID: rain, AwardType: AwardCash, Amount: amount}
}

func (f *fixture) issue(t *testing.T, in IssueInput) *IssueResult {
	t.Helper()
	res, err := f.s.Issue(context.Background(), in)
	if err != nil {
		t.Fatalf("issue %+v: %v", in, err)
	}
	return res
}

func (f *fixture) wallet(t *testing.T, actID int64) Balance {
	t.Helper()
	b, err := f.s.Wallet(context.Background(), f.live(t), actID)
	if err != nil {
		t.Fatalf("wallet: %v", err)
	}
	if b.Balance != b.Settled+b.Pending {
		t.Fatalf("balance %d != settled %d + pending %d", b.Balance, b.Settled, b.Pending)
	}
	return b
}

// checkLedger asserts the ledger's invariants (testworld.World.CheckLedger).
func (f *fixture) checkLedger(t *testing.T) { t.Helper(); f.w.CheckLedger(t) }

// wantCode fails the test unless err carries code.
var wantCode = testworld.WantCode

func TestIssueReplayAndConflict(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	first := f.issue(t, cash(7, 1, 88))
	if first.Replayed || first.Status != StatusPending || first.Token == "" || first.OrderNo != "7_rain_1_CASH_0" {
		t.Fatalf("first issue = %+v", first)
	}
	if first.Activity.ID != childID {
		t.Fatalf("issued under %s, want the live child %s", first.Activity.ID, childID)
	}
	f.clock.Add(time.Second) // a replay must not re-sign (OpenTime would change)
	again := f.issue(t, cash(7, 1, 88))
	if !again.Replayed || again.Token != first.Token || again.OrderNo != first.OrderNo || again.Status != StatusPending {
		t.Fatalf("replay = %+v, want the first answer replayed", again)
	}
	conflict := cash(7, 1, 89)
	_, err := f.s.Issue(ctx, conflict)
	wantCode(t, err, errs.IdempotencyConflict)
	otherApp := cash(7, 1, 88)
	otherApp.AppID = 2
	_, err = f.s.Issue(ctx, otherApp)
	wantCode(t, err, errs.IdempotencyConflict)

	if b := f.wallet(t, 7); b.Pending != 88 || b.Settled != 0 {
		t.Fatalf("wallet before settlement = %+v, want 88 pending", b)
	}
	res, err := f.s.ForceSettle(ctx, f.live(t), 7)
	if err != nil || res.Count != 1 || res.Amount != 88 {
		t.Fatalf("force settle = %+v, %v; want 1 order of 88", res, err)
	}
	settled := f.issue(t, cash(7, 1, 88))
	if !settled.Replayed || settled.Status != StatusSettled || settled.Token != first.Token {
		t.Fatalf("replay after settlement = %+v, want SETTLED with the first token", settled)
	}
	if b := f.wallet(t, 7); b.Settled != 88 || b.Pending != 0 || b.CumulativeIncome != 88 {
		t.Fatalf("wallet after settlement = %+v", b)
	}
	f.checkLedger(t)
}

func TestConcurrentDuplicatesIssueOnce(t *testing.T) {
	f := setup(t)
	const n = 200
	var wg sync.WaitGroup
	results := make([]*IssueResult, n)
	errsOut := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errsOut[i] = f.s.Issue(context.Background(), cash(42, 3, 500))
		}()
	}
	close(start)
	wg.Wait()
	fresh := 0
	for i := range n {
		if errsOut[i] != nil {
			t.Fatalf("issue %d: %v", i, errsOut[i])
		}
		if !results[i].Replayed {
			fresh++
		}
		if results[i].Token != results[0].Token {
			t.Fatalf("duplicate %d got another token", i)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d of %d duplicates were accepted as new, want exactly 1", fresh, n)
	}
	if _, err := f.s.ForceSettle(context.Background(), f.live(t), 42); err != nil {
		t.Fatal(err)
	}
	if b := f.wallet(t, 42); b.Balance != 500 || b.Settled != 500 {
		t.Fatalf("wallet = %+v, want 500 settled once", b)
	}
	if n, _ := f.db.R.RewardOrder.Query().Count(context.Background()); n != 1 {
		t.Fatalf("%d reward orders, want 1", n)
	}
	f.checkLedger(t)
}

func TestTokenVerifiesWithPublishedKey(t *testing.T) {
	f := setup(t)
	res := f.issue(t, cash(9, 4, 1234))
	// Verify with nothing but the JWKS, as a client or another service would.
	jwks := f.signer.JWKS()["keys"][0]
	if jwks.Kty != "OKP" || jwks.Crv != "Ed25519" {
		t.Fatalf("jwks key = %+v", jwks)
	}
	pub, err := base64.RawURLEncoding.DecodeString(jwks.X)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse(res.Token, func(tk *jwt.Token) (any, error) { return ed25519.PublicKey(pub), nil }, jwt.WithValidMethods([]string{"EdDSA"}))
	if err != nil {
		t.Fatalf("token does not verify with the published key: %v", err)
	}
	if parsed.Header["kid"] != jwks.Kid {
		t.Fatalf("kid %v, want %s", parsed.Header["kid"], jwks.Kid)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(res.Token, ".")[1])
	var got map[string]any
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"AppID": 1.0, "ActID": 9.0, "ActivityID": childID, "SceneID": "rain", "Amount": 1234.0,
		"OutTradeNo": "9_rain_4_CASH_0", "OpenTime": float64(t0.Unix()), "RainID": 4.0, "Status": 1.0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("payload %s = %v (%T), want %v", k, got[k], got[k], v)
		}
	}
	// A tampered payload fails verification.
	parts := strings.Split(res.Token, ".")
	forged := strings.Replace(string(payload), `"Amount":1234`, `"Amount":999999`, 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	if _, err := f.signer.Verify(strings.Join(parts, ".")); err == nil {
		t.Fatal("a tampered token verified")
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	mod := func(fn func(*IssueInput)) IssueInput { in := cash(5, 1, 100); fn(&in); return in }
	cases := []struct {
		name string
		in   IssueInput
		want errs.Code
	}{
		{"zero amount", mod(func(i *IssueInput) { i.Amount = 0 }), errs.BadUserInput},
		{"negative amount", mod(func(i *IssueInput) { i.Amount = -100 }), errs.BadUserInput},
		{"scene id with _", mod(func(i *IssueInput) { i.SceneID = "ra_in" }), errs.BadUserInput},
		{"activity id with _", mod(func(i *IssueInput) { i.ActivityID = "cny_prod" }), errs.BadUserInput},
		{"unknown scene", mod(func(i *IssueInput) { i.SceneID = "nope" }), errs.NotFound},
		{"unknown activity", mod(func(i *IssueInput) { i.ActivityID = "nope" }), errs.NotFound},
		{"app 0", mod(func(i *IssueInput) { i.AppID = 0 }), errs.BadUserInput},
		{"app 9", mod(func(i *IssueInput) { i.AppID = 9 }), errs.BadUserInput},
		{"act 0", mod(func(i *IssueInput) { i.ActID = 0 }), errs.BadUserInput},
		{"negative rain", mod(func(i *IssueInput) { i.RainID = -1 }), errs.BadUserInput},
		{"unknown award type", mod(func(i *IssueInput) { i.AwardType = "GOLD" }), errs.BadUserInput},
		{"award type not the scene's", mod(func(i *IssueInput) { i.AwardType = AwardCoupon }), errs.BadUserInput},
		{"over per-transaction limit", mod(func(i *IssueInput) { i.Amount = 10_001 }), errs.LimitExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.s.Issue(ctx, tc.in)
			wantCode(t, err, tc.want)
			if n := f.rdb.DBSize(ctx).Val(); n != 0 {
				t.Fatalf("a refused issuance left %d keys in redis", n)
			}
		})
	}
	t.Run("closed activity", func(t *testing.T) {
		f.clock.Add(48 * time.Hour)
		defer f.clock.Add(-48 * time.Hour)
		_, err := f.s.Issue(ctx, cash(5, 1, 100))
		wantCode(t, err, errs.ActivityClosed)
	})
	// The limit is inclusive: exactly the per-transaction limit is fine.
	f.issue(t, mod(func(i *IssueInput) { i.Amount = 10_000 }))
}

func TestBalanceConsistentUnderConcurrentIssuanceAndSettlement(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	worker := f.s.Settler()
	worker.block = 50 * time.Millisecond
	done := make(chan struct{})
	go func() { _ = worker.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	const writers, perWriter, amount = 8, 40, 7
	var started, acked atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				started.Add(amount)
				f.issue(t, cash(77, w*1000+i, amount))
				acked.Add(amount)
			}
		}()
	}
	stop := make(chan struct{})
	var readerErr atomic.Value
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var last int64
		for {
			select {
			case <-stop:
				return
			default:
			}
			low := acked.Load()
			b, err := f.s.Wallet(context.Background(), f.live(t), 77)
			high := started.Load()
			switch {
			case err != nil:
				readerErr.Store(err.Error())
				return
			case b.Balance != b.Settled+b.Pending:
				readerErr.Store("balance != settled + pending")
				return
			case b.Balance < low || b.Balance > high:
				// Below what was acknowledged: a reward was lost; above what was started: one
				// was counted twice (settled and still pending).
				readerErr.Store("balance outside [acknowledged, started]")
				return
			case b.Balance < last:
				readerErr.Store("balance went down with only credits")
				return
			}
			last = b.Balance
		}
	}()
	wg.Wait()
	total := int64(writers * perWriter * amount)
	deadline := time.Now().Add(10 * time.Second)
	for f.wallet(t, 77).Settled != total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	<-readerDone
	if e := readerErr.Load(); e != nil {
		t.Fatal(e)
	}
	if b := f.wallet(t, 77); b.Settled != total || b.Pending != 0 {
		t.Fatalf("after settling: %+v, want all %d settled", b, total)
	}
	f.checkLedger(t)
}

var errCrash = errors.New("injected crash")

func TestCrashBetweenCommitAndCleanup(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, cash(11, 1, 300))
	f.issue(t, cash(11, 2, 200))
	f.s.afterCommit = func() error { return errCrash }
	if _, err := f.s.ForceSettle(ctx, f.live(t), 11); !errors.Is(err, errCrash) {
		t.Fatalf("force settle: %v, want the injected crash", err)
	}
	// The window: the database has both orders, Redis still lists them as pending.
	if n := f.rdb.HLen(ctx, pendingKey(childID, 11)).Val(); n != 2 {
		t.Fatalf("%d pending entries left in redis, want 2 (the crash was before cleanup)", n)
	}
	if b := f.wallet(t, 11); b.Balance != 500 || b.Settled != 500 || b.Pending != 0 {
		t.Fatalf("wallet in the crash window = %+v, want 500 counted once, as settled", b)
	}
	f.s.afterCommit = nil
	res, err := f.s.ForceSettle(ctx, f.live(t), 11)
	if err != nil || res.Count != 0 {
		t.Fatalf("second settle = %+v, %v; want nothing new written", res, err)
	}
	if n := f.rdb.HLen(ctx, pendingKey(childID, 11)).Val(); n != 0 {
		t.Fatalf("%d pending entries after recovery", n)
	}
	if st := f.rdb.HGet(ctx, orderKey(childID, 11, "11_rain_1_CASH_0"), "st").Val(); st != "8" {
		t.Fatalf("token status %s after settlement, want 8", st)
	}
	if b := f.wallet(t, 11); b.Balance != 500 || b.Settled != 500 {
		t.Fatalf("wallet after recovery = %+v", b)
	}
	if n, _ := f.db.R.LedgerEntry.Query().Where(ledgerentry.ActID(11)).Count(ctx); n != 2 {
		t.Fatalf("%d user ledger legs, want 2 (one per reward)", n)
	}
	f.checkLedger(t)
}

// runWorker starts the settlement worker and the sweeper and returns a function that stops
// them and waits.
func runWorker(f *fixture) func() {
	ctx, cancel := context.WithCancel(context.Background())
	w := f.s.Settler()
	w.block = 50 * time.Millisecond
	g := lifecycle.NewGroup(f.s.log)
	g.Start(ctx, map[string]lifecycle.Worker{"settler": w, "sweeper": f.s.Sweeper(), "journal": f.s.Journal()})
	return func() {
		cancel()
		if err := g.Stop(10 * time.Second); err != nil {
			panic(err)
		}
	}
}

func (f *fixture) waitSettled(t *testing.T, actID, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b := f.wallet(t, actID); b.Settled == want && b.Pending == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("wallet = %+v, want %d settled", f.wallet(t, actID), want)
}

func TestWorkerCrashAfterCommitIsReclaimed(t *testing.T) {
	f := setup(t)
	var crashes atomic.Int32
	f.s.afterCommit = func() error {
		if crashes.Add(1) == 1 {
			return errCrash
		}
		return nil
	}
	stop := runWorker(f)
	defer stop()
	f.issue(t, cash(12, 1, 450))
	// The first batch commits and "crashes" without acknowledging; after ClaimIdle the job is
	// claimed again, finds the order settled, and only cleans up.
	f.waitSettled(t, 12, 450)
	deadline := time.Now().Add(5 * time.Second)
	for f.rdb.Exists(context.Background(), pendingKey(childID, 12)).Val() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if crashes.Load() < 2 {
		t.Fatalf("the job ran %d times, want it retried after the crash", crashes.Load())
	}
	f.checkLedger(t)
	if n, _ := f.db.R.RewardOrder.Query().Count(context.Background()); n != 1 {
		t.Fatalf("%d orders settled, want 1", n)
	}
}

func TestDeadConsumersJobsAreReclaimed(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, cash(13, 1, 600))
	stream := streamKey(shardOf(childID, 13, f.s.cfg.Shards))
	if err := f.rdb.XGroupCreateMkStream(ctx, stream, consumerGroup, "0").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		t.Fatal(err)
	}
	// A consumer reads the job and dies before acknowledging it.
	got, err := f.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: consumerGroup, Consumer: "dead", Streams: []string{stream, ">"}, Count: 10}).Result()
	if err != nil || len(got[0].Messages) != 1 {
		t.Fatalf("dead consumer read %v, %v", got, err)
	}
	stop := runWorker(f)
	defer stop()
	f.waitSettled(t, 13, 600)
	deadline := time.Now().Add(5 * time.Second)
	for f.rdb.XPending(ctx, stream, consumerGroup).Val().Count != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p := f.rdb.XPending(ctx, stream, consumerGroup).Val(); p.Count != 0 {
		t.Fatalf("%d jobs still unacknowledged", p.Count)
	}
}

func TestSweepQueuesRewardsThatWereNeverQueued(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// Record a reward the way issuance does, but "crash" before queueing it.
	o := Order{OrderNo: OrderNo(14, "rain", 1, AwardCash, 0), ActivityID: childID, ActID: 14, AppID: 1, SceneID: "rain",
		RainID: 1, AwardType: AwardCash, Amount: 70, IssuedAtMs: f.clock.Now().UnixMilli()}
	f.recordOnly(t, o)
	if n, err := f.s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of a fresh reward = %d, %v; want it left alone", n, err)
	}
	f.clock.Add(2 * time.Second)
	if n, err := f.s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1 re-queued", n, err)
	}
	stop := runWorker(f)
	defer stop()
	f.waitSettled(t, 14, 70)
}

// recordOnly records o as issuance's script does, without journaling or queueing it: as if
// the issuing process died right after the script.
func (f *fixture) recordOnly(t *testing.T, o Order) {
	t.Helper()
	ctx := context.Background()
	marker := accountMarker(o.ActivityID, o.ActID)
	if err := f.s.recoverRedis(ctx, marker, nil); err != nil { // the markers, as the first issuance writes them
		t.Fatal(err)
	}
	keys := []string{orderKey(o.ActivityID, o.ActID, o.OrderNo), pendingKey(o.ActivityID, o.ActID), capKey(o.ActivityID, o.ActID, 0), marker}
	r, err := luascript.Run(ctx, f.rdb, issueScript, keys, o.content(), o.Token, o.marshal(), o.OrderNo, int64(60_000), o.IssuedAtMs, 0, "-", 0, 0, "1")
	if err != nil || r.Outcome != outcomeNew {
		t.Fatalf("record %s: %v, %v", o.OrderNo, r.Outcome, err)
	}
}

func TestRedeemRestoresALostTokenOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	res := f.issue(t, cash(15, 1, 999))
	// Redis loses everything (a failover without persistence). The wallet still shows the
	// reward: the journal has it.
	f.rdb.FlushDB(ctx)
	if b := f.wallet(t, 15); b.Balance != 999 || b.Pending != 999 || b.CumulativeIncome != 999 {
		t.Fatalf("after redis loss wallet = %+v, want the 999 still pending", b)
	}
	got, err := f.s.Redeem(ctx, res.Token, 15)
	if err != nil || got.Replayed || got.OrderNo != res.OrderNo || got.Status != StatusPending {
		t.Fatalf("redeem lost token = %+v, %v; want restored", got, err)
	}
	if b := f.wallet(t, 15); b.Pending != 999 {
		t.Fatalf("restored wallet = %+v", b)
	}
	again, err := f.s.Redeem(ctx, res.Token, 15)
	if err != nil || !again.Replayed {
		t.Fatalf("second redeem = %+v, %v; want a replay", again, err)
	}
	if _, err := f.s.ForceSettle(ctx, f.live(t), 15); err != nil {
		t.Fatal(err)
	}
	// Settled, then Redis is lost again: the database remembers, nothing is paid twice.
	f.rdb.FlushDB(ctx)
	third, err := f.s.Redeem(ctx, res.Token, 15)
	if err != nil || !third.Replayed || third.Status != StatusSettled {
		t.Fatalf("redeem after settlement = %+v, %v", third, err)
	}
	if b := f.wallet(t, 15); b.Balance != 999 || b.Pending != 0 {
		t.Fatalf("wallet = %+v, want 999 once", b)
	}
	_, err = f.s.Redeem(ctx, res.Token, 16)
	wantCode(t, err, errs.Forbidden)
	_, err = f.s.Redeem(ctx, res.Token[:len(res.Token)-4]+"AAAA", 15)
	wantCode(t, err, errs.BadUserInput)
	_, err = f.s.Redeem(ctx, "not-a-token", 0)
	wantCode(t, err, errs.BadUserInput)
	f.checkLedger(t)
}

func TestCouponsBecomeAssetsNotMoney(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	res := f.issue(t, IssueInput{ActID: 17, AppID: 2, ActivityID: parentID, SceneID: "gala", AwardType: AwardCoupon, Amount: 500})
	if res.Token != "" {
		t.Fatal("a coupon got a red-packet token")
	}
	if ok, _ := f.s.HasReward(ctx, f.live(t), 17, "gala"); !ok {
		t.Fatal("hasReward false for a pending coupon")
	}
	if ok, _ := f.s.HasReward(ctx, f.live(t), 17, "rain"); ok {
		t.Fatal("hasReward true for a scene never rewarded")
	}
	if _, err := f.s.ForceSettle(ctx, f.live(t), 17); err != nil {
		t.Fatal(err)
	}
	if b := f.wallet(t, 17); b.Balance != 0 {
		t.Fatalf("a coupon moved money: %+v", b)
	}
	a, err := f.db.R.Asset.Query().Only(ctx)
	if err != nil || a.FaceValue != 500 || a.ActID != 17 {
		t.Fatalf("asset = %+v, %v", a, err)
	}
	if ok, _ := f.s.HasReward(ctx, f.live(t), 17, "gala"); !ok {
		t.Fatal("hasReward false for a settled coupon")
	}
	// The coupon's face value left the scene's budget for the coupons' asset account: the
	// ledger tells the whole budget story, and no user leg moved.
	legs, err := f.db.R.LedgerEntry.Query().Where(ledgerentry.Ref(res.OrderNo)).All(ctx)
	if err != nil || len(legs) != 2 {
		t.Fatalf("coupon legs = %v, %v; want 2", legs, err)
	}
	got := map[string]int64{}
	for _, l := range legs {
		if l.Kind != string(ledger.KindAssetGrant) || l.ActID != 0 {
			t.Fatalf("coupon leg %+v, want an ASSET_GRANT leg on a system account", l)
		}
		got[l.Account] = l.Amount
	}
	if got[ledger.BudgetAccount("gala")] != -500 || got[ledger.AssetAccount(AwardCoupon)] != 500 {
		t.Fatalf("coupon legs by account = %v", got)
	}
	f.checkLedger(t)
	// The account and the app it was seen on are recorded.
	acct, err := f.db.R.Account.Query().WithApps().Only(ctx)
	if err != nil || acct.ID != 17 || len(acct.Edges.Apps) != 1 || acct.Edges.Apps[0].AppID != 2 {
		t.Fatalf("account = %+v, %v", acct, err)
	}
}

func TestChildrenKeepTheirOwnData(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// In the gray phase (before t0) a reward is issued under the gray child.
	f.clock.Add(-time.Hour)
	gray := f.issue(t, cash(18, 1, 100))
	if gray.Activity.ID != "cny-gray" {
		t.Fatalf("issued under %s, want cny-gray", gray.Activity.ID)
	}
	f.clock.Add(time.Hour)
	// The same order number under production is a new, separate reward.
	prod := f.issue(t, cash(18, 1, 100))
	if prod.Replayed || prod.Activity.ID != childID {
		t.Fatalf("production issue = %+v, want new under %s", prod, childID)
	}
	if b := f.wallet(t, 18); b.Balance != 100 {
		t.Fatalf("production wallet = %+v, want only production's 100", b)
	}
	gb, err := f.s.Wallet(ctx, f.w.LiveOf(t, "cny-gray"), 18)
	if err != nil || gb.Balance != 100 {
		t.Fatalf("gray wallet = %+v, %v", gb, err)
	}
}

func TestLedgerIsAppendOnly(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, cash(19, 1, 100))
	if _, err := f.s.ForceSettle(ctx, f.live(t), 19); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.W.LedgerEntry.Update().Save(ctx); err == nil {
		t.Fatal("a ledger update went through")
	}
	if _, err := f.db.W.LedgerEntry.Delete().Exec(ctx); err == nil {
		t.Fatal("a ledger delete went through")
	}
	if n, _ := f.db.R.LedgerEntry.Query().Where(ledgerentry.Kind(string(ledger.KindReward))).Count(ctx); n != 2 {
		t.Fatalf("%d legs, want 2 untouched", n)
	}
}

func TestSettlementSurvivesAFlushedScriptCache(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, cash(20, 1, 10))
	f.issue(t, cash(21, 1, 20))
	// A Redis restart empties the script cache; the pipelined scripts must load themselves.
	if err := f.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := f.s.settle(ctx, map[account][]string{{ActivityID: childID, ActID: 20}: {"20_rain_1_CASH_0"}, {ActivityID: childID, ActID: 21}: {"21_rain_1_CASH_0"}})
	if err != nil || res.Count != 2 || res.Amount != 30 {
		t.Fatalf("settle after a script flush = %+v, %v", res, err)
	}
	if n := f.rdb.Exists(ctx, pendingKey(childID, 20), pendingKey(childID, 21)).Val(); n != 0 {
		t.Fatalf("%d pending hashes left", n)
	}
}

package withdraw

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/internal/testworld"
	"github.com/springwallet/wallet/internal/wallettest"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/wallet"
)

// onPostgres makes setup use a fresh PostgreSQL database instead of SQLite; TestOnPostgres
// sets it to run the scenarios that matter most for scale on the production database.
var onPostgres bool

// fixture is a world, the reward core on it (the withdrawals' Settler) and the withdrawal
// service under test.
type fixture struct {
	w    *testworld.World
	core *wallet.Service
	s    *Service
}

// setup builds the world and a withdrawal service paying through a simulated provider that
// pays everything; tests that need another provider or config replace f.s with
// mustNew(t, f.deps(...)).
func setup(t *testing.T) *fixture {
	t.Helper()
	w := testworld.New(t, testworld.Options{RedisDB: testenv.DBFeatures, Postgres: onPostgres})
	f := &fixture{w: w, core: wallettest.Core(t, w)}
	f.s = mustNew(t, f.deps(NewSimulatedProvider(f.w.DB, time.Millisecond, 0, time.Now)))
	return f
}

// deps are the withdrawal service's dependencies on f's world, paying through p, with the
// default config.
func (f *fixture) deps(p PayoutProvider) Deps {
	return Deps{DB: f.w.DB, Settler: f.core, Switches: f.w.Switches, Breakers: f.w.Breakers, Provider: p,
		Now: f.w.Clock.Now, Log: f.w.Log, Config: DefaultConfig()}
}

func mustNew(t *testing.T, d Deps) *Service {
	t.Helper()
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fund credits a user's settled balance through a balanced ledger transaction, as a settled
// reward would, without the reward's per-transaction limit.
func (f *fixture) fund(t *testing.T, actID, amount int64) {
	t.Helper()
	ctx := context.Background()
	live := f.w.Live(t)
	now := store.Time(f.w.Clock.Now())
	id := store.NewID("fund", now)
	err := f.w.DB.WriteTx(ctx, func(tx *ent.Tx) error {
		return ledger.Post(ctx, tx, ledger.Txn{ID: id, ActivityID: live.ID, Kind: ledger.KindReward, Ref: id, At: now, Income: true,
			Legs: []ledger.Leg{ledger.System(ledger.BudgetAccount(testworld.CashScene), -amount), ledger.User(actID, amount)}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// withdraw withdraws in the phase live now; it does not take t, so goroutines may call it.
func (f *fixture) withdraw(actID, amount int64, requestID string) (*Withdrawal, bool, error) {
	ctx := context.Background()
	live, err := f.w.Catalog.Resolve(ctx, testworld.Parent, f.w.Clock.Now())
	if err != nil {
		return nil, false, err
	}
	return f.s.Withdraw(ctx, Input{Live: live, ActID: actID, Amount: amount, RequestID: requestID})
}

func (f *fixture) wallet(t *testing.T, actID int64) wallet.Balance {
	t.Helper()
	return wallettest.Balance(t, f.w, f.core, actID)
}

// wantCode fails the test unless err carries code.
var wantCode = testworld.WantCode

// checkClearing asserts the payout clearing account holds exactly the PROCESSING withdrawals.
func (f *fixture) checkClearing(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	legs, err := f.w.DB.R.LedgerEntry.Query().Where(ledgerentry.Account(ledger.PayoutClearing)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var held int64
	for _, l := range legs {
		held += l.Amount
	}
	ws, err := f.w.DB.R.Withdrawal.Query().Where(withdrawal.StatusEQ(withdrawal.StatusPROCESSING)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var processing int64
	for _, w := range ws {
		processing += w.Amount
	}
	if held != processing {
		t.Fatalf("payout clearing holds %d, processing withdrawals total %d", held, processing)
	}
}

func TestNewRequiresEveryDependency(t *testing.T) {
	f := setup(t)
	full := f.deps(NewSimulatedProvider(f.w.DB, time.Millisecond, 0, time.Now))
	if s, err := New(full); err != nil || s == nil {
		t.Fatalf("New with every dependency = %v, %v", s, err)
	}
	// Every field but Config (which has defaults) is required; walking the struct keeps the
	// test honest when a dependency is added.
	typ := reflect.TypeOf(full)
	checked := 0
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if name == "Config" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			d := full
			v := reflect.ValueOf(&d).Elem().Field(i)
			v.Set(reflect.Zero(v.Type()))
			s, err := New(d)
			if err == nil {
				t.Fatalf("New without %s succeeded", name)
			}
			if s != nil {
				t.Errorf("New without %s returned a service with its error", name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("New without %s: %q does not name it", name, err)
			}
		})
		checked++
	}
	if checked != 7 {
		t.Fatalf("checked %d dependencies, want 7 (DB, Settler, Switches, Breakers, Provider, Now, Log)", checked)
	}
}

func TestConcurrentWithdrawalsNeverOverdraw(t *testing.T) {
	f := setup(t)
	f.fund(t, 21, 1000)
	const n = 20
	var ok, short atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := f.withdraw(21, 600, fmt.Sprintf("req-%d", i))
			switch {
			case err == nil:
				ok.Add(1)
			case errs.Is(err, errs.InsufficientBalance):
				short.Add(1)
			default:
				t.Errorf("withdraw: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || short.Load() != n-1 {
		t.Fatalf("%d succeeded and %d were refused, want 1 and %d", ok.Load(), short.Load(), n-1)
	}
	if b := f.wallet(t, 21); b.Balance != 400 {
		t.Fatalf("wallet = %+v, want 400 left", b)
	}
	f.w.CheckLedger(t)
	f.checkClearing(t)
}

func TestWithdrawSettlesPendingFirst(t *testing.T) {
	f := setup(t)
	wallettest.Issue(t, f.core, wallettest.Cash(22, 5000))
	wallettest.Issue(t, f.core, wallettest.Cash(22, 3000))
	w, replayed, err := f.withdraw(22, 8000, "all-of-it")
	if err != nil || replayed || w.Status != Processing || w.Amount != 8000 {
		t.Fatalf("withdraw = %+v, %v, %v", w, replayed, err)
	}
	if b := f.wallet(t, 22); b.Balance != 0 || b.Pending != 0 || b.CumulativeIncome != 8000 {
		t.Fatalf("wallet = %+v, want everything withdrawn and income kept", b)
	}
	f.w.CheckLedger(t)
}

func TestWithdrawIsIdempotentByRequestID(t *testing.T) {
	f := setup(t)
	f.fund(t, 23, 10_000)
	var wg sync.WaitGroup
	ids := make([]string, 10)
	fresh := atomic.Int32{}
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, replayed, err := f.withdraw(23, 700, "same-key")
			if err != nil {
				t.Errorf("withdraw: %v", err)
				return
			}
			if !replayed {
				fresh.Add(1)
			}
			ids[i] = w.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("replays returned different withdrawals: %v", ids)
		}
	}
	if fresh.Load() != 1 {
		t.Fatalf("%d requests recorded a withdrawal, want 1", fresh.Load())
	}
	if b := f.wallet(t, 23); b.Balance != 9300 {
		t.Fatalf("wallet = %+v, want one 700 debit", b)
	}
	_, _, err := f.withdraw(23, 800, "same-key")
	wantCode(t, err, errs.IdempotencyConflict)
}

func TestWithdrawLimitsAndCheckOrder(t *testing.T) {
	f := setup(t)
	f.fund(t, 24, 2_000_000)
	cases := []struct {
		name   string
		amount int64
		want   errs.Code
	}{
		{"below the minimum", 9, errs.LimitExceeded},
		{"above the maximum", 500_001, errs.LimitExceeded},
		{"zero", 0, errs.BadUserInput},
		{"negative", -10, errs.BadUserInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.withdraw(24, tc.amount, "x-"+tc.name)
			wantCode(t, err, tc.want)
		})
	}
	_, _, err := f.withdraw(24, 100, "")
	wantCode(t, err, errs.BadUserInput)
	for i := range 2 {
		if _, _, err := f.withdraw(24, 500_000, fmt.Sprint("big-", i)); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = f.withdraw(24, 10, "over-daily")
	wantCode(t, err, errs.LimitExceeded)
	f.w.Clock.Add(24 * time.Hour) // a new day (the activity window still holds)
	f.w.Clock.Add(-time.Minute)
	if _, _, err := f.withdraw(24, 10, "next-day"); err != nil {
		t.Fatalf("next day: %v", err)
	}
	// Order of checks: the switch first, then limits, then the balance.
	f.w.Switches.Only(switches.Withdraw)
	_, _, err = f.withdraw(24, 9, "degraded")
	wantCode(t, err, errs.Degraded)
	f.w.Switches.Only()
	_, _, err = f.withdraw(25, 9, "limit-before-balance") // account 25 has nothing
	wantCode(t, err, errs.LimitExceeded)
	_, _, err = f.withdraw(25, 10, "balance")
	wantCode(t, err, errs.InsufficientBalance)
	f.w.CheckLedger(t)
}

// runPayouts starts s's payout worker and returns a function that stops it and waits.
func runPayouts(t *testing.T, s *Service) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Payouts().Run(ctx); err != nil {
			t.Errorf("payout worker: %v", err)
		}
	}()
	return func() { cancel(); <-done }
}

func (f *fixture) waitWithdrawal(t *testing.T, id, status string) *Withdrawal {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := f.s.Get(context.Background(), mustActID(t, f, id), id)
		if err != nil {
			t.Fatal(err)
		}
		if w == nil {
			t.Fatalf("withdrawal %s not found", id)
		}
		if w.Status == status {
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("withdrawal %s is %s, want %s", id, w.Status, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustActID(t *testing.T, f *fixture, id string) int64 {
	t.Helper()
	w, err := f.w.DB.R.Withdrawal.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w.ActID
}

func TestPayoutSucceeds(t *testing.T) {
	f := setup(t)
	f.fund(t, 26, 1000)
	p := NewSimulatedProvider(f.w.DB, time.Millisecond, 0, time.Now)
	f.s = mustNew(t, f.deps(p))
	stop := runPayouts(t, f.s)
	defer stop()
	w, _, err := f.withdraw(26, 600, "pay-me")
	if err != nil {
		t.Fatal(err)
	}
	f.waitWithdrawal(t, w.ID, Succeeded)
	if paid, ok := p.Paid(context.Background(), w.ID); !ok || paid != 600 {
		t.Fatalf("provider paid %d, %v", paid, ok)
	}
	if b := f.wallet(t, 26); b.Balance != 400 {
		t.Fatalf("wallet = %+v", b)
	}
	f.w.CheckLedger(t)
	f.checkClearing(t)
}

func TestFailedPayoutRestoresBalance(t *testing.T) {
	f := setup(t)
	f.fund(t, 27, 1000)
	f.s = mustNew(t, f.deps(NewSimulatedProvider(f.w.DB, time.Millisecond, 1, time.Now)))
	stop := runPayouts(t, f.s)
	defer stop()
	w, _, err := f.withdraw(27, 600, "will-fail")
	if err != nil {
		t.Fatal(err)
	}
	got := f.waitWithdrawal(t, w.ID, Failed)
	if got.FailureReason == "" {
		t.Fatal("a failed withdrawal has no reason")
	}
	if b := f.wallet(t, 27); b.Balance != 1000 || b.CumulativeIncome != 1000 {
		t.Fatalf("wallet after the failed payout = %+v, want 1000 back and income unchanged", b)
	}
	// The refund is a compensating entry, not an edit: the withdrawal's legs are still there.
	n, _ := f.w.DB.R.LedgerEntry.Query().Where(ledgerentry.Ref(w.ID)).Count(context.Background())
	if n != 4 {
		t.Fatalf("%d ledger legs for the withdrawal, want 4 (debit and its compensation)", n)
	}
	f.w.CheckLedger(t)
	f.checkClearing(t)
}

// flakyProvider fails transiently a few times before a request reaches it (a transport
// error: it never saw the request), then pays; it counts calls per withdrawal and answers
// status lookups truthfully.
type flakyProvider struct {
	mu       sync.Mutex
	failures int
	calls    map[string]int
	paid     map[string]bool
	// down, while set, makes every call fail before it reaches the provider (an outage).
	down atomic.Bool
}

var errUnreachable = errors.New("provider unreachable")

func (p *flakyProvider) Pay(_ context.Context, req PayoutRequest) error {
	if p.down.Load() {
		return errUnreachable
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[req.ID]++
	if p.calls[req.ID] <= p.failures {
		return errUnreachable
	}
	if p.paid == nil {
		p.paid = map[string]bool{}
	}
	p.paid[req.ID] = true
	return nil
}

func (p *flakyProvider) Status(_ context.Context, id string) (PayoutStatus, error) {
	if p.down.Load() {
		return PayoutUnknown, errUnreachable
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paid[id] {
		return PayoutPaid, nil
	}
	return PayoutUnknown, nil
}

// callsFor is how many times the provider was asked to pay id.
func (p *flakyProvider) callsFor(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id]
}

func TestTransientPayoutErrorsAreRetried(t *testing.T) {
	f := setup(t)
	f.fund(t, 28, 1000)
	p := &flakyProvider{failures: 2, calls: map[string]int{}}
	f.s = mustNew(t, f.deps(p))
	stop := runPayouts(t, f.s)
	defer stop()
	w, _, err := f.withdraw(28, 100, "flaky")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.w.Clock.Add(time.Minute) // past any backoff
		if got, _ := f.s.Get(context.Background(), 28, w.ID); got != nil && got.Status == Succeeded {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.waitWithdrawal(t, w.ID, Succeeded)
	if n := p.callsFor(w.ID); n != 3 {
		t.Fatalf("provider called %d times, want 3 (two failures, one success)", n)
	}
	f.checkClearing(t)
}

func TestTwoPayoutWorkersPayEachWithdrawalOnce(t *testing.T) {
	f := setup(t)
	p := &flakyProvider{calls: map[string]int{}}
	f.s = mustNew(t, f.deps(p))
	// A second instance: the same database and provider, breakers of its own.
	od := f.deps(p)
	od.Breakers = breaker.NewRegistry(nil)
	other := mustNew(t, od)
	stop1 := runPayouts(t, f.s)
	stop2 := runPayouts(t, other)
	var ids []string
	for i := range 30 {
		f.fund(t, int64(100+i), 50)
		w, _, err := f.withdraw(int64(100+i), 50, "once")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID)
	}
	for _, id := range ids {
		f.waitWithdrawal(t, id, Succeeded)
	}
	stop1()
	stop2()
	for _, id := range ids {
		if n := p.callsFor(id); n != 1 {
			t.Fatalf("withdrawal %s was sent to the provider %d times", id, n)
		}
	}
	f.w.CheckLedger(t)
	f.checkClearing(t)
}

// countingProvider records when each payout started.
type countingProvider struct {
	mu     sync.Mutex
	starts []time.Time
}

func (p *countingProvider) Pay(context.Context, PayoutRequest) error {
	p.mu.Lock()
	p.starts = append(p.starts, time.Now())
	p.mu.Unlock()
	return nil
}

func (p *countingProvider) Status(context.Context, string) (PayoutStatus, error) {
	return PayoutPaid, nil
}

func (p *countingProvider) started() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.starts)
}

func TestWithdrawalBurstIsAcceptedAtOnceAndPaidAtThePacedRate(t *testing.T) {
	f := setup(t)
	p := &countingProvider{}
	d := f.deps(p)
	d.Config.Payout.Rate = 20
	f.s = mustNew(t, d)
	const n = 60
	count := n
	for i := range n {
		f.fund(t, int64(200+i), 100)
	}
	stop := runPayouts(t, f.s)
	defer stop()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, _, err := f.withdraw(int64(200+i), 100, "burst")
			if err != nil || w.Status != Processing {
				t.Errorf("withdraw = %+v, %v; want accepted as PROCESSING", w, err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := p.started()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d paid", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The provider was called for all; wait for the last outcomes to be recorded.
	deadline = time.Now().Add(10 * time.Second)
	for {
		n, err := f.w.DB.R.Withdrawal.Query().Where(withdrawal.StatusEQ(withdrawal.StatusSUCCEEDED)).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == count {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d withdrawals recorded as paid", n, count)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Pacing bounds the rate from above: in any one-second window no more than Rate (plus
	// one for the ticker's phase) payouts start, however fast the machine is.
	p.mu.Lock()
	starts := append([]time.Time(nil), p.starts...)
	p.mu.Unlock()
	for i := range starts {
		inWindow := 0
		for j := i; j < len(starts) && starts[j].Sub(starts[i]) < time.Second; j++ {
			inWindow++
		}
		if inWindow > 21 {
			t.Fatalf("%d payouts started within one second, the rate is 20", inWindow)
		}
	}
	f.checkClearing(t)
}

func TestPayoutBreakerOpensAndRecovers(t *testing.T) {
	f := setup(t)
	reg := breaker.NewRegistry(nil)
	// The provider is down (its status lookups too) until the breaker has opened.
	p := &flakyProvider{calls: map[string]int{}}
	p.down.Store(true)
	d := f.deps(p)
	d.Breakers = reg
	d.Config.Payout.BreakerOpenFor = 300 * time.Millisecond
	f.s = mustNew(t, d)
	state := func() string {
		if st := reg.States(); len(st) > 0 {
			return st[0].State
		}
		return ""
	}
	stop := runPayouts(t, f.s)
	defer stop()
	var ids []string
	for i := range 3 {
		f.fund(t, int64(300+i), 100)
		w, _, err := f.withdraw(int64(300+i), 100, "b")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID)
	}
	// Failures pile up until the breaker opens; then the provider is left alone.
	deadline := time.Now().Add(10 * time.Second)
	for state() != "open" {
		if time.Now().After(deadline) {
			t.Fatalf("breaker never opened: %+v", reg.States())
		}
		f.w.Clock.Add(time.Minute)
		time.Sleep(10 * time.Millisecond)
	}
	p.down.Store(false)
	// It recovers: trial payouts go through once the provider answers, and every withdrawal
	// is paid once, none failed for lack of attempts.
	for _, id := range ids {
		for {
			w, _ := f.s.Get(context.Background(), mustActID(t, f, id), id)
			if w == nil {
				t.Fatalf("withdrawal %s not found", id)
			}
			if w.Status == Succeeded {
				break
			}
			if w.Status == Failed || time.Now().After(deadline) {
				t.Fatalf("withdrawal %s is %s", id, w.Status)
			}
			f.w.Clock.Add(time.Minute)
			time.Sleep(20 * time.Millisecond)
		}
	}
	if st := state(); st != "closed" {
		t.Fatalf("breaker %s after recovery", st)
	}
	for _, id := range ids {
		if n := p.callsFor(id); n != 1 {
			t.Fatalf("withdrawal %s reached the provider %d times, want once", id, n)
		}
	}
	f.checkClearing(t)
}

// TestEachWithdrawSwitchDoesWhatItSays turns each of the withdrawals' switches off in turn
// and checks its effect, then checks the same operation works with the switch on.
func TestEachWithdrawSwitchDoesWhatItSays(t *testing.T) {
	f := setup(t)
	p := &countingProvider{}
	f.s = mustNew(t, f.deps(p))
	f.fund(t, 41, 100_000)
	cases := []struct {
		sw    switches.Name
		check func(t *testing.T)
	}{
		{switches.Withdraw, func(t *testing.T) {
			_, _, err := f.withdraw(41, 100, "sw-withdraw")
			wantCode(t, err, errs.Degraded)
		}},
		{switches.PayoutWorker, func(t *testing.T) {
			stop := runPayouts(t, f.s)
			defer stop()
			w, _, err := f.withdraw(41, 100, "paused-payout")
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(400 * time.Millisecond)
			if n := p.started(); n != 0 {
				t.Fatalf("%d payouts started while the payout worker was switched off", n)
			}
			if got := f.waitWithdrawal(t, w.ID, Processing); got.Status != Processing {
				t.Fatalf("withdrawal %s is %s while payouts are paused, want PROCESSING", w.ID, got.Status)
			}
			// Switched back on, the same worker pays the withdrawal that waited.
			f.w.Switches.Only()
			f.waitWithdrawal(t, w.ID, Succeeded)
			if n := p.started(); n != 1 {
				t.Fatalf("%d payouts started after the payout worker was switched on, want 1", n)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.sw), func(t *testing.T) {
			f.w.Switches.Only(tc.sw)
			defer f.w.Switches.Only()
			tc.check(t)
		})
	}
	// With every switch on, the same operations work.
	if _, _, err := f.withdraw(41, 100, "all-on"); err != nil {
		t.Fatal(err)
	}
	f.w.CheckLedger(t)
	f.checkClearing(t)
}

// TestOnPostgres runs the concurrency scenarios again on PostgreSQL, where writers really run
// in parallel (SQLite has one writer): row locks, conditional updates and unique races are
// what keep the money right there.
func TestOnPostgres(t *testing.T) {
	onPostgres = true
	defer func() { onPostgres = false }()
	for name, test := range map[string]func(*testing.T){
		"ConcurrentWithdrawalsNeverOverdraw": TestConcurrentWithdrawalsNeverOverdraw,
		"WithdrawIsIdempotentByRequestID":    TestWithdrawIsIdempotentByRequestID,
		"WithdrawLimitsAndCheckOrder":        TestWithdrawLimitsAndCheckOrder,
		"FailedPayoutRestoresBalance":        TestFailedPayoutRestoresBalance,
		"TwoPayoutWorkersPayEachOnce":        TestTwoPayoutWorkersPayEachWithdrawalOnce,
	} {
		t.Run(name, test)
	}
}

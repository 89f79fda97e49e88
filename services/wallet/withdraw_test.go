package wallet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/errs"
)

// fund credits a user's settled balance through a balanced ledger transaction, as a settled
// reward would, without the reward's per-transaction limit.
func (f *fixture) fund(t *testing.T, actID, amount int64) {
	t.Helper()
	ctx := context.Background()
	err := f.db.WriteTx(ctx, func(tx *ent.Tx) error {
		id := newID("fund", f.clock.Now())
		if err := post(ctx, tx, id, childID, KindReward, id, dbTime(f.clock.Now()),
			Leg{Account: budgetAccount("rain"), Amount: -amount}, UserLeg(actID, amount)); err != nil {
			return err
		}
		return credit(ctx, tx, childID, actID, amount, true)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) withdraw(actID, amount int64, requestID string) (*Withdrawal, bool, error) {
	return f.s.Withdraw(context.Background(), WithdrawInput{ActivityID: childID, ActID: actID, Amount: amount, RequestID: requestID})
}

// wdSwitches turns named switches off.
type wdSwitches map[string]bool

func (w wdSwitches) Enabled(name string) bool { return !w[name] }

// checkClearing asserts the payout clearing account holds exactly the PROCESSING withdrawals.
func (f *fixture) checkClearing(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	legs, err := f.db.R.LedgerEntry.Query().Where(ledgerentry.Account(AccountPayoutClearing)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var held int64
	for _, l := range legs {
		held += l.Amount
	}
	ws, err := f.db.R.Withdrawal.Query().Where(withdrawal.StatusEQ(withdrawal.StatusPROCESSING)).All(ctx)
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
	f.checkLedger(t)
	f.checkClearing(t)
}

func TestWithdrawSettlesPendingFirst(t *testing.T) {
	f := setup(t)
	f.issue(t, cash(22, 1, 5000))
	f.issue(t, cash(22, 2, 3000))
	w, replayed, err := f.withdraw(22, 8000, "all-of-it")
	if err != nil || replayed || w.Status != WithdrawalProcessing || w.Amount != 8000 {
		t.Fatalf("withdraw = %+v, %v, %v", w, replayed, err)
	}
	if b := f.wallet(t, 22); b.Balance != 0 || b.Pending != 0 || b.CumulativeIncome != 8000 {
		t.Fatalf("wallet = %+v, want everything withdrawn and income kept", b)
	}
	f.checkLedger(t)
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
	f.clock.Add(24 * time.Hour) // a new day (the activity window still holds)
	f.clock.Add(-time.Minute)
	if _, _, err := f.withdraw(24, 10, "next-day"); err != nil {
		t.Fatalf("next day: %v", err)
	}
	// Order of checks: the switch first, then limits, then the balance.
	f.s.SetSwitches(wdSwitches{SwitchWithdraw: true})
	_, _, err = f.withdraw(24, 9, "degraded")
	wantCode(t, err, errs.Degraded)
	f.s.SetSwitches(allOn{})
	_, _, err = f.withdraw(25, 9, "limit-before-balance") // account 25 has nothing
	wantCode(t, err, errs.LimitExceeded)
	_, _, err = f.withdraw(25, 10, "balance")
	wantCode(t, err, errs.InsufficientBalance)
	f.checkLedger(t)
}

func runPayouts(f *fixture, p PayoutProvider) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.s.RunPayouts(ctx, p); close(done) }()
	return func() { cancel(); <-done }
}

func (f *fixture) waitWithdrawal(t *testing.T, id, status string) *Withdrawal {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := f.s.GetWithdrawal(context.Background(), mustActID(t, f, id), id)
		if err != nil {
			t.Fatal(err)
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
	w, err := f.db.R.Withdrawal.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w.ActID
}

func TestPayoutSucceeds(t *testing.T) {
	f := setup(t)
	f.fund(t, 26, 1000)
	p := NewSimulatedProvider(time.Millisecond, 0)
	stop := runPayouts(f, p)
	defer stop()
	w, _, err := f.withdraw(26, 600, "pay-me")
	if err != nil {
		t.Fatal(err)
	}
	f.waitWithdrawal(t, w.ID, WithdrawalSucceeded)
	if paid, ok := p.Paid(w.ID); !ok || paid != 600 {
		t.Fatalf("provider paid %d, %v", paid, ok)
	}
	if b := f.wallet(t, 26); b.Balance != 400 {
		t.Fatalf("wallet = %+v", b)
	}
	f.checkLedger(t)
	f.checkClearing(t)
}

func TestFailedPayoutRestoresBalance(t *testing.T) {
	f := setup(t)
	f.fund(t, 27, 1000)
	stop := runPayouts(f, NewSimulatedProvider(time.Millisecond, 1))
	defer stop()
	w, _, err := f.withdraw(27, 600, "will-fail")
	if err != nil {
		t.Fatal(err)
	}
	got := f.waitWithdrawal(t, w.ID, WithdrawalFailed)
	if got.FailureReason == "" {
		t.Fatal("a failed withdrawal has no reason")
	}
	if b := f.wallet(t, 27); b.Balance != 1000 || b.CumulativeIncome != 1000 {
		t.Fatalf("wallet after the failed payout = %+v, want 1000 back and income unchanged", b)
	}
	// The refund is a compensating entry, not an edit: the withdrawal's legs are still there.
	n, _ := f.db.R.LedgerEntry.Query().Where(ledgerentry.Ref(w.ID)).Count(context.Background())
	if n != 4 {
		t.Fatalf("%d ledger legs for the withdrawal, want 4 (debit and its compensation)", n)
	}
	f.checkLedger(t)
	f.checkClearing(t)
}

// flakyProvider fails transiently a few times, then pays; it counts calls per withdrawal.
type flakyProvider struct {
	mu       sync.Mutex
	failures int
	calls    map[string]int
}

func (p *flakyProvider) Pay(_ context.Context, req PayoutRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[req.ID]++
	if p.calls[req.ID] <= p.failures {
		return errors.New("provider timeout")
	}
	return nil
}

func TestTransientPayoutErrorsAreRetried(t *testing.T) {
	f := setup(t)
	f.fund(t, 28, 1000)
	p := &flakyProvider{failures: 2, calls: map[string]int{}}
	stop := runPayouts(f, p)
	defer stop()
	w, _, err := f.withdraw(28, 100, "flaky")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.clock.Add(time.Minute) // past any backoff
		if got, _ := f.s.GetWithdrawal(context.Background(), 28, w.ID); got.Status == WithdrawalSucceeded {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.waitWithdrawal(t, w.ID, WithdrawalSucceeded)
	if p.calls[w.ID] != 3 {
		t.Fatalf("provider called %d times, want 3 (two failures, one success)", p.calls[w.ID])
	}
	f.checkClearing(t)
}

func TestTwoPayoutWorkersPayEachWithdrawalOnce(t *testing.T) {
	f := setup(t)
	other := New(f.db, f.rdb, f.s.catalog, f.signer, f.clock.Now, f.s.log, f.s.cfg)
	p := &flakyProvider{calls: map[string]int{}}
	stop1 := runPayouts(f, p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { other.RunPayouts(ctx, p); close(done) }()
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
		f.waitWithdrawal(t, id, WithdrawalSucceeded)
	}
	stop1()
	cancel()
	<-done
	for _, id := range ids {
		if p.calls[id] != 1 {
			t.Fatalf("withdrawal %s was sent to the provider %d times", id, p.calls[id])
		}
	}
	f.checkLedger(t)
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

func TestWithdrawalBurstIsAcceptedAtOnceAndPaidAtThePacedRate(t *testing.T) {
	f := setup(t)
	f.s.cfg.Payout.Rate = 20
	const n = 60
	count := n
	for i := range n {
		f.fund(t, int64(200+i), 100)
	}
	p := &countingProvider{}
	stop := runPayouts(f, p)
	defer stop()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, _, err := f.withdraw(int64(200+i), 100, "burst")
			if err != nil || w.Status != WithdrawalProcessing {
				t.Errorf("withdraw = %+v, %v; want accepted as PROCESSING", w, err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p.mu.Lock()
		got := len(p.starts)
		p.mu.Unlock()
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
		n, err := f.db.R.Withdrawal.Query().Where(withdrawal.StatusEQ(withdrawal.StatusSUCCEEDED)).Count(context.Background())
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
	for i := range p.starts {
		inWindow := 0
		for j := i; j < len(p.starts) && p.starts[j].Sub(p.starts[i]) < time.Second; j++ {
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
	f.s.SetBreakers(reg)
	f.s.cfg.Payout.BreakerOpenFor = 300 * time.Millisecond
	f.s.cfg.Payout.MaxAttempts = 100
	p := &flakyProvider{failures: 4, calls: map[string]int{}}
	state := func() string {
		if st := reg.States(); len(st) > 0 {
			return st[0].State
		}
		return ""
	}
	stop := runPayouts(f, p)
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
		f.clock.Add(time.Minute)
		time.Sleep(10 * time.Millisecond)
	}
	// It recovers: trial payouts go through once the provider answers, and every withdrawal
	// is paid once, none failed for lack of attempts.
	for _, id := range ids {
		for {
			w, _ := f.s.GetWithdrawal(context.Background(), mustActID(t, f, id), id)
			if w.Status == WithdrawalSucceeded {
				break
			}
			if w.Status == WithdrawalFailed || time.Now().After(deadline) {
				t.Fatalf("withdrawal %s is %s", id, w.Status)
			}
			f.clock.Add(time.Minute)
			time.Sleep(20 * time.Millisecond)
		}
	}
	if st := state(); st != "closed" {
		t.Fatalf("breaker %s after recovery", st)
	}
	f.checkClearing(t)
}

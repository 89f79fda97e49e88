package withdraw

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/services/ledger"
)

// slowProviderDeps pays through the simulated provider with a payment that takes latency,
// while each call gives up after 30 ms: every call's outcome is unknown.
func (f *fixture) slowProviderDeps(latency time.Duration, failureRate float64) (Deps, *SimulatedProvider) {
	p := NewSimulatedProvider(f.w.DB, latency, failureRate, time.Now)
	d := f.deps(p)
	d.Config.Payout.CallTimeout = 30 * time.Millisecond
	return d, p
}

// waitFinal moves the clock past every backoff until the withdrawal leaves PROCESSING, and
// returns what it saw on the way: whether its outcome was recorded unknown.
func (f *fixture) waitFinal(t *testing.T, actID int64, id string) (final *Withdrawal, sawUnknown bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		w, err := f.s.Get(context.Background(), actID, id)
		if err != nil || w == nil {
			t.Fatalf("get %s: %v, %v", id, w, err)
		}
		if w.Status != Processing {
			return w, sawUnknown
		}
		sawUnknown = sawUnknown || w.OutcomeUnknownSince != nil
		f.w.Clock.Add(time.Minute)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("withdrawal %s still PROCESSING", id)
	return nil, false
}

func (f *fixture) legsOf(t *testing.T, id string, kind ledger.Kind) int {
	t.Helper()
	n, err := f.w.DB.R.LedgerEntry.Query().Where(ledgerentry.Ref(id), ledgerentry.Kind(string(kind))).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPayoutTimeoutIsNeverRefunded is the attack of a provider slower than the call timeout:
// every call times out while the provider pays anyway. Refunding after some attempts would pay
// the user twice (once by the provider, once back into the wallet); the withdrawal must stay
// PROCESSING while in doubt and end SUCCEEDED from the provider's own answer.
func TestPayoutTimeoutIsNeverRefunded(t *testing.T) {
	f := setup(t)
	f.fund(t, 51, 1000)
	d, p := f.slowProviderDeps(400*time.Millisecond, 0)
	f.s = mustNew(t, d)
	stop := runPayouts(t, f.s)
	defer stop()
	w, _, err := f.withdraw(51, 100, "slow")
	if err != nil {
		t.Fatal(err)
	}
	got, sawUnknown := f.waitFinal(t, 51, w.ID)
	if got.Status != Succeeded || !sawUnknown {
		t.Fatalf("withdrawal = %+v (outcome seen unknown: %v), want SUCCEEDED after an unknown outcome", got, sawUnknown)
	}
	if paid, ok := p.Paid(context.Background(), w.ID); !ok || paid != 100 {
		t.Fatalf("provider paid %d, %v; want 100", paid, ok)
	}
	if b := f.wallet(t, 51); b.Settled != 900 {
		t.Fatalf("balance %+v, want 900: the paid withdrawal was refunded", b)
	}
	if n := f.legsOf(t, w.ID, ledger.KindWithdrawalRefund); n != 0 {
		t.Fatalf("%d refund legs for a withdrawal the provider paid", n)
	}
	if n := f.legsOf(t, w.ID, ledger.KindWithdrawalPaid); n != 2 {
		t.Fatalf("%d paid legs, want one transaction of 2", n)
	}
	if got.OutcomeUnknownSince != nil {
		t.Fatal("a finished withdrawal still carries an unknown outcome")
	}
	f.w.CheckLedger(t)
	f.checkClearing(t)
}

// TestUnknownOutcomeThenRefusalRefundsOnce: a call times out, and the provider then refuses
// the payout: only that definite refusal refunds, once.
func TestUnknownOutcomeThenRefusalRefundsOnce(t *testing.T) {
	f := setup(t)
	f.fund(t, 52, 1000)
	d, _ := f.slowProviderDeps(400*time.Millisecond, 1)
	f.s = mustNew(t, d)
	stop := runPayouts(t, f.s)
	defer stop()
	w, _, err := f.withdraw(52, 100, "refused")
	if err != nil {
		t.Fatal(err)
	}
	got, sawUnknown := f.waitFinal(t, 52, w.ID)
	if got.Status != Failed || !sawUnknown {
		t.Fatalf("withdrawal = %+v (unknown seen: %v), want FAILED after an unknown outcome", got, sawUnknown)
	}
	if b := f.wallet(t, 52); b.Settled != 1000 {
		t.Fatalf("balance %+v, want the 100 back", b)
	}
	if n := f.legsOf(t, w.ID, ledger.KindWithdrawalRefund); n != 2 {
		t.Fatalf("%d refund legs, want one transaction of 2", n)
	}
	f.w.CheckLedger(t)
	f.checkClearing(t)
}

// silentProvider never answers: every payout's outcome stays unknown.
type silentProvider struct{}

func (silentProvider) Pay(ctx context.Context, _ PayoutRequest) error { <-ctx.Done(); return ctx.Err() }
func (silentProvider) Status(ctx context.Context, _ string) (PayoutStatus, error) {
	<-ctx.Done()
	return PayoutUnknown, ctx.Err()
}

// TestPayoutsInDoubtAreShownToOperators: an outcome unknown for longer than the threshold is
// listed by InDoubt and counted by the metric; the withdrawal is neither paid nor refunded.
func TestPayoutsInDoubtAreShownToOperators(t *testing.T) {
	f := setup(t)
	f.fund(t, 53, 1000)
	d := f.deps(silentProvider{})
	d.Config.Payout.CallTimeout = 20 * time.Millisecond
	f.s = mustNew(t, d)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.s.InDoubtCollector())
	gauge := func(name string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("metric %s not exported", name)
		return 0
	}
	stop := runPayouts(t, f.s)
	defer stop()
	w, _, err := f.withdraw(53, 100, "silent")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := f.s.Get(context.Background(), 53, w.ID)
		if got.OutcomeUnknownSince != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timed-out payout was never marked unknown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if list, err := f.s.InDoubt(context.Background(), 0); err != nil || len(list) != 0 || gauge("wallet_payouts_in_doubt") != 0 {
		t.Fatalf("a fresh unknown outcome is already in doubt: %v, %v", list, err)
	}
	f.w.Clock.Add(6 * time.Minute) // past the 5-minute threshold
	list, err := f.s.InDoubt(context.Background(), 0)
	if err != nil || len(list) != 1 || list[0].ID != w.ID || list[0].Status != Processing {
		t.Fatalf("in doubt = %+v, %v; want the one withdrawal", list, err)
	}
	if n := gauge("wallet_payouts_in_doubt"); n != 1 {
		t.Fatalf("wallet_payouts_in_doubt = %v, want 1", n)
	}
	if age := gauge("wallet_payouts_in_doubt_oldest_seconds"); age < 360 {
		t.Fatalf("oldest in doubt %vs, want at least 360", age)
	}
	if b := f.wallet(t, 53); b.Settled != 900 {
		t.Fatalf("balance %+v: a payout in doubt must be neither refunded nor lost", b)
	}
	f.checkClearing(t)
}

// TestSimulatedProviderIsTruthfulAndIdempotent: a late payment is reported as paid, the same
// id is paid once however often it is asked, and an id never sent is unknown.
func TestSimulatedProviderIsTruthfulAndIdempotent(t *testing.T) {
	f := setup(t)
	p := NewSimulatedProvider(f.w.DB, 100*time.Millisecond, 0, time.Now)
	ctx := context.Background()
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := p.Pay(short, PayoutRequest{ID: "w1", ActID: 1, Amount: 5}); err == nil {
		t.Fatal("a call shorter than the payment answered paid")
	}
	if st, err := p.Status(ctx, "w1"); err != nil || st != PayoutPending {
		t.Fatalf("status while paying = %v, %v", st, err)
	}
	time.Sleep(150 * time.Millisecond)
	if st, err := p.Status(ctx, "w1"); err != nil || st != PayoutPaid {
		t.Fatalf("status after the payment = %v, %v; want PAID", st, err)
	}
	// Another instance's provider (same records) asking to pay again pays nothing more.
	other := NewSimulatedProvider(f.w.DB, 0, 1, time.Now)
	if err := other.Pay(ctx, PayoutRequest{ID: "w1", ActID: 1, Amount: 5}); err != nil {
		t.Fatalf("paying a paid id again = %v", err)
	}
	if n, _ := f.w.DB.R.SimulatedPayout.Query().Count(ctx); n != 1 {
		t.Fatalf("%d payout records, want 1", n)
	}
	if st, _ := p.Status(ctx, "never-sent"); st != PayoutUnknown {
		t.Fatalf("status of an id never sent = %v", st)
	}
}

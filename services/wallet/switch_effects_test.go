package wallet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/springwallet/wallet/services/errs"
)

// TestEachWalletSwitchDoesWhatItSays turns each of the money core's switches off in turn and
// checks its effect, then checks the same operation works with the switch on.
func TestEachWalletSwitchDoesWhatItSays(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.fund(t, 41, 100_000)
	degradedOp := func(op func() error) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			wantCode(t, op(), errs.Degraded)
		}
	}
	coupon := IssueInput{ActID: 41, AppID: 1, ActivityID: parentID, SceneID: "gala", AwardType: AwardCoupon, Amount: 10}
	rain := 100
	nextCash := func(app int) IssueInput {
		rain++
		in := cash(41, rain, 10)
		in.AppID = app
		return in
	}
	tok := f.issue(t, cash(41, 1, 10)).Token
	cases := []struct {
		sw    string
		check func(t *testing.T)
	}{
		{SwitchIssuanceCash, degradedOp(func() error { _, err := f.s.Issue(ctx, nextCash(1)); return err })},
		{SwitchIssuanceCoupon, degradedOp(func() error { _, err := f.s.Issue(ctx, coupon); return err })},
		{SwitchForceSettle, degradedOp(func() error { _, err := f.s.SettleOnDemand(ctx, childID, 41); return err })},
		{SwitchRedeem, degradedOp(func() error { _, err := f.s.Redeem(ctx, tok, 41); return err })},
		{SwitchWithdraw, degradedOp(func() error { _, _, err := f.withdraw(41, 100, fmt.Sprint("sw", rain)); return err })},
		{SwitchHasRewardPending, func(t *testing.T) {
			f.issue(t, IssueInput{ActID: 42, AppID: 1, ActivityID: parentID, SceneID: "gala", AwardType: AwardCoupon, Amount: 1})
			if ok, err := f.s.HasReward(ctx, childID, 42, "gala"); err != nil || ok {
				t.Fatalf("hasReward = %v, %v; want false: the pending reward is in Redis, which is switched off", ok, err)
			}
		}},
		{SwitchFeedPending, func(t *testing.T) {
			f.issue(t, cash(43, 1, 5))
			if p := f.feed(t, 43, 10, ""); len(p.Items) != 0 {
				t.Fatalf("feed shows %d items, want none: the only one is pending", len(p.Items))
			}
		}},
		{SwitchPayout, func(t *testing.T) {
			p := &countingProvider{}
			stop := runPayouts(f, p)
			defer stop()
			if _, _, err := f.withdraw(41, 100, "paused-payout"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(400 * time.Millisecond)
			p.mu.Lock()
			defer p.mu.Unlock()
			if len(p.starts) != 0 {
				t.Fatalf("%d payouts started while the payout worker was switched off", len(p.starts))
			}
		}},
		{SwitchSettleWorker, func(t *testing.T) {
			stop := runWorker(f)
			defer stop()
			f.issue(t, cash(44, 1, 5))
			time.Sleep(300 * time.Millisecond)
			if b := f.wallet(t, 44); b.Pending != 5 {
				t.Fatalf("wallet = %+v: the paused worker settled", b)
			}
		}},
	}
	for app := 1; app <= 8; app++ {
		cases = append(cases, struct {
			sw    string
			check func(t *testing.T)
		}{fmt.Sprintf(SwitchIssuanceAppFmt, app), func(t *testing.T) {
			_, err := f.s.Issue(ctx, nextCash(app))
			wantCode(t, err, errs.Degraded)
			other := app%8 + 1
			if _, err := f.s.Issue(ctx, nextCash(other)); err != nil {
				t.Fatalf("app %d is off, app %d must still issue: %v", app, other, err)
			}
		}})
	}
	for _, tc := range cases {
		t.Run(tc.sw, func(t *testing.T) {
			f.s.SetSwitches(wdSwitches{tc.sw: true})
			tc.check(t)
			f.s.SetSwitches(allOn{})
		})
	}
	// With every switch on, the same operations work.
	if _, err := f.s.Issue(ctx, nextCash(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.SettleOnDemand(ctx, childID, 41); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Redeem(ctx, tok, 41); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.withdraw(41, 100, "all-on"); err != nil {
		t.Fatal(err)
	}
}

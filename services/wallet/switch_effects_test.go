package wallet

import (
	"context"
	"testing"
	"time"

	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/switches"
)

// TestEachWalletSwitchDoesWhatItSays turns each of the reward core's switches off in turn and
// checks its effect, then checks the same operation works with the switch on (withdrawals,
// payouts, red packets and the feed test theirs in their own packages).
func TestEachWalletSwitchDoesWhatItSays(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
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
		sw    switches.Name
		check func(t *testing.T)
	}{
		{switches.IssuanceCash, degradedOp(func() error { _, err := f.s.Issue(ctx, nextCash(1)); return err })},
		{switches.IssuanceCoupon, degradedOp(func() error { _, err := f.s.Issue(ctx, coupon); return err })},
		{switches.ForceSettle, degradedOp(func() error { _, err := f.s.SettleOnDemand(ctx, f.live(t), 41); return err })},
		{switches.Redeem, degradedOp(func() error { _, err := f.s.Redeem(ctx, tok, 41); return err })},
		{switches.HasRewardPending, func(t *testing.T) {
			f.issue(t, IssueInput{ActID: 42, AppID: 1, ActivityID: parentID, SceneID: "gala", AwardType: AwardCoupon, Amount: 1})
			if ok, err := f.s.HasReward(ctx, f.live(t), 42, "gala"); err != nil || ok {
				t.Fatalf("hasReward = %v, %v; want false: the pending reward is in Redis, which is switched off", ok, err)
			}
		}},
		{switches.SettlementWorker, func(t *testing.T) {
			stop := runWorker(f)
			defer stop()
			f.issue(t, cash(44, 1, 5))
			time.Sleep(300 * time.Millisecond)
			if b := f.wallet(t, 44); b.Pending != 5 {
				t.Fatalf("wallet = %+v: the paused worker settled", b)
			}
		}},
	}
	for app := 1; app <= switches.Apps; app++ {
		cases = append(cases, struct {
			sw    switches.Name
			check func(t *testing.T)
		}{switches.IssuanceApp(app), func(t *testing.T) {
			_, err := f.s.Issue(ctx, nextCash(app))
			wantCode(t, err, errs.Degraded)
			other := app%switches.Apps + 1
			if _, err := f.s.Issue(ctx, nextCash(other)); err != nil {
				t.Fatalf("app %d is off, app %d must still issue: %v", app, other, err)
			}
		}})
	}
	for _, tc := range cases {
		t.Run(string(tc.sw), func(t *testing.T) {
			f.w.Switches.Only(tc.sw)
			tc.check(t)
			f.w.Switches.Only()
		})
	}
	// With every switch on, the same operations work.
	if _, err := f.s.Issue(ctx, nextCash(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.SettleOnDemand(ctx, f.live(t), 41); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Redeem(ctx, tok, 41); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/springwallet/wallet/sdk"
)

// openSDK points the SDK at s's deployment, as an activity backend would.
func openSDK(t testing.TB, s *testServer) *sdk.Client {
	t.Helper()
	c, err := sdk.Open(context.Background(), sdk.Config{DatabaseURL: s.app.cfg.DatabaseURL, RedisURL: s.app.cfg.RedisURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// apiWallet is the wallet query's answer for actID.
func apiWallet(t *testing.T, s *testServer, actID int64) sdk.Wallet {
	t.Helper()
	w := must(t, s.query(t, mint(t, actID), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	return sdk.Wallet{Balance: num(w["balance"]), Settled: num(w["settled"]), Pending: num(w["pending"]), CumulativeIncome: num(w["cumulativeIncome"])}
}

func apiHasReward(t *testing.T, s *testServer, actID int64, scene string) bool {
	t.Helper()
	r := must(t, s.query(t, mint(t, actID), `query($a: ID!, $s: ID!) { hasReward(activityId: $a, sceneId: $s) }`, map[string]any{"a": demoParent, "s": scene}))
	return r["hasReward"].(bool)
}

// setSwitch flips a switch through the admin API and waits until the SDK follows.
func setSwitch(t *testing.T, s *testServer, name string, on bool, follows func() bool) {
	t.Helper()
	must(t, s.admin(t, mint(t, 1, "operator"), `mutation($n: String!, $e: Boolean!) { setSwitch(name: $n, enabled: $e, reason: "sdk test") { enabled } }`,
		map[string]any{"n": name, "e": on}))
	deadline := time.Now().Add(time.Second) // the contract: every instance within 1 s
	for !follows() {
		if time.Now().After(deadline) {
			t.Fatalf("the SDK did not follow switch %s=%v within 1 s", name, on)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSDKAnswersEqualTheAPI asks the SDK and the API the same questions about the same
// accounts: with the settlement worker paused the answers are identical, scenario by
// scenario; under concurrent issuance and settlement every SDK answer lies between the API's
// answers just before and just after it, and adds up.
func TestSDKAnswersEqualTheAPI(t *testing.T) {
	// Request limits off: the test issues faster than a scene's rate, and compares, not limits.
	s := newTestServerWith(t, func(c *config) { c.RateLimitOff = true })
	c := openSDK(t, s)
	ctx := context.Background()
	issuer := mint(t, 1, "issuer")
	issue := func(actID int64, scene string, rain int, amount int) {
		t.Helper()
		must(t, s.query(t, issuer, issueMutation, map[string]any{"in": reissueOrder(actID, scene, rain, amount)}))
	}
	// The server's own worker pauses at once (its board changes in setSwitch itself).
	setSwitch(t, s, "settlement.worker", false, func() bool { return true })
	// Scenarios: nothing; pending only; settled only; both; a coupon only.
	issue(2, "cash-rain", 1, 30)
	issue(3, "cash-rain", 1, 40)
	must(t, s.query(t, mint(t, 3), `mutation($a: ID!) { forceSettle(activityId: $a) { settledCount } }`, map[string]any{"a": demoParent}))
	issue(4, "cash-rain", 1, 50)
	if _, err := c.ForceSettle(ctx, 4, demoParent); err != nil { // settled through the SDK
		t.Fatal(err)
	}
	issue(4, "cash-rain", 2, 7)
	issue(5, "coupon-gala", 1, 100)
	for _, actID := range []int64{1, 2, 3, 4, 5} {
		got, err := c.Wallet(ctx, actID, demoParent)
		if err != nil {
			t.Fatal(err)
		}
		if want := apiWallet(t, s, actID); got != want {
			t.Errorf("account %d: SDK wallet %+v, API %+v", actID, got, want)
		}
		for _, scene := range []string{"cash-rain", "coupon-gala"} {
			got, err := c.HasReward(ctx, actID, demoParent, scene)
			if err != nil {
				t.Fatal(err)
			}
			if want := apiHasReward(t, s, actID, scene); got != want {
				t.Errorf("account %d, %s: SDK hasReward %v, API %v", actID, scene, got, want)
			}
		}
	}
	// Errors carry the API's codes.
	_, err := c.HasReward(ctx, 2, demoParent, "no-such-scene")
	wantErr(t, s.query(t, mint(t, 2), `{ hasReward(activityId: "`+demoParent+`", sceneId: "no-such-scene") }`, nil), sdk.Code(err))
	_, err = c.Wallet(ctx, 2, "no-such-activity")
	wantErr(t, s.query(t, mint(t, 2), `{ wallet(activityId: "no-such-activity") { balance } }`, nil), sdk.Code(err))
	if _, err := c.Wallet(ctx, -1, demoParent); sdk.Code(err) != "BAD_USER_INPUT" {
		t.Fatalf("a negative account = %v", err)
	}
	// The same switches: forceSettle off is DEGRADED through both.
	setSwitch(t, s, "forcesettle", false, func() bool {
		_, err := c.ForceSettle(ctx, 2, demoParent)
		return sdk.Code(err) == "DEGRADED"
	})
	wantErr(t, s.query(t, mint(t, 2), `mutation($a: ID!) { forceSettle(activityId: $a) { settledCount } }`, map[string]any{"a": demoParent}), "DEGRADED")
	setSwitch(t, s, "forcesettle", true, func() bool { _, err := c.ForceSettle(ctx, 2, demoParent); return err == nil })

	// Under concurrent issuance and settlement.
	setSwitch(t, s, "settlement.worker", true, func() bool { return true })
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for rain := 100; !stop.Load(); rain++ {
			issue(9, "cash-rain", rain, 3)
		}
	}()
	for range 40 {
		before := apiWallet(t, s, 9)
		got, err := c.Wallet(ctx, 9, demoParent)
		if err != nil {
			t.Fatal(err)
		}
		after := apiWallet(t, s, 9)
		if got.Balance != got.Settled+got.Pending || got.Balance < before.Balance || got.Balance > after.Balance ||
			got.CumulativeIncome < before.CumulativeIncome || got.CumulativeIncome > after.CumulativeIncome {
			t.Fatalf("SDK wallet %+v outside the API's %+v .. %+v", got, before, after)
		}
	}
	stop.Store(true)
	wg.Wait()
}

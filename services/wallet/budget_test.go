package wallet

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
)

// tightScene defines scene id on the production child with the given budget and the default
// 10% reserve.
func (f *fixture) tightScene(t *testing.T, id string, budget int64) {
	t.Helper()
	if _, err := f.s.catalog.UpsertScene(context.Background(), activity.SceneInput{ActivityID: childID, SceneID: id, AwardType: AwardCash, BudgetTotal: budget, ReservePPM: -1}); err != nil {
		t.Fatal(err)
	}
}

func tight(actID int64, scene string, rain int, amount int64) IssueInput {
	return IssueInput{ActID: actID, AppID: 1, ActivityID: parentID, SceneID: scene, RainID: rain, AwardType: AwardCash, Amount: amount}
}

func (f *fixture) budget(t *testing.T, scene string) BudgetState {
	t.Helper()
	a, err := f.s.catalog.Lookup(context.Background(), childID)
	if err != nil {
		t.Fatal(err)
	}
	states, err := f.s.Budgets(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.SceneID == scene {
			return st
		}
	}
	t.Fatalf("no budget for scene %s", scene)
	return BudgetState{}
}

func TestBudgetReserveBoundary(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tightScene(t, "tight", 1001) // reserve ceil(100.1) = 101: at most 900 may be issued
	f.issue(t, tight(51, "tight", 1, 600))
	f.issue(t, tight(52, "tight", 1, 300))
	_, err := f.s.Issue(ctx, tight(53, "tight", 1, 1))
	wantCode(t, err, errs.BudgetExhausted)
	st := f.budget(t, "tight")
	if st.Total != 1001 || st.Issued != 900 || st.Remaining != 101 || !st.Exhausted || st.ReserveRatio != 0.1 {
		t.Fatalf("budget = %+v", st)
	}
	// Replays and conflicts charge nothing.
	f.issue(t, tight(51, "tight", 1, 600))
	_, err = f.s.Issue(ctx, tight(51, "tight", 1, 599))
	wantCode(t, err, errs.IdempotencyConflict)
	if st := f.budget(t, "tight"); st.Issued != 900 {
		t.Fatalf("after a replay and a conflict issued = %d, want 900", st.Issued)
	}
	if st := f.budget(t, "rain"); st.Exhausted || st.Issued != 0 {
		t.Fatalf("another scene's budget = %+v", st)
	}
}

func TestBudgetRaceAcrossTwoInstances(t *testing.T) {
	f := setup(t)
	f.tightScene(t, "race", 1000) // 900 issuable: exactly 90 rewards of 10
	otherWorld := *f.w
	otherWorld.Catalog = activity.NewCatalog(f.db, f.clock.Now)
	other := newService(t, &otherWorld, f.s.cfg)
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := f.s
			if i%2 == 1 {
				svc = other
			}
			_, err := svc.Issue(context.Background(), tight(int64(1000+i), "race", 1, 10))
			switch {
			case err == nil:
				ok.Add(1)
			case errs.Is(err, errs.BudgetExhausted):
				refused.Add(1)
			default:
				t.Errorf("issue: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 90 || refused.Load() != 110 {
		t.Fatalf("%d accepted, %d refused; want exactly 90 and 110", ok.Load(), refused.Load())
	}
	if st := f.budget(t, "race"); st.Issued != 900 {
		t.Fatalf("issued = %d, want 900", st.Issued)
	}
}

func TestActivityBudgetCapsAllScenes(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	cat := f.s.catalog
	if _, err := cat.UpsertActivity(ctx, activity.ActivityInput{ID: childID, ParentID: parentID, Phase: "PRODUCTION",
		StartsAt: t0, EndsAt: t0.Add(24 * time.Hour), BudgetTotal: 500}); err != nil {
		t.Fatal(err)
	}
	f.tightScene(t, "s1", 100_000)
	f.tightScene(t, "s2", 100_000)
	f.issue(t, tight(61, "s1", 1, 300))
	_, err := f.s.Issue(ctx, tight(61, "s2", 1, 201))
	wantCode(t, err, errs.BudgetExhausted)
	f.issue(t, tight(61, "s2", 1, 200))
}

func TestBudgetSurvivesRedisLoss(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tightScene(t, "durable", 1000)
	f.issue(t, tight(71, "durable", 1, 500))
	tok := f.issue(t, tight(72, "durable", 1, 100)).Token
	if _, err := f.s.ForceSettle(ctx, f.live(t), 71); err != nil {
		t.Fatal(err)
	}
	f.rdb.FlushDB(ctx) // the counters and the pending 100 are gone
	// The counter is rebuilt from the ledger: 500 settled, so 400 more would pass the 900 limit.
	_, err := f.s.Issue(ctx, tight(73, "durable", 1, 401))
	wantCode(t, err, errs.BudgetExhausted)
	// The client hands back its token: the 100 is restored and charged again.
	if _, err := f.s.Redeem(ctx, tok, 72); err != nil {
		t.Fatal(err)
	}
	if st := f.budget(t, "durable"); st.Issued != 600 {
		t.Fatalf("issued after rebuild and redeem = %d, want 600", st.Issued)
	}
	_, err = f.s.Issue(ctx, tight(73, "durable", 1, 301))
	wantCode(t, err, errs.BudgetExhausted)
	f.issue(t, tight(73, "durable", 1, 300))
}

func TestPerUserCapPerActivity(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	setCap := func(limit int64) {
		if _, err := f.s.catalog.UpsertActivity(ctx, activity.ActivityInput{ID: childID, ParentID: parentID, Phase: "PRODUCTION",
			StartsAt: t0, EndsAt: t0.Add(24 * time.Hour), PerUserCap: limit}); err != nil {
			t.Fatal(err)
		}
	}
	setCap(250)
	f.issue(t, cash(81, 1, 100))
	f.issue(t, cash(81, 2, 100))
	_, err := f.s.Issue(ctx, cash(81, 3, 100))
	wantCode(t, err, errs.LimitExceeded)
	if st := f.budget(t, "rain"); st.Issued != 200 {
		t.Fatalf("a capped issuance kept its budget reservation: issued %d, want 200", st.Issued)
	}
	f.issue(t, cash(81, 3, 50)) // exactly at the cap
	if again := f.issue(t, cash(81, 1, 100)); !again.Replayed {
		t.Fatal("a replay was refused by the cap")
	}
	f.issue(t, cash(82, 1, 250)) // another account has its own cap
	// Settled, then Redis loses the totals: they are rebuilt from the ledger.
	if _, err := f.s.ForceSettle(ctx, f.live(t), 81); err != nil {
		t.Fatal(err)
	}
	f.rdb.FlushDB(ctx)
	_, err = f.s.Issue(ctx, cash(81, 4, 1))
	wantCode(t, err, errs.LimitExceeded)
	// Raising the cap applies at once, counted from what the account already has (pending too).
	f.issue(t, cash(83, 1, 200))
	setCap(300)
	f.issue(t, cash(81, 4, 50))
	_, err = f.s.Issue(ctx, cash(81, 5, 1))
	wantCode(t, err, errs.LimitExceeded)
	f.issue(t, cash(83, 2, 100))
	_, err = f.s.Issue(ctx, cash(83, 3, 1))
	wantCode(t, err, errs.LimitExceeded)
}

package wallet

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/issuedreward"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/luascript"
)

// Budgets are reserved in Redis before a reward is recorded. Every scene of one (child)
// activity and the activity's overall counter share one hash tag (keys.go), so one script
// checks and reserves both atomically on one Redis Cluster slot, and no number of instances
// can issue past a budget.

// SceneLimit is what a scene may issue in all: its budget less the reserve, which issuance
// must always leave untouched.
func SceneLimit(sc *activity.Scene) int64 { return sc.BudgetTotal - sc.Reserve() }

// reserve takes amount from the scene's and the activity's budgets, or answers
// BUDGET_EXHAUSTED. force reserves without checking (restoring a token already issued). h is
// the caller's hold on the journal gate (epoch.go).
func (s *Service) reserve(ctx context.Context, a *activity.Activity, sc *activity.Scene, amount int64, force bool, h *inflight) error {
	keys := []string{budgetSceneKey(a.ID, sc.SceneID), budgetAllKey(a.ID), budgetMarker(a.ID)}
	activityCap := int64(-1)
	if a.BudgetTotal > 0 {
		activityCap = a.BudgetTotal
	}
	f := "0"
	if force {
		f = "1"
	}
	sceneSeed, allSeed := any("-"), any("-")
	// A few rounds: seed, lost again (Redis flushed twice in a row), seed again.
	for attempt := 0; attempt < 8; attempt++ {
		r, err := luascript.Run(ctx, s.rdb, reserveScript, keys, amount, SceneLimit(sc), activityCap, f, sceneSeed, allSeed)
		if err != nil {
			return fmt.Errorf("reserve budget: %w", err)
		}
		switch r.Outcome {
		case outcomeReserved:
			return nil
		case outcomeRefused:
			return errs.E(errs.BudgetExhausted, "scene %s's budget cannot cover %d fen (%d%% of it is kept in reserve)", sc.SceneID, amount, sc.ReservePPM/10_000)
		case outcomeLost:
			// The counters went with Redis's data: rebuild them only once the database knows
			// every reward issued before the loss, pending ones included.
			if err := s.recoverRedis(ctx, keys[2], h); err != nil {
				return err
			}
			sceneSeed, allSeed = "-", "-"
		case outcomeSeed:
			scene, all, err := s.issuedFromDB(ctx, a.ID, sc.SceneID)
			if err != nil {
				return err
			}
			sceneSeed, allSeed = scene, all
		default:
			return fmt.Errorf("reserve budget: unknown script outcome %q", r.Outcome)
		}
	}
	return fmt.Errorf("reserve budget: counters still missing after seeding")
}

func (s *Service) release(ctx context.Context, activityID, sceneID string, amount int64) {
	keys := []string{budgetSceneKey(activityID, sceneID), budgetAllKey(activityID)}
	if err := releaseScript.Run(ctx, s.rdb, keys, amount).Err(); err != nil {
		// Keeping the reservation errs on the safe side: the budget can only be under-used.
		s.log.Warn("release budget", "activity", activityID, "scene", sceneID, "amount", amount, "err", err)
	}
}

// issuedFromDB is what the database knows was issued for a scene and for the whole activity:
// the settled orders, and the journaled ones not settled yet (pending, or lost from Redis with
// its data). These are the totals a lost Redis counter is rebuilt from; rebuilt after the
// recovery has waited for every instance's journal (epoch.go), they count every reward issued
// before the loss.
func (s *Service) issuedFromDB(ctx context.Context, activityID, sceneID string) (scene, all int64, err error) {
	var settled, journaled []struct {
		SceneID string `json:"scene_id"`
		Sum     int64  `json:"sum"`
	}
	err = s.db.ReadTx(ctx, func(tx *ent.Tx) error {
		err := tx.RewardOrder.Query().Where(rewardorder.ActivityID(activityID)).
			GroupBy(rewardorder.FieldSceneID).Aggregate(ent.As(ent.Sum(rewardorder.FieldAmount), "sum")).Scan(ctx, &settled)
		if err != nil {
			return fmt.Errorf("sum issued rewards: %w", err)
		}
		err = tx.IssuedReward.Query().Where(issuedreward.ActivityID(activityID), issuedreward.Settled(false), notSettled).
			GroupBy(issuedreward.FieldSceneID).Aggregate(ent.As(ent.Sum(issuedreward.FieldAmount), "sum")).Scan(ctx, &journaled)
		if err != nil {
			return fmt.Errorf("sum journaled rewards: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	for _, r := range append(settled, journaled...) {
		all += r.Sum
		if r.SceneID == sceneID {
			scene += r.Sum
		}
	}
	return scene, all, nil
}

// BudgetState is one scene's budget as operators see it.
type BudgetState struct {
	SceneID      string
	Total        int64
	Issued       int64
	Remaining    int64
	ReserveRatio float64
	// Exhausted is true when not even 1 fen could be issued.
	Exhausted bool
}

// Budgets lists the budgets of every scene that applies to the (child) activity a.
func (s *Service) Budgets(ctx context.Context, a *activity.Activity) ([]BudgetState, error) {
	scenes, err := s.catalog.Scenes(ctx, a)
	if err != nil {
		return nil, err
	}
	out := make([]BudgetState, 0, len(scenes))
	for _, sc := range scenes {
		issued, err := s.rdb.HGet(ctx, budgetSceneKey(a.ID, sc.SceneID), "issued").Int64()
		if err == redis.Nil {
			issued, _, err = s.issuedFromDB(ctx, a.ID, sc.SceneID)
		}
		if err != nil {
			return nil, fmt.Errorf("read budget: %w", err)
		}
		out = append(out, BudgetState{
			SceneID: sc.SceneID, Total: sc.BudgetTotal, Issued: issued, Remaining: sc.BudgetTotal - issued,
			ReserveRatio: sc.ReserveRatio(), Exhausted: issued+1 > SceneLimit(sc),
		})
	}
	return out, nil
}

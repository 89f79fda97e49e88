package wallet

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/luascript"
)

// Budgets are reserved in Redis before a reward is recorded. Every scene of one (child)
// activity and the activity's overall counter share one hash tag (keys.go), so one script
// checks and reserves both atomically on one Redis Cluster slot, and no number of instances
// can issue past a budget.

// sceneLimit is what a scene may issue in all: its budget less the reserve, which issuance
// must always leave untouched.
func sceneLimit(sc *activity.Scene) int64 { return sc.BudgetTotal - sc.Reserve() }

// reserve takes amount from the scene's and the activity's budgets, or answers
// BUDGET_EXHAUSTED. force reserves without checking (restoring a token already issued).
func (s *Service) reserve(ctx context.Context, a *activity.Activity, sc *activity.Scene, amount int64, force bool) error {
	keys := []string{budgetSceneKey(a.ID, sc.SceneID), budgetAllKey(a.ID)}
	activityCap := int64(-1)
	if a.BudgetTotal > 0 {
		activityCap = a.BudgetTotal
	}
	f := "0"
	if force {
		f = "1"
	}
	sceneSeed, allSeed := any("-"), any("-")
	for attempt := 0; ; attempt++ {
		r, err := luascript.Run(ctx, s.rdb, reserveScript, keys, amount, sceneLimit(sc), activityCap, f, sceneSeed, allSeed)
		if err != nil {
			return fmt.Errorf("reserve budget: %w", err)
		}
		switch {
		case r.Outcome == outcomeReserved:
			return nil
		case r.Outcome == outcomeSeed && attempt == 0:
			scene, all, err := s.issuedFromDB(ctx, a.ID, sc.SceneID)
			if err != nil {
				return err
			}
			sceneSeed, allSeed = scene, all
			continue
		case r.Outcome == outcomeSeed:
			return fmt.Errorf("reserve budget: counters missing after seeding")
		case r.Outcome != outcomeRefused:
			return fmt.Errorf("reserve budget: unknown script outcome %q", r.Outcome)
		}
		return errs.E(errs.BudgetExhausted, "scene %s's budget cannot cover %d fen (%d%% of it is kept in reserve)", sc.SceneID, amount, sc.ReservePPM/10_000)
	}
}

func (s *Service) release(ctx context.Context, activityID, sceneID string, amount int64) {
	keys := []string{budgetSceneKey(activityID, sceneID), budgetAllKey(activityID)}
	if err := releaseScript.Run(ctx, s.rdb, keys, amount).Err(); err != nil {
		// Keeping the reservation errs on the safe side: the budget can only be under-used.
		s.log.Warn("release budget", "activity", activityID, "scene", sceneID, "amount", amount, "err", err)
	}
}

// issuedFromDB is what the database knows was issued for a scene and for the whole activity:
// the authoritative totals a lost Redis counter is rebuilt from. Rewards that were pending
// when Redis lost its data come back through redeemToken, which reserves them again.
func (s *Service) issuedFromDB(ctx context.Context, activityID, sceneID string) (scene, all int64, err error) {
	var rows []struct {
		SceneID string `json:"scene_id"`
		Sum     int64  `json:"sum"`
	}
	err = s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(activityID)).
		GroupBy(rewardorder.FieldSceneID).Aggregate(ent.As(ent.Sum(rewardorder.FieldAmount), "sum")).Scan(ctx, &rows)
	if err != nil {
		return 0, 0, fmt.Errorf("sum issued rewards: %w", err)
	}
	for _, r := range rows {
		all += r.Sum
		if r.SceneID == sceneID {
			scene = r.Sum
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
			ReserveRatio: sc.ReserveRatio(), Exhausted: issued+1 > sceneLimit(sc),
		})
	}
	return out, nil
}

package wallet

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
)

// Budgets are reserved in Redis before a reward is recorded. Every scene of one (child)
// activity and the activity's overall counter share the hash tag {b:activity}, so one script
// checks and reserves both atomically on one Redis Cluster slot, and no number of instances
// can issue past a budget.
//
//	w:b:{b:A}:s:SCENE  hash issued (fen reserved by issuance)
//	w:b:{b:A}:all      hash issued (all scenes of the activity)
func budgetSceneKey(activityID, sceneID string) string {
	return "w:b:{b:" + activityID + "}:s:" + sceneID
}
func budgetAllKey(activityID string) string { return "w:b:{b:" + activityID + "}:all" }

// reserveScript reserves ARGV[1] fen. KEYS: scene counter, activity counter.
// ARGV: amount, scene limit (total − reserve), activity limit (−1: none), force (1: reserve even
// past the limit, for a token already promised), scene seed, activity seed.
// A counter that does not exist (a new scene, or Redis lost its data) starts at its seed, the
// issued total the database knows; without seeds ("-") the script answers {-1} and the caller
// computes them, so the database is read only when a counter is missing.
// Returns {1, issued}, or {0, issued} when refused.
var reserveScript = redis.NewScript(`
for i = 1, 2 do
  if redis.call('HEXISTS', KEYS[i], 'issued') == 0 then
    if ARGV[4 + i] == '-' then return {-1, 0} end
    redis.call('HSET', KEYS[i], 'issued', ARGV[4 + i])
  end
end
local amount = tonumber(ARGV[1])
local scene = tonumber(redis.call('HGET', KEYS[1], 'issued'))
local all = tonumber(redis.call('HGET', KEYS[2], 'issued'))
if ARGV[4] ~= '1' then
  if scene + amount > tonumber(ARGV[2]) then return {0, scene} end
  local cap = tonumber(ARGV[3])
  if cap >= 0 and all + amount > cap then return {0, scene} end
end
redis.call('HINCRBY', KEYS[2], 'issued', amount)
return {1, redis.call('HINCRBY', KEYS[1], 'issued', amount)}
`)

// releaseScript gives a reservation back (the order turned out to be a replay or a conflict).
var releaseScript = redis.NewScript(`
redis.call('HINCRBY', KEYS[1], 'issued', -tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[2], 'issued', -tonumber(ARGV[1]))
return 1
`)

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
		res, err := reserveScript.Run(ctx, s.rdb, keys, amount, sceneLimit(sc), activityCap, f, sceneSeed, allSeed).Slice()
		if err != nil {
			return fmt.Errorf("reserve budget: %w", err)
		}
		switch ok, _ := res[0].(int64); {
		case ok == 1:
			return nil
		case ok == -1 && attempt == 0:
			scene, all, err := s.issuedFromDB(ctx, a.ID, sc.SceneID)
			if err != nil {
				return err
			}
			sceneSeed, allSeed = scene, all
			continue
		case ok == -1:
			return fmt.Errorf("reserve budget: counters missing after seeding")
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

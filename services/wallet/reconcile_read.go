package wallet

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Read-only views of the reward core's Redis state for reconciliation (services/reconcile),
// so the key layout stays in this package.

// BudgetCounter is one Redis budget counter: the fen issuance has reserved.
type BudgetCounter struct {
	Issued int64
	// Present is false when Redis has no counter; the next issuance rebuilds it from the
	// database.
	Present bool
}

// BudgetCounters reads the budget counters of the given scenes of a (child) activity, and its
// overall counter, in one round trip (they share one Redis Cluster slot).
func (s *Service) BudgetCounters(ctx context.Context, activityID string, sceneIDs []string) (map[string]BudgetCounter, BudgetCounter, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(sceneIDs))
	for i, id := range sceneIDs {
		cmds[i] = pipe.HGet(ctx, budgetSceneKey(activityID, id), "issued")
	}
	allCmd := pipe.HGet(ctx, budgetAllKey(activityID), "issued")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, BudgetCounter{}, fmt.Errorf("read budget counters: %w", err)
	}
	read := func(c *redis.StringCmd) (BudgetCounter, error) {
		v, err := c.Int64()
		if errors.Is(err, redis.Nil) {
			return BudgetCounter{}, nil
		}
		if err != nil {
			return BudgetCounter{}, fmt.Errorf("read budget counter: %w", err)
		}
		return BudgetCounter{Issued: v, Present: true}, nil
	}
	out := make(map[string]BudgetCounter, len(sceneIDs))
	for i, id := range sceneIDs {
		c, err := read(cmds[i])
		if err != nil {
			return nil, BudgetCounter{}, err
		}
		out[id] = c
	}
	all, err := read(allCmd)
	if err != nil {
		return nil, BudgetCounter{}, err
	}
	return out, all, nil
}

// OrderRef names one reward order of one account.
type OrderRef struct {
	ActID   int64
	OrderNo string
}

// RedisOrderState is what Redis holds about one order.
type RedisOrderState struct {
	// Status is the token status in the order's record (1 created, 2 processing, 8 success),
	// 0 when Redis has no record (it expired after OrderTTL, or was lost).
	Status int64
	// InPending is true while the order is in its account's pending hash.
	InPending bool
}

// RedisOrderStates reads the Redis state of orders of one (child) activity in one pipeline.
func (s *Service) RedisOrderStates(ctx context.Context, activityID string, refs []OrderRef) ([]RedisOrderState, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	st := make([]*redis.StringCmd, len(refs))
	pend := make([]*redis.BoolCmd, len(refs))
	for i, r := range refs {
		st[i] = pipe.HGet(ctx, orderKey(activityID, r.ActID, r.OrderNo), "st")
		pend[i] = pipe.HExists(ctx, pendingKey(activityID, r.ActID), r.OrderNo)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read order states: %w", err)
	}
	out := make([]RedisOrderState, len(refs))
	for i := range refs {
		v, err := st[i].Int64()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, fmt.Errorf("read order status: %w", err)
		default:
			out[i].Status = v
		}
		if out[i].InPending, err = pend[i].Result(); err != nil {
			return nil, fmt.Errorf("read pending order: %w", err)
		}
	}
	return out, nil
}

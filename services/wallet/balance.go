package wallet

import (
	"context"
	"fmt"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/balance"
	"github.com/springwallet/wallet/ent/issuedreward"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/switches"
)

// Balance is one account's wallet within one activity. Balance == Settled + Pending always.
type Balance struct {
	Balance, Settled, Pending, CumulativeIncome int64
}

// Pending reads an account's pending rewards in the live activity from Redis.
func (s *Service) Pending(ctx context.Context, live *activity.Live, actID int64) ([]Order, error) {
	return s.pendingOrders(ctx, live.ID, actID)
}

func (s *Service) pendingOrders(ctx context.Context, activityID string, actID int64) ([]Order, error) {
	vals, err := s.rdb.HGetAll(ctx, pendingKey(activityID, actID)).Result()
	if err != nil {
		return nil, fmt.Errorf("read pending: %w", err)
	}
	out := make([]Order, 0, len(vals))
	for _, v := range vals {
		o, err := unmarshalOrder(v)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Wallet returns the account's balance. Pending rewards are read from Redis first, then the
// settled balance, the journaled rewards not settled yet and which of all those pending orders
// are already in the database are read in one database snapshot: a reward settled after the
// Redis read is counted once, as settled, even before its Redis entry is cleared, and a pending
// reward Redis lost is still counted, from the journal. Where the account's Redis slot lost its
// data, the read waits for the recovery (epoch.go), after which the journal holds everything
// accepted before the loss: the balance and cumulativeIncome never drop on a loss.
func (s *Service) Wallet(ctx context.Context, live *activity.Live, actID int64) (Balance, error) {
	activityID := live.ID
	pending, err := s.pendingIntact(ctx, activityID, actID)
	if err != nil {
		return Balance{}, err
	}
	var b Balance
	err = s.db.ReadTx(ctx, func(tx *ent.Tx) error {
		row, err := tx.Balance.Query().Where(balance.ActivityID(activityID), balance.ActID(actID)).Only(ctx)
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("read balance: %w", err)
		default:
			b.Settled, b.CumulativeIncome = row.Settled, row.Cumulative
		}
		journaled, err := journaledPending(ctx, tx.Client(), activityID, actID)
		if err != nil {
			return err
		}
		all := unionOrders(pending, journaled)
		done, err := settledAmong(ctx, tx.Client(), activityID, all)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.IsCash() && !done[o.OrderNo] {
				b.Pending += o.Amount
			}
		}
		return nil
	})
	if err != nil {
		return Balance{}, err
	}
	b.Balance = b.Settled + b.Pending
	b.CumulativeIncome += b.Pending
	return b, nil
}

// pendingIntact reads an account's pending hash together with its slot's epoch marker (one
// round trip: they share a slot). A missing marker means the slot lost its data: the read
// waits for the recovery and reads again.
func (s *Service) pendingIntact(ctx context.Context, activityID string, actID int64) ([]Order, error) {
	marker := accountMarker(activityID, actID)
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		vals := pipe.HGetAll(ctx, pendingKey(activityID, actID))
		mark := pipe.Exists(ctx, marker)
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read pending: %w", err)
		}
		if mark.Val() == 0 && attempt == 0 {
			if err := s.recoverRedis(ctx, marker, nil); err != nil {
				return nil, err
			}
			continue
		}
		out := make([]Order, 0, len(vals.Val()))
		for _, v := range vals.Val() {
			o, err := unmarshalOrder(v)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
		return out, nil
	}
}

// unionOrders is a followed by the orders of b not in a (by order number).
func unionOrders(a, b []Order) []Order {
	if len(b) == 0 {
		return a
	}
	seen := make(map[string]bool, len(a))
	for _, o := range a {
		seen[o.OrderNo] = true
	}
	out := a
	for _, o := range b {
		if !seen[o.OrderNo] {
			seen[o.OrderNo] = true
			out = append(out, o)
		}
	}
	return out
}

// SettledAmong returns which of the live activity's given pending orders are already in the
// database (settled, their Redis cleanup still to come), in one snapshot.
func (s *Service) SettledAmong(ctx context.Context, live *activity.Live, pending []Order) (map[string]bool, error) {
	var done map[string]bool
	err := s.db.ReadTx(ctx, func(tx *ent.Tx) error {
		var err error
		done, err = settledAmong(ctx, tx.Client(), live.ID, pending)
		return err
	})
	return done, err
}

// settledAmong returns which of the pending orders are already in the database.
func settledAmong(ctx context.Context, c *ent.Client, activityID string, pending []Order) (map[string]bool, error) {
	done := map[string]bool{}
	if len(pending) == 0 {
		return done, nil
	}
	nos := make([]string, len(pending))
	for i, o := range pending {
		nos[i] = o.OrderNo
	}
	have, err := c.RewardOrder.Query().Where(rewardorder.ActivityID(activityID), rewardorder.OrderNoIn(nos...)).
		Select(rewardorder.FieldOrderNo).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("find settled orders: %w", err)
	}
	for _, no := range have {
		done[no] = true
	}
	return done, nil
}

// HasReward reports whether the account holds any reward of the scene, pending or settled.
// With its switch off it reads the database only, sparing Redis.
func (s *Service) HasReward(ctx context.Context, live *activity.Live, actID int64, sceneID string) (bool, error) {
	activityID := live.ID
	if s.switches.Enabled(switches.HasRewardPending) {
		pending, err := s.pendingOrders(ctx, activityID, actID)
		if err != nil {
			return false, err
		}
		for _, o := range pending {
			if o.SceneID == sceneID {
				return true, nil
			}
		}
	}
	ok, err := s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(activityID), rewardorder.ActID(actID), rewardorder.SceneID(sceneID)).Exist(ctx)
	if err != nil || ok {
		if err != nil {
			return false, fmt.Errorf("find reward: %w", err)
		}
		return true, nil
	}
	// A pending reward Redis lost is still the account's: the journal knows it.
	ok, err = s.db.R.IssuedReward.Query().Where(issuedreward.ActivityID(activityID), issuedreward.ActID(actID), issuedreward.Settled(false),
		issuedreward.SceneID(sceneID)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("find journaled reward: %w", err)
	}
	return ok, nil
}

package wallet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/issuedreward"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/luascript"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/token"
)

// account identifies one user's wallet within one (child) activity.
type account = ledger.Wallet

// SettleResult counts what one settlement wrote to the database.
type SettleResult struct {
	Count  int
	Amount int64 // cash only
}

// settle moves the given orders of each account from pending to settled: mark them
// processing in Redis, write them to the database in one transaction (skipping orders already
// there, so a retry never pays twice), then clear them from Redis. A crash after the commit
// leaves them pending in Redis but present in the database; balances subtract such orders, and
// the next attempt only clears them.
func (s *Service) settle(ctx context.Context, byAccount map[account][]string) (SettleResult, error) {
	accts := make([]account, 0, len(byAccount))
	for a := range byAccount {
		accts = append(accts, a)
	}
	marks, err := luascript.RunEach(ctx, s.rdb, markScript, recordCalls(accts, byAccount))
	if err != nil {
		return SettleResult{}, fmt.Errorf("mark processing: %w", err)
	}
	var orders []Order
	for i, cmd := range marks {
		vals, _ := cmd.Slice()
		for _, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // no longer pending: settled already
			}
			o, err := unmarshalOrder(str)
			if err != nil {
				s.log.Error("skip undecodable pending order", "account", accts[i], "err", err)
				continue
			}
			orders = append(orders, o)
		}
	}
	res, err := s.settleDB(ctx, orders)
	if err != nil {
		return SettleResult{}, err
	}
	if s.afterCommit != nil {
		if err := s.afterCommit(); err != nil {
			return res, err
		}
	}
	if _, err := luascript.RunEach(ctx, s.rdb, doneScript, recordCalls(accts, byAccount)); err != nil {
		return res, fmt.Errorf("clear settled: %w", err)
	}
	return res, nil
}

// recordCalls are the mark and done scripts' calls: per account, its pending hash and the
// records of the given orders, with the order numbers as arguments.
func recordCalls(accts []account, nos map[account][]string) []luascript.Call {
	calls := make([]luascript.Call, len(accts))
	for i, a := range accts {
		keys := make([]string, 0, len(nos[a])+1)
		keys = append(keys, pendingKey(a.ActivityID, a.ActID))
		args := make([]any, len(nos[a]))
		for j, no := range nos[a] {
			keys = append(keys, orderKey(a.ActivityID, a.ActID, no))
			args[j] = no
		}
		calls[i] = luascript.Call{Keys: keys, Args: args}
	}
	return calls
}

// settleDB writes the orders not yet in the database, their ledger transactions (cash: the
// scene's budget → the user; other award types: the budget → the type's asset account, at
// face value) and their assets, in one transaction.
func (s *Service) settleDB(ctx context.Context, orders []Order) (SettleResult, error) {
	if len(orders) == 0 {
		return SettleResult{}, nil
	}
	// Keep a settlement going when its caller leaves: a half-read batch is retried anyway,
	// but a commit cut short by a closing request only wastes work.
	ctx, cancel := lifecycle.Detach(ctx, s.cfg.SettleTimeout)
	defer cancel()
	var res SettleResult
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		res = SettleResult{}
		fresh, err := unsettled(ctx, tx, orders)
		if err != nil {
			return err
		}
		// Every order of the batch is in reward_orders once this commits (those already there
		// too: their journal rows may have been written after their settlement).
		if err := markJournalSettled(ctx, tx, orders, true); err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		now := store.Time(s.now())
		creates := make([]*ent.RewardOrderCreate, 0, len(fresh))
		txns := make([]ledger.Txn, 0, len(fresh))
		var assets []*ent.AssetCreate
		actIDs := map[int64]int{}
		for _, o := range fresh {
			creates = append(creates, tx.RewardOrder.Create().SetActivityID(o.ActivityID).SetOrderNo(o.OrderNo).
				SetActID(o.ActID).SetAppID(o.AppID).SetSceneID(o.SceneID).SetRainID(o.RainID).SetAwardType(o.AwardType).
				SetStage(o.Stage).SetAmount(o.Amount).SetStatus(token.StatusSuccess).SetToken(o.Token).SetIssuedAt(o.IssuedAt()).SetSettledAt(now))
			actIDs[o.ActID] = o.AppID
			res.Count++
			txns = append(txns, rewardTxn(o, now))
			if !o.IsCash() {
				assets = append(assets, tx.Asset.Create().SetActivityID(o.ActivityID).SetActID(o.ActID).SetOrderNo(o.OrderNo).
					SetSceneID(o.SceneID).SetAwardType(o.AwardType).SetFaceValue(o.Amount))
				continue
			}
			res.Amount += o.Amount
		}
		if err := ensureAccounts(ctx, tx, actIDs); err != nil {
			return err
		}
		if err := tx.RewardOrder.CreateBulk(creates...).Exec(ctx); err != nil {
			return fmt.Errorf("insert reward orders: %w", err)
		}
		if len(assets) > 0 {
			if err := tx.Asset.CreateBulk(assets...).Exec(ctx); err != nil {
				return fmt.Errorf("insert assets: %w", err)
			}
		}
		return ledger.Post(ctx, tx, txns...)
	})
	if err != nil {
		return SettleResult{}, fmt.Errorf("settle batch: %w", err)
	}
	return res, nil
}

// RewardTxnID is the ledger transaction id of one settled reward.
func RewardTxnID(activityID, orderNo string) string { return "reward:" + activityID + ":" + orderNo }

// rewardTxn is the ledger transaction that settles one reward: cash moves from the scene's
// budget to the user (counted as income); any other award type moves its face value from the
// budget to the type's asset account, so the ledger tells the whole budget story.
func rewardTxn(o Order, at time.Time) ledger.Txn {
	t := ledger.Txn{ID: RewardTxnID(o.ActivityID, o.OrderNo), ActivityID: o.ActivityID, Ref: o.OrderNo, At: at}
	if o.IsCash() {
		t.Kind, t.Income = ledger.KindReward, true
		t.Legs = []ledger.Leg{ledger.System(ledger.BudgetAccount(o.SceneID), -o.Amount), ledger.User(o.ActID, o.Amount)}
	} else {
		t.Kind = ledger.KindAssetGrant
		t.Legs = []ledger.Leg{ledger.System(ledger.BudgetAccount(o.SceneID), -o.Amount), ledger.System(ledger.AssetAccount(o.AwardType), o.Amount)}
	}
	return t
}

// unsettled returns the orders that are not in the database yet (one indexed query per
// activity), without duplicates.
func unsettled(ctx context.Context, tx *ent.Tx, orders []Order) ([]Order, error) {
	byActivity := map[string][]Order{}
	for _, o := range orders {
		byActivity[o.ActivityID] = append(byActivity[o.ActivityID], o)
	}
	var out []Order
	for act, group := range byActivity {
		known, err := settledAmong(ctx, tx.Client(), act, group)
		if err != nil {
			return nil, err
		}
		for _, o := range group {
			if !known[o.OrderNo] {
				known[o.OrderNo] = true // a duplicate in the batch is written once
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// ensureAccounts records the accounts and the apps they were seen on.
func ensureAccounts(ctx context.Context, tx *ent.Tx, actIDs map[int64]int) error {
	ids := make([]int64, 0, len(actIDs))
	for id := range actIDs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if err := ledger.RecordAccount(ctx, tx, id); err != nil {
			return err
		}
		if err := tx.AppBinding.Create().SetActID(id).SetAppID(actIDs[id]).OnConflict().DoNothing().Exec(ctx); err != nil && !ledger.IsNoRows(err) {
			return fmt.Errorf("record app binding: %w", err)
		}
	}
	return nil
}

// SettleOnDemand is forceSettle as users call it: ForceSettle unless switched off.
func (s *Service) SettleOnDemand(ctx context.Context, live *activity.Live, actID int64) (SettleResult, error) {
	if !s.switches.Enabled(switches.ForceSettle) {
		return SettleResult{}, Degraded("settling on demand")
	}
	return s.ForceSettle(ctx, live, actID)
}

// ForceSettle settles every pending reward of one account in the live activity now: those
// pending in Redis, and the journaled ones Redis lost.
func (s *Service) ForceSettle(ctx context.Context, live *activity.Live, actID int64) (SettleResult, error) {
	nos, err := s.rdb.HKeys(ctx, pendingKey(live.ID, actID)).Result()
	if err != nil {
		return SettleResult{}, fmt.Errorf("read pending: %w", err)
	}
	var res SettleResult
	if len(nos) > 0 {
		if res, err = s.settle(ctx, map[account][]string{{ActivityID: live.ID, ActID: actID}: nos}); err != nil {
			return res, err
		}
	}
	journaled, err := journaledPending(ctx, s.db.R, live.ID, actID)
	if err != nil {
		return res, err
	}
	inRedis := make(map[string]bool, len(nos))
	for _, no := range nos {
		inRedis[no] = true
	}
	var lost []Order
	for _, o := range journaled {
		if !inRedis[o.OrderNo] {
			lost = append(lost, o)
		}
	}
	more, err := s.settleDB(ctx, lost)
	res.Count += more.Count
	res.Amount += more.Amount
	return res, err
}

// consumerGroup is the settlement workers' Redis Streams consumer group.
const consumerGroup = "settlers"

// Settler settles queued rewards in the background. Any number of them, in any number of
// processes, share the streams through one consumer group.
type Settler struct {
	s        *Service
	consumer string
	block    time.Duration
}

// Settler returns a settlement worker named uniquely among the workers sharing the streams.
func (s *Service) Settler() *Settler {
	host, _ := os.Hostname()
	return &Settler{s: s, consumer: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano()), block: time.Second}
}

// Run settles until ctx ends, then finishes the batches in hand and returns.
func (w *Settler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for shard := 0; shard < w.s.cfg.Shards; shard++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.runShard(ctx, shard)
		}()
	}
	wg.Wait()
	return nil
}

func (w *Settler) runShard(ctx context.Context, shard int) {
	stream := streamKey(shard)
	lastClaim := time.Time{}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if !w.s.switches.Enabled(switches.SettlementWorker) {
			lifecycle.Sleep(ctx, 250*time.Millisecond)
			continue
		}
		if err := w.ensureGroup(ctx, stream); err != nil {
			w.s.log.Warn("settlement stream unavailable", "stream", stream, "err", err)
			lifecycle.Sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		var msgs []redis.XMessage
		var err error
		if time.Since(lastClaim) > w.s.cfg.ClaimIdle/3 {
			lastClaim = time.Now()
			msgs, _, err = w.s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: stream, Group: consumerGroup, Consumer: w.consumer, MinIdle: w.s.cfg.ClaimIdle, Start: "0-0", Count: int64(w.s.cfg.BatchSize),
			}).Result()
		}
		if err == nil && len(msgs) == 0 {
			var streams []redis.XStream
			streams, err = w.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: consumerGroup, Consumer: w.consumer, Streams: []string{stream, ">"}, Count: int64(w.s.cfg.BatchSize), Block: w.block,
			}).Result()
			if len(streams) > 0 {
				msgs = streams[0].Messages
			}
		}
		if errors.Is(err, redis.Nil) || (err != nil && ctx.Err() != nil) {
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "NOGROUP") {
				continue // the stream was flushed; ensureGroup recreates it
			}
			w.s.log.Warn("read settlement stream", "stream", stream, "err", err)
			lifecycle.Sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(msgs) == 0 {
			continue
		}
		// The batch in hand is finished even when shutdown begins, so nothing is left half
		// done; its own deadline keeps a stuck database from holding shutdown forever.
		bctx, cancel := lifecycle.Detach(ctx, w.s.cfg.SettleTimeout)
		err = w.process(bctx, stream, msgs)
		cancel()
		if err != nil {
			w.s.log.Error("settle batch", "stream", stream, "jobs", len(msgs), "err", err)
			lifecycle.Sleep(ctx, backoff)
		}
	}
}

func (w *Settler) ensureGroup(ctx context.Context, stream string) error {
	err := w.s.rdb.XGroupCreateMkStream(ctx, stream, consumerGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// process settles one batch of jobs and acknowledges them; on error nothing is acknowledged
// and the jobs are claimed again after ClaimIdle.
func (w *Settler) process(ctx context.Context, stream string, msgs []redis.XMessage) error {
	byAccount := map[account][]string{}
	ids := make([]string, 0, len(msgs))
	seen := map[string]bool{}
	for _, m := range msgs {
		ids = append(ids, m.ID)
		act, _ := m.Values["a"].(string)
		u, _ := m.Values["u"].(string)
		no, _ := m.Values["o"].(string)
		actID, err := strconv.ParseInt(u, 10, 64)
		if err != nil || act == "" || no == "" {
			w.s.log.Error("drop malformed settlement job", "id", m.ID, "values", m.Values)
			continue
		}
		a := account{ActivityID: act, ActID: actID}
		if k := act + "\x00" + u + "\x00" + no; !seen[k] {
			seen[k] = true
			byAccount[a] = append(byAccount[a], no)
		}
	}
	if _, err := w.s.settle(ctx, byAccount); err != nil {
		return err
	}
	pipe := w.s.rdb.Pipeline()
	pipe.XAck(ctx, stream, consumerGroup, ids...)
	pipe.XDel(ctx, stream, ids...)
	_, err := pipe.Exec(ctx)
	return err
}

// Sweeper re-queues pending rewards whose settlement job was lost, every SweepAge/2.
type Sweeper struct{ s *Service }

// Sweeper returns the sweeper worker.
func (s *Service) Sweeper() *Sweeper { return &Sweeper{s: s} }

// Run sweeps until ctx ends.
func (w *Sweeper) Run(ctx context.Context) error {
	return lifecycle.Every(ctx, w.s.log, w.s.cfg.SweepAge/2, "re-queue stale pending rewards", func(ctx context.Context) (int, error) {
		if !w.s.switches.Enabled(switches.SettlementSweeper) {
			return 0, nil
		}
		return w.s.Sweep(ctx)
	})
}

// Sweep re-queues pending rewards older than SweepAge: jobs that were never queued (the
// issuing process died between recording and queueing) or whose stream was lost. Then it
// settles, from the journal, rewards older than SweepAge that Redis lost (while the
// settlement worker's switch is on), and catches up journal rows whose settlement it missed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	n, err := s.requeue(ctx)
	if err != nil || !s.switches.Enabled(switches.SettlementWorker) {
		return n, err
	}
	m, err := s.settleLost(ctx)
	return n + m, err
}

// lostBatch is how many journal rows one sweep examines.
const lostBatch = 1000

// settleLost settles the oldest journaled rewards not settled yet that Redis no longer holds
// pending: Redis lost them with its data. Those still pending in Redis are left to the
// settlement worker; those settled already only get their journal rows marked.
func (s *Service) settleLost(ctx context.Context) (int, error) {
	cutoff := store.Time(s.now().Add(-s.cfg.SweepAge))
	rows, err := s.db.R.IssuedReward.Query().Where(issuedreward.Settled(false), issuedreward.IssuedAtLT(cutoff)).
		Order(ent.Asc(issuedreward.FieldIssuedAt)).Limit(lostBatch).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("read journal: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	pipe := s.rdb.Pipeline()
	held := make([]*redis.BoolCmd, len(rows))
	for i, r := range rows {
		held[i] = pipe.HExists(ctx, pendingKey(r.ActivityID, r.ActID), r.OrderNo)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("read pending: %w", err)
	}
	var lost []Order
	for i, r := range rows {
		if !held[i].Val() {
			lost = append(lost, journalOrder(r))
		}
	}
	res, err := s.settleDB(ctx, lost)
	if err != nil {
		return 0, err
	}
	if res.Count > 0 {
		s.log.Warn("settled rewards redis had lost, from the journal", "count", res.Count, "amount", res.Amount)
	}
	return res.Count, nil
}

// requeue is the sweep's first half: pending rewards older than SweepAge are queued again.
func (s *Service) requeue(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.SweepAge).UnixMilli()
	var mu sync.Mutex
	total := 0
	err := luascript.EachNode(ctx, s.rdb, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pendingKeyPattern(), 500).Iterator()
		for iter.Next(ctx) {
			vals, err := c.HGetAll(ctx, iter.Val()).Result()
			if err != nil {
				return err
			}
			for _, v := range vals {
				o, err := unmarshalOrder(v)
				if err != nil || o.IssuedAtMs > cutoff {
					continue
				}
				if err := s.enqueue(ctx, o.ActivityID, o.ActID, o.OrderNo); err != nil {
					return err
				}
				mu.Lock()
				total++
				mu.Unlock()
			}
		}
		return iter.Err()
	})
	if err != nil {
		return total, fmt.Errorf("sweep: %w", err)
	}
	return total, nil
}

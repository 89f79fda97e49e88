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
	"github.com/springwallet/wallet/ent/balance"
)

// account identifies one user's wallet within one (child) activity.
type account struct {
	activityID string
	actID      int64
}

// Ledger account names and transaction kinds.
const (
	KindReward = "REWARD"
)

func userAccount(actID int64) string      { return "user:" + strconv.FormatInt(actID, 10) }
func budgetAccount(sceneID string) string { return "budget:" + sceneID }

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
	marks, err := s.runPerAccount(ctx, markScript, accts, byAccount)
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
	if _, err := s.runPerAccount(ctx, doneScript, accts, byAccount); err != nil {
		return res, fmt.Errorf("clear settled: %w", err)
	}
	return res, nil
}

// runPerAccount runs one script per account in a single pipeline (one round trip per Redis
// node, not per account), loading the script first when Redis does not have it cached.
func (s *Service) runPerAccount(ctx context.Context, script *redis.Script, accts []account, nos map[account][]string) ([]*redis.Cmd, error) {
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(accts))
		for i, a := range accts {
			cmds[i] = script.EvalSha(ctx, pipe, recordKeys(a, nos[a]), toAny(nos[a])...)
		}
		_, err := pipe.Exec(ctx)
		if err == nil || errors.Is(err, redis.Nil) {
			return cmds, nil
		}
		if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Redis restarted or flushed its script cache: load the script everywhere and retry.
			if err := loadScript(ctx, s.rdb, script); err != nil {
				return nil, err
			}
			continue
		}
		return nil, err
	}
}

// loadScript caches a script on every node (all masters of a cluster).
func loadScript(ctx context.Context, c redis.UniversalClient, script *redis.Script) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return script.Load(ctx, n).Err() })
	}
	return script.Load(ctx, c).Err()
}

func recordKeys(acct account, nos []string) []string {
	keys := make([]string, 0, len(nos)+1)
	keys = append(keys, pendingKey(acct.activityID, acct.actID))
	for _, no := range nos {
		keys = append(keys, orderKey(acct.activityID, acct.actID, no))
	}
	return keys
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// settleDB writes the orders not yet in the database, with their ledger legs and balance
// changes, in one transaction.
func (s *Service) settleDB(ctx context.Context, orders []Order) (SettleResult, error) {
	if len(orders) == 0 {
		return SettleResult{}, nil
	}
	// Keep a settlement going when its caller leaves: a half-read batch is retried anyway,
	// but a commit cut short by a closing request only wastes work.
	ctx = context.WithoutCancel(ctx)
	var res SettleResult
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		res = SettleResult{}
		fresh, err := unsettled(ctx, tx, orders)
		if err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		now := dbTime(s.now())
		creates := make([]*ent.RewardOrderCreate, 0, len(fresh))
		var legs []*ent.LedgerEntryCreate
		var assets []*ent.AssetCreate
		credit := map[account]int64{}
		actIDs := map[int64]int{}
		for _, o := range fresh {
			creates = append(creates, tx.RewardOrder.Create().SetActivityID(o.ActivityID).SetOrderNo(o.OrderNo).
				SetActID(o.ActID).SetAppID(o.AppID).SetSceneID(o.SceneID).SetRainID(o.RainID).SetAwardType(o.AwardType).
				SetStage(o.Stage).SetAmount(o.Amount).SetStatus(8).SetToken(o.Token).SetIssuedAt(o.IssuedAt()).SetSettledAt(now))
			actIDs[o.ActID] = o.AppID
			res.Count++
			if !o.IsCash() {
				assets = append(assets, tx.Asset.Create().SetActivityID(o.ActivityID).SetActID(o.ActID).SetOrderNo(o.OrderNo).
					SetSceneID(o.SceneID).SetAwardType(o.AwardType).SetFaceValue(o.Amount))
				continue
			}
			txn := "reward:" + o.ActivityID + ":" + o.OrderNo
			legs = append(legs,
				tx.LedgerEntry.Create().SetTxnID(txn).SetActivityID(o.ActivityID).SetAccount(budgetAccount(o.SceneID)).
					SetAmount(-o.Amount).SetKind(KindReward).SetRef(o.OrderNo).SetCreatedAt(now),
				tx.LedgerEntry.Create().SetTxnID(txn).SetActivityID(o.ActivityID).SetAccount(userAccount(o.ActID)).
					SetActID(o.ActID).SetAmount(o.Amount).SetKind(KindReward).SetRef(o.OrderNo).SetCreatedAt(now))
			credit[account{o.ActivityID, o.ActID}] += o.Amount
			res.Amount += o.Amount
		}
		if err := ensureAccounts(ctx, tx, actIDs); err != nil {
			return err
		}
		if err := tx.RewardOrder.CreateBulk(creates...).Exec(ctx); err != nil {
			return fmt.Errorf("insert reward orders: %w", err)
		}
		if len(legs) > 0 {
			if err := tx.LedgerEntry.CreateBulk(legs...).Exec(ctx); err != nil {
				return fmt.Errorf("insert ledger: %w", err)
			}
		}
		if len(assets) > 0 {
			if err := tx.Asset.CreateBulk(assets...).Exec(ctx); err != nil {
				return fmt.Errorf("insert assets: %w", err)
			}
		}
		return applyCredits(ctx, tx, credit, true)
	})
	if err != nil {
		return SettleResult{}, fmt.Errorf("settle batch: %w", err)
	}
	return res, nil
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
		known, err := settledAmong(ctx, tx, act, group)
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
		if err := recordAccount(ctx, tx, id); err != nil {
			return err
		}
		if err := tx.AppBinding.Create().SetActID(id).SetAppID(actIDs[id]).OnConflict().DoNothing().Exec(ctx); err != nil && !isNoRows(err) {
			return fmt.Errorf("record app binding: %w", err)
		}
	}
	return nil
}

func isNoRows(err error) bool { return err != nil && strings.Contains(err.Error(), "no rows") }

// applyCredits adds signed amounts to balances, creating rows as needed. income says whether
// credits count toward cumulative income.
func applyCredits(ctx context.Context, tx *ent.Tx, credit map[account]int64, income bool) error {
	accts := make([]account, 0, len(credit))
	for a := range credit {
		accts = append(accts, a)
	}
	// A fixed order keeps concurrent transactions from deadlocking on PostgreSQL row locks.
	sort.Slice(accts, func(i, j int) bool {
		if accts[i].activityID != accts[j].activityID {
			return accts[i].activityID < accts[j].activityID
		}
		return accts[i].actID < accts[j].actID
	})
	for _, a := range accts {
		amt := credit[a]
		var cum int64
		if income && amt > 0 {
			cum = amt
		}
		err := tx.Balance.Create().SetActivityID(a.activityID).SetActID(a.actID).SetSettled(amt).SetCumulative(cum).
			OnConflictColumns(balance.FieldActivityID, balance.FieldActID).
			Update(func(u *ent.BalanceUpsert) {
				u.AddSettled(amt)
				if cum != 0 {
					u.AddCumulative(cum)
				}
			}).Exec(ctx)
		if err != nil {
			return fmt.Errorf("update balance: %w", err)
		}
	}
	return nil
}

// SettleOnDemand is forceSettle as users call it: ForceSettle unless switched off.
func (s *Service) SettleOnDemand(ctx context.Context, activityID string, actID int64) (SettleResult, error) {
	if !s.switches.Enabled(SwitchForceSettle) {
		return SettleResult{}, degraded("settling on demand")
	}
	return s.ForceSettle(ctx, activityID, actID)
}

// ForceSettle settles every pending reward of one account now.
func (s *Service) ForceSettle(ctx context.Context, activityID string, actID int64) (SettleResult, error) {
	nos, err := s.rdb.HKeys(ctx, pendingKey(activityID, actID)).Result()
	if err != nil {
		return SettleResult{}, fmt.Errorf("read pending: %w", err)
	}
	if len(nos) == 0 {
		return SettleResult{}, nil
	}
	return s.settle(ctx, map[account][]string{{activityID, actID}: nos})
}

// consumerGroup is the settlement workers' Redis Streams consumer group.
const consumerGroup = "settlers"

// Worker settles queued rewards in the background. Any number of workers, in any number of
// processes, share the streams through one consumer group.
type Worker struct {
	s        *Service
	consumer string
	block    time.Duration
	wg       sync.WaitGroup
}

// NewWorker returns a settlement worker named uniquely among the workers sharing the streams.
func (s *Service) NewWorker() *Worker {
	host, _ := os.Hostname()
	return &Worker{s: s, consumer: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano()), block: time.Second}
}

// Run settles until ctx ends, then finishes the batch in hand and returns.
func (w *Worker) Run(ctx context.Context) {
	for shard := 0; shard < w.s.cfg.Shards; shard++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.runShard(ctx, shard)
		}()
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.sweepLoop(ctx)
	}()
	w.wg.Wait()
}

func (w *Worker) runShard(ctx context.Context, shard int) {
	stream := streamKey(shard)
	lastClaim := time.Time{}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if !w.s.switches.Enabled(SwitchSettleWorker) {
			sleep(ctx, 250*time.Millisecond)
			continue
		}
		if err := w.ensureGroup(ctx, stream); err != nil {
			w.s.log.Warn("settlement stream unavailable", "stream", stream, "err", err)
			sleep(ctx, backoff)
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
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(msgs) == 0 {
			continue
		}
		// The batch in hand is finished even when shutdown begins, so nothing is left half done.
		if err := w.process(context.WithoutCancel(ctx), stream, msgs); err != nil {
			w.s.log.Error("settle batch", "stream", stream, "jobs", len(msgs), "err", err)
			sleep(ctx, backoff)
		}
	}
}

func (w *Worker) ensureGroup(ctx context.Context, stream string) error {
	err := w.s.rdb.XGroupCreateMkStream(ctx, stream, consumerGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// process settles one batch of jobs and acknowledges them; on error nothing is acknowledged
// and the jobs are claimed again after ClaimIdle.
func (w *Worker) process(ctx context.Context, stream string, msgs []redis.XMessage) error {
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
		a := account{act, actID}
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

func (w *Worker) sweepLoop(ctx context.Context) {
	w.s.repeat(ctx, w.s.cfg.SweepAge/2, "re-queue stale pending rewards", func(ctx context.Context) (int, error) {
		if !w.s.switches.Enabled(SwitchSweeper) {
			return 0, nil
		}
		return w.s.Sweep(ctx)
	})
}

// repeat runs job every interval until ctx ends, logging what it did and what failed: the
// shape of every background chore that catches up on work another path may have left.
func (s *Service) repeat(ctx context.Context, interval time.Duration, what string, job func(context.Context) (int, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := job(ctx); err != nil {
				s.log.Warn(what, "err", err)
			} else if n > 0 {
				s.log.Info(what, "count", n)
			}
		}
	}
}

// Sweep re-queues pending rewards older than SweepAge: jobs that were never queued (the
// issuing process died between recording and queueing) or whose stream was lost.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.SweepAge).UnixMilli()
	var mu sync.Mutex
	total := 0
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "w:{*}:p", 500).Iterator()
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
				if err := s.enqueue(ctx, s.rdb, o.ActivityID, o.ActID, o.OrderNo); err != nil {
					return err
				}
				mu.Lock()
				total++
				mu.Unlock()
			}
		}
		return iter.Err()
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("sweep: unsupported redis client %T", s.rdb)
	}
	return total, err
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

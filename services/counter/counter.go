// Package counter keeps hot totals (amount and count issued per activity and scene) the way
// the reference design's "solution 2" does: each instance adds to local atomic counters and
// pushes their deltas to one Redis hash once a second. Requests never wait on Redis for a
// counter; reads are served from the instance's cache plus its unpushed delta, falling back
// to Redis for keys it has not seen. The totals feed statistics and alerts, never budget
// decisions (budgets are reserved atomically in Redis on their own).
package counter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/services/lifecycle"
)

// Counter is one instance's view of a family of totals, stored as fields of Redis hashes.
type Counter struct {
	rdb      redis.UniversalClient
	log      *slog.Logger
	interval time.Duration
	mu       sync.RWMutex
	cells    map[cellKey]*cell
	flushes  atomic.Int64
}

type cellKey struct{ hash, field string }

type cell struct {
	// delta is what this instance added since its last push.
	delta atomic.Int64
	// global is the Redis total as of the last push or read (-1: never known).
	global atomic.Int64
}

// New returns a Counter pushing every interval (one second in production).
func New(rdb redis.UniversalClient, log *slog.Logger, interval time.Duration) *Counter {
	return &Counter{rdb: rdb, log: log, interval: interval, cells: map[cellKey]*cell{}}
}

func (c *Counter) cell(hash, field string) *cell {
	k := cellKey{hash, field}
	c.mu.RLock()
	x := c.cells[k]
	c.mu.RUnlock()
	if x != nil {
		return x
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if x = c.cells[k]; x == nil {
		x = &cell{}
		x.global.Store(-1)
		c.cells[k] = x
	}
	return x
}

// Add adds n to a total: one atomic add in memory, nothing else.
func (c *Counter) Add(hash, field string, n int64) { c.cell(hash, field).delta.Add(n) }

// Get returns a total: the cached Redis value plus this instance's unpushed delta, or, for a
// total this instance has not seen pushed, a read from Redis.
func (c *Counter) Get(ctx context.Context, hash, field string) (int64, error) {
	x := c.cell(hash, field)
	g := x.global.Load()
	if g < 0 {
		v, err := c.rdb.HGet(ctx, hash, field).Int64()
		if err != nil && err != redis.Nil {
			return 0, fmt.Errorf("read counter: %w", err)
		}
		x.global.CompareAndSwap(-1, v)
		g = x.global.Load()
	}
	return g + x.delta.Load(), nil
}

// Flush pushes every unpushed delta to Redis in one pipeline and refreshes the cached totals.
// A delta that fails to reach Redis is put back, so a Redis outage delays totals but loses
// nothing.
func (c *Counter) Flush(ctx context.Context) error {
	c.mu.RLock()
	keys := make([]cellKey, 0, len(c.cells))
	cells := make([]*cell, 0, len(c.cells))
	for k, x := range c.cells {
		keys = append(keys, k)
		cells = append(cells, x)
	}
	c.mu.RUnlock()
	if len(keys) == 0 {
		return nil
	}
	deltas := make([]int64, len(cells))
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(cells))
	for i, x := range cells {
		deltas[i] = x.delta.Swap(0)
		// HINCRBY 0 reads the current total in the same round trip.
		cmds[i] = pipe.HIncrBy(ctx, keys[i].hash, keys[i].field, deltas[i])
	}
	_, err := pipe.Exec(ctx)
	for i, cmd := range cmds {
		if cmd.Err() != nil {
			cells[i].delta.Add(deltas[i]) // not pushed: keep it for the next flush
			continue
		}
		cells[i].global.Store(cmd.Val())
	}
	c.flushes.Add(1)
	if err != nil {
		return fmt.Errorf("push counters: %w", err)
	}
	return nil
}

// Run pushes every interval until ctx ends, then pushes once more so a graceful shutdown
// loses nothing.
func (c *Counter) Run(ctx context.Context) error {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := lifecycle.Detach(ctx, 5*time.Second)
			defer cancel()
			if err := c.Flush(fctx); err != nil {
				return fmt.Errorf("final counter push: %w", err)
			}
			return nil
		case <-t.C:
			if err := c.Flush(ctx); err != nil {
				c.log.Warn("push counters", "err", err)
			}
		}
	}
}

// Total is one counter's value as this instance knows it.
type Total struct {
	Hash, Field string
	Value       int64
}

// Snapshot returns the totals this instance has seen pushed or read, plus its unpushed deltas,
// without touching Redis (metrics scrape it).
func (c *Counter) Snapshot() []Total {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Total, 0, len(c.cells))
	for k, x := range c.cells {
		if g := x.global.Load(); g >= 0 {
			out = append(out, Total{Hash: k.hash, Field: k.field, Value: g + x.delta.Load()})
		}
	}
	return out
}

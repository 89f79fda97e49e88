// Package ratelimit decides whether a request may go ahead, with GCRA limits kept in Redis
// (redis_rate), so every instance shares one budget per key. When Redis cannot answer, a local
// in-memory GCRA takes over: requests that read fail open under the local limit, requests that
// move money fail closed.
package ratelimit

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a rate with a burst, as redis_rate defines it.
type Limit = redis_rate.Limit

// PerSecond is rate requests a second with a burst of burst.
func PerSecond(rate, burst int) Limit {
	return Limit{Rate: rate, Burst: max(burst, 1), Period: time.Second}
}

// Decision is the outcome for one request.
type Decision struct {
	Allowed    bool
	Limit      Limit
	Remaining  int
	RetryAfter time.Duration // when refused: how long until a retry may pass
	ResetAfter time.Duration // how long until the key is back to a full burst
	// Local is true when Redis did not answer and the local limiter decided.
	Local bool
}

// Limiter applies limits by key.
type Limiter struct {
	redis *redis_rate.Limiter
	local *local
	log   *slog.Logger
}

// New returns a Limiter over rdb.
func New(rdb redis.UniversalClient, log *slog.Logger) *Limiter {
	return &Limiter{redis: redis_rate.NewLimiter(rdb), local: newLocal(time.Now), log: log}
}

// Allow counts one request against key. moneyMoving selects failing closed when Redis is away.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit, moneyMoving bool) Decision {
	// The limiter must not make a request slow: a Redis that does not answer quickly is away.
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	res, err := l.redis.Allow(rctx, key, lim)
	cancel()
	if err == nil {
		return Decision{Allowed: res.Allowed > 0, Limit: lim, Remaining: res.Remaining, RetryAfter: max(res.RetryAfter, 0), ResetAfter: res.ResetAfter}
	}
	l.log.Warn("rate limiter falling back to local limits", "key", key, "err", err)
	if moneyMoving {
		return Decision{Allowed: false, Limit: lim, RetryAfter: time.Second, Local: true}
	}
	d := l.local.allow(key, lim)
	d.Local = true
	return d
}

// local is an in-memory GCRA, the same algorithm redis_rate runs, per key.
type local struct {
	now   func() time.Time
	mu    sync.Mutex
	tat   map[string]time.Time // theoretical arrival time per key
	calls int
}

func newLocal(now func() time.Time) *local {
	return &local{now: now, tat: map[string]time.Time{}}
}

func (l *local) allow(key string, lim Limit) Decision {
	now := l.now()
	interval := lim.Period / time.Duration(lim.Rate)
	tolerance := interval * time.Duration(lim.Burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%10_000 == 0 {
		for k, t := range l.tat { // forget keys back at a full burst
			if t.Before(now) {
				delete(l.tat, k)
			}
		}
	}
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	allowAt := next.Add(-tolerance)
	if allowAt.After(now) {
		return Decision{Allowed: false, Limit: lim, RetryAfter: allowAt.Sub(now), ResetAfter: tat.Sub(now)}
	}
	l.tat[key] = next
	remaining := int(math.Floor(float64(now.Sub(allowAt)) / float64(interval)))
	return Decision{Allowed: true, Limit: lim, Remaining: remaining, ResetAfter: next.Sub(now)}
}

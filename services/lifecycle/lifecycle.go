// Package lifecycle runs the service's background workers under one discipline: each is a
// Worker whose Run returns when its context ends, they start together in one Group, and
// stopping waits for them only up to a deadline. Detach gives work that must outlive its
// request a deadline of its own.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// Worker is a background job: Run works until ctx ends and then returns (nil, or why it
// stopped early).
type Worker interface {
	Run(ctx context.Context) error
}

// Func adapts a function to Worker.
type Func func(ctx context.Context) error

// Run implements Worker.
func (f Func) Run(ctx context.Context) error { return f(ctx) }

// Group runs named workers and stops them together.
type Group struct {
	log     *slog.Logger
	mu      sync.Mutex
	cancel  context.CancelFunc
	running map[string]bool
	wg      sync.WaitGroup
}

// NewGroup returns an empty Group that logs to log.
func NewGroup(log *slog.Logger) *Group { return &Group{log: log, running: map[string]bool{}} }

// Start runs every worker under ctx (each in its own goroutine). A worker that returns an error
// is logged; the others keep running.
func (g *Group) Start(ctx context.Context, workers map[string]Worker) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ctx, g.cancel = context.WithCancel(ctx)
	names := make([]string, 0, len(workers))
	for name := range workers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		w := workers[name]
		g.running[name] = true
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			if err := w.Run(ctx); err != nil {
				g.log.Error("worker stopped", "worker", name, "err", err)
			}
			g.mu.Lock()
			delete(g.running, name)
			g.mu.Unlock()
		}()
	}
}

// ErrStopTimeout means some workers were still running when Stop's deadline passed.
var ErrStopTimeout = errors.New("workers still running at the shutdown deadline")

// Stop cancels every worker and waits until they have returned or timeout has passed; then it
// names those still running. Stop on a Group never started returns nil at once.
func (g *Group) Stop(timeout time.Duration) error {
	g.mu.Lock()
	cancel := g.cancel
	g.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	names := make([]string, 0, len(g.running))
	for n := range g.running {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("%w after %s: %s", ErrStopTimeout, timeout, strings.Join(names, ", "))
}

// Detach returns a context that keeps ctx's values but not its cancellation, with a deadline
// of its own d from now: for work that must finish once begun (a debit, a settlement batch)
// even when its request goes away, yet must not hang forever.
func Detach(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Sleep waits d or until ctx ends, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Every runs job every interval until ctx ends, logging what it did and what failed: the shape
// of every background chore that catches up on work another path may have left.
func Every(ctx context.Context, log *slog.Logger, interval time.Duration, what string, job func(context.Context) (int, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := job(ctx); err != nil {
				log.Warn(what, "err", err)
			} else if n > 0 {
				log.Info(what, "count", n)
			}
		}
	}
}

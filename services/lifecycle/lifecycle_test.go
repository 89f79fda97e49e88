package lifecycle

import (
	"context"
	"errors"
	"go/ast"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/springwallet/wallet/internal/srcscan"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestStopWaitsForWorkersAndNamesThoseThatOverrun(t *testing.T) {
	g := NewGroup(quiet())
	finished := make(chan string, 2)
	g.Start(context.Background(), map[string]Worker{
		"polite": Func(func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // finishes the batch in hand
			finished <- "polite"
			return nil
		}),
		"stuck": Func(func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(time.Second) // ignores its deadline
			return nil
		}),
	})
	start := time.Now()
	err := g.Stop(200 * time.Millisecond)
	if !errors.Is(err, ErrStopTimeout) || !strings.Contains(err.Error(), "stuck") || strings.Contains(err.Error(), "polite") {
		t.Fatalf("Stop = %v, want a timeout naming only the stuck worker", err)
	}
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Fatalf("Stop took %s, past its deadline", d)
	}
	select {
	case <-finished:
	default:
		t.Fatal("the polite worker was not waited for")
	}
}

func TestStopOfWorkersThatEndInTimeIsNil(t *testing.T) {
	g := NewGroup(quiet())
	g.Start(context.Background(), map[string]Worker{"w": Func(func(ctx context.Context) error { <-ctx.Done(); return nil })})
	if err := g.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if err := NewGroup(quiet()).Stop(time.Millisecond); err != nil {
		t.Fatalf("Stop of a group never started = %v", err)
	}
}

type key struct{}

func TestDetachKeepsValuesDropsCancellationAddsDeadline(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx, stop := Detach(parent, 50*time.Millisecond)
	defer stop()
	cancel()
	if ctx.Value(key{}) != "v" {
		t.Fatal("values lost")
	}
	if ctx.Err() != nil {
		t.Fatal("the parent's cancellation reached the detached context")
	}
	dl, ok := ctx.Deadline()
	if !ok || time.Until(dl) > 50*time.Millisecond {
		t.Fatalf("deadline = %v, %v", dl, ok)
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
		t.Fatal("the detached context never ended")
	}
}

// TestNoDetachWithoutDeadline proves every piece of work that outlives its request has a
// deadline: context.WithoutCancel appears only inside Detach.
func TestNoDetachWithoutDeadline(t *testing.T) {
	hits, err := srcscan.Find(filepath.Join("..", ".."), func(n ast.Node) bool { return srcscan.Selector(n, "context", "WithoutCancel") })
	if err != nil {
		t.Fatal(err)
	}
	own := 0
	for _, h := range hits {
		if filepath.Dir(h.File) == filepath.Join("services", "lifecycle") {
			own++
			continue
		}
		t.Errorf("%s detaches a context without a deadline: use lifecycle.Detach", h.Pos)
	}
	if own != 1 {
		t.Fatalf("found %d WithoutCancel calls in Detach's own package, want 1: the scan is broken", own)
	}
}

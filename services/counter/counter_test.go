package counter

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/internal/testenv"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestTwoInstancesAgreeAfterAFlush(t *testing.T) {
	rdb := testenv.Redis(t, testenv.DBCounter)
	ctx := context.Background()
	a, b := New(rdb, quiet(), time.Second), New(rdb, quiet(), time.Second)
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			c.Add("w:c:{s:x}", "amt", 3)
		}()
	}
	wg.Wait()
	// Before any push each instance sees only itself; nothing has touched Redis.
	if got, _ := a.Get(ctx, "w:c:{s:x}", "amt"); got != 1500 {
		t.Fatalf("instance a sees %d before pushing, want its own 1500", got)
	}
	if n := rdb.Exists(ctx, "w:c:{s:x}").Val(); n != 0 {
		t.Fatal("Add wrote to Redis; it must stay local until the push")
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil { // refresh a's cache with b's push
		t.Fatal(err)
	}
	for name, c := range map[string]*Counter{"a": a, "b": b, "fresh": New(rdb, quiet(), time.Second)} {
		if got, err := c.Get(ctx, "w:c:{s:x}", "amt"); err != nil || got != 3000 {
			t.Fatalf("instance %s sees %d, %v; want 3000", name, got, err)
		}
	}
}

func TestFailedPushKeepsTheDelta(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 20 * time.Millisecond})
	defer dead.Close()
	c := New(dead, quiet(), time.Second)
	c.Add("h", "f", 7)
	if err := c.Flush(context.Background()); err == nil {
		t.Fatal("a push to an unreachable Redis reported success")
	}
	if got := c.cell("h", "f").delta.Load(); got != 7 {
		t.Fatalf("unpushed delta %d after a failed push, want 7 kept", got)
	}
}

func TestShutdownPushesWhatIsLeft(t *testing.T) {
	rdb := testenv.Redis(t, testenv.DBCounter)
	c := New(rdb, quiet(), time.Hour) // no tick would ever push
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	c.Add("w:c:{s:y}", "cnt", 5)
	cancel()
	<-done
	if got, _ := rdb.HGet(context.Background(), "w:c:{s:y}", "cnt").Int64(); got != 5 {
		t.Fatalf("Redis has %d after shutdown, want the final push of 5", got)
	}
}

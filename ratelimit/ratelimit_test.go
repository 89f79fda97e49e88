package ratelimit

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/errs"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func deadRedis(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 20 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisLimitIsSharedAndRefusesPastTheBurst(t *testing.T) {
	rdb := testenv.Redis(t, testenv.DBLimits)
	ctx := context.Background()
	one, two := New(rdb, quiet()), New(rdb, quiet()) // two instances, one budget
	lim := PerSecond(1, 3)
	for i := range 3 {
		l := one
		if i%2 == 1 {
			l = two
		}
		if d := l.Allow(ctx, "k", lim, false); !d.Allowed || d.Local {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	d := two.Allow(ctx, "k", lim, false)
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("4th request = %+v, want refused with a retry within a second", d)
	}
	if d := one.Allow(ctx, "other", lim, false); !d.Allowed {
		t.Fatal("another key was limited")
	}
}

func TestLocalFallbackWhenRedisIsAway(t *testing.T) {
	l := New(deadRedis(t), quiet())
	ctx := context.Background()
	lim := PerSecond(1, 2)
	for i := range 2 {
		if d := l.Allow(ctx, "reads", lim, false); !d.Allowed || !d.Local {
			t.Fatalf("read %d = %+v, want allowed by the local limiter", i, d)
		}
	}
	if d := l.Allow(ctx, "reads", lim, false); d.Allowed {
		t.Fatal("reads past the local burst were allowed")
	}
	if d := l.Allow(ctx, "money", lim, true); d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("a money-moving request = %+v, want refused (fail closed)", d)
	}
}

func TestLocalGCRA(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLocal(func() time.Time { return now })
	lim := PerSecond(10, 5) // one every 100 ms, bursts of 5
	for i := range 5 {
		if d := l.allow("k", lim); !d.Allowed {
			t.Fatalf("burst request %d refused", i)
		}
	}
	d := l.allow("k", lim)
	if d.Allowed || d.RetryAfter != 100*time.Millisecond {
		t.Fatalf("6th = %+v, want refused for 100ms", d)
	}
	now = now.Add(100 * time.Millisecond)
	if d := l.allow("k", lim); !d.Allowed {
		t.Fatal("refused after the emission interval passed")
	}
	if d := l.allow("k", lim); d.Allowed {
		t.Fatal("allowed twice within one interval")
	}
}

func TestPolicyPerAccountAndClass(t *testing.T) {
	rdb := testenv.Redis(t, testenv.DBLimits)
	p := DefaultPolicy(New(rdb, quiet()))
	p.Query, p.Mutation = PerSecond(1, 2), PerSecond(1, 1)
	user := func(act int64) context.Context {
		return auth.WithPrincipal(context.Background(), &auth.Principal{ActID: act, AppID: 1, Roles: []string{"user"}}, nil)
	}
	if d := p.ForOperation(user(1), "mutation"); !d.Allowed {
		t.Fatal("first mutation refused")
	}
	if d := p.ForOperation(user(1), "mutation"); d.Allowed {
		t.Fatal("second mutation allowed past a burst of 1")
	}
	if d := p.ForOperation(user(1), "query"); !d.Allowed {
		t.Fatal("queries share the mutation limit")
	}
	if d := p.ForOperation(user(2), "mutation"); !d.Allowed {
		t.Fatal("another account was limited")
	}
	if d := p.ForOperation(context.Background(), "query"); d != nil {
		t.Fatal("an anonymous request was counted")
	}
	issuer := auth.WithPrincipal(context.Background(), &auth.Principal{ActID: 1, Roles: []string{"issuer"}}, nil)
	for range 5 {
		if d := p.ForOperation(issuer, "mutation"); d != nil {
			t.Fatal("an issuer's mutations were limited per account; issuance is limited per scene")
		}
	}
	p.Off = true
	if d := p.ForOperation(user(1), "mutation"); d != nil {
		t.Fatal("limits apply with the policy off")
	}
	p.Off = false
	if err := p.AllowScene(context.Background(), "a", "s", 1); err != nil {
		t.Fatal(err)
	}
	err := p.AllowScene(context.Background(), "a", "s", 1)
	if errs.CodeOf(err) != errs.RateLimited {
		t.Fatalf("scene over its rate: %v", err)
	}
	if err := p.AllowScene(context.Background(), "a", "unlimited", 0); err != nil {
		t.Fatal("a scene with rate 0 was limited")
	}
}

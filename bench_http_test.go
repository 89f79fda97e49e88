package main

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIssueRewardHTTP is one issueReward through the whole stack: HTTP, JSON, auth,
// GraphQL parsing (cached), validation, issuance into Redis. Results are in the README.
func BenchmarkIssueRewardHTTP(b *testing.B) {
	s := newTestServer(b)
	issuer := mint(b, 1, "issuer")
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := s.query(b, issuer, issueMutation, issueVars(i%5000+1, int(i), 1))
			if len(r.Errors) > 0 {
				b.Fatal(r.Raw)
			}
		}
	})
}

// BenchmarkWalletHTTP is the wallet page's balance query through the whole stack.
func BenchmarkWalletHTTP(b *testing.B) {
	s := newTestServer(b)
	s.app.limits.Off = true // one account reads in a loop; per-account limits would refuse it
	user := mint(b, 42, "user")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := s.query(b, user, walletQuery, map[string]any{"a": demoParent}); len(r.Errors) > 0 {
				b.Fatal(r.Raw)
			}
		}
	})
}

// processCPU is this process's user plus system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSDKVersusHTTP asks the same two questions, wallet and hasReward, through the SDK
// and over HTTP/GraphQL, in one run on one machine. cpu-ns/op is this process's CPU per
// answer: over HTTP that is the client and the server together (both run here), through the
// SDK the SDK alone (there is no server side); Redis and the database are outside both.
//
//	go test -run x -bench SDKVersusHTTP -benchtime 3s .
func BenchmarkSDKVersusHTTP(b *testing.B) {
	s := newTestServerWith(b, func(c *config) { c.RateLimitOff = true })
	c := openSDK(b, s)
	ctx := context.Background()
	issuer := mint(b, 1, "issuer")
	const accounts = 200
	tokens := make([]string, accounts+1)
	for act := int64(1); act <= accounts; act++ {
		tokens[act] = mint(b, act, "user")
		if r := s.query(b, issuer, issueMutation, issueVars(act, 1, 5)); len(r.Errors) > 0 {
			b.Fatal(r.Raw)
		}
	}
	hasQuery := `query($a: ID!, $s: ID!) { hasReward(activityId: $a, sceneId: $s) }`
	hasVars := map[string]any{"a": demoParent, "s": "cash-rain"}
	walletVars := map[string]any{"a": demoParent}
	for _, bc := range []struct {
		name string
		op   func(act int64) error
	}{
		{"wallet/http", func(act int64) error { return gqlErr(s.query(b, tokens[act], walletQuery, walletVars)) }},
		{"wallet/sdk", func(act int64) error { _, err := c.Wallet(ctx, act, demoParent); return err }},
		{"hasReward/http", func(act int64) error { return gqlErr(s.query(b, tokens[act], hasQuery, hasVars)) }},
		{"hasReward/sdk", func(act int64) error { _, err := c.HasReward(ctx, act, demoParent, "cash-rain"); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var n atomic.Int64
			start := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.op(n.Add(1)%accounts + 1); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// gqlErr turns a GraphQL answer with errors into an error.
func gqlErr(r *gqlResponse) error {
	if len(r.Errors) > 0 {
		return errors.New(r.Raw)
	}
	return nil
}

package main

import (
	"sync/atomic"
	"testing"
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

package redpacket

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkSplit asserts the split's invariants: count shares, each at least 1 fen, summing to
// exactly total.
func checkSplit(t *testing.T, shares []int64, total int64, count int) {
	t.Helper()
	if len(shares) != count {
		t.Fatalf("split %d into %d: got %d shares", total, count, len(shares))
	}
	var sum int64
	for i, s := range shares {
		if s < 1 {
			t.Fatalf("split %d into %d: share %d is %d, want ≥ 1", total, count, i, s)
		}
		if sum > math.MaxInt64-s {
			t.Fatalf("split %d into %d: shares overflow", total, count)
		}
		sum += s
	}
	if sum != total {
		t.Fatalf("split %d into %d: shares sum to %d", total, count, sum)
	}
}

func testRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func TestSplitFixedShares(t *testing.T) {
	cases := []struct {
		total int64
		count int
		want  []int64
	}{
		{100, 1, []int64{100}},
		{100, 4, []int64{25, 25, 25, 25}},
		{10, 3, []int64{4, 3, 3}},
		{11, 3, []int64{4, 4, 3}},
		{5, 5, []int64{1, 1, 1, 1, 1}},
		{1001, 1000, append([]int64{2}, slices.Repeat([]int64{1}, 999)...)},
	}
	for _, tc := range cases {
		got := splitShares(tc.total, tc.count, Fixed, testRand(1))
		if !slices.Equal(got, tc.want) {
			t.Errorf("FIXED split %d into %d = %v, want %v", tc.total, tc.count, got, tc.want)
		}
	}
}

func TestSplitRefusesImpossibleSplits(t *testing.T) {
	for _, tc := range []struct {
		total int64
		count int
	}{{0, 1}, {5, 0}, {4, 5}, {-1, 1}, {10, -3}} {
		for _, mode := range []string{Random, Fixed} {
			if got := splitShares(tc.total, tc.count, mode, testRand(1)); got != nil {
				t.Errorf("%s split %d into %d = %v, want nil", mode, tc.total, tc.count, got)
			}
		}
	}
}

func TestSplitRandomProperties(t *testing.T) {
	rnd := testRand(42)
	for _, tc := range []struct {
		total int64
		count int
	}{
		{1, 1}, {2, 2}, {3, 2}, {1000, 1000}, {1001, 1000}, {2_000_000, 1000}, {2_000_000, 1},
		{100, 10}, {7, 3}, {math.MaxInt64, 1000}, {math.MaxInt64, 2},
	} {
		for range 50 {
			checkSplit(t, splitShares(tc.total, tc.count, Random, rnd), tc.total, tc.count)
		}
	}
}

// TestSplitRandomIsFair checks that every position's share averages the overall mean (the
// shuffle keeps the last share's wider spread from always going to the last grabber) and
// that shares really vary.
func TestSplitRandomIsFair(t *testing.T) {
	const total, count, runs = 10_000, 10, 20_000
	rnd := testRand(7)
	var perPos [count]int64
	distinct := map[int64]bool{}
	for range runs {
		shares := splitShares(total, count, Random, rnd)
		checkSplit(t, shares, total, count)
		for i, s := range shares {
			perPos[i] += s
			distinct[s] = true
		}
	}
	mean := float64(total) / count
	for i, sum := range perPos {
		got := float64(sum) / runs
		if math.Abs(got-mean) > mean*0.05 {
			t.Errorf("position %d averages %.1f fen, want about %.1f (positions must be fair)", i, got, mean)
		}
	}
	if len(distinct) < 500 {
		t.Errorf("only %d distinct share sizes in %d random splits", len(distinct), runs)
	}
}

func TestSplitRandomUsesItsSource(t *testing.T) {
	a := splitShares(100_000, 50, Random, testRand(3))
	b := splitShares(100_000, 50, Random, testRand(3))
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave different splits")
	}
	c := splitShares(100_000, 50, Random, newSplitRand())
	d := splitShares(100_000, 50, Random, newSplitRand())
	if slices.Equal(c, d) {
		t.Fatal("two crypto-seeded splits came out equal")
	}
}

// FuzzSplitShares runs with `go test -fuzz FuzzSplitShares ./services/redpacket/`; as a normal
// test it checks the seed corpus.
func FuzzSplitShares(f *testing.F) {
	f.Add(int64(1), 1, false, uint64(0))
	f.Add(int64(100), 10, false, uint64(1))
	f.Add(int64(100), 10, true, uint64(1))
	f.Add(int64(1000), 1000, false, uint64(2))
	f.Add(int64(1001), 1000, true, uint64(3))
	f.Add(int64(2_000_000), 1000, false, uint64(4))
	f.Add(int64(2_000_000), 7, true, uint64(5))
	f.Add(int64(math.MaxInt64), 1000, false, uint64(6))
	f.Add(int64(math.MaxInt64), 999, true, uint64(7))
	f.Add(int64(3), 2, false, uint64(8))
	f.Add(int64(0), 0, false, uint64(9))
	f.Add(int64(-5), 3, true, uint64(10))
	f.Fuzz(func(t *testing.T, total int64, count int, fixed bool, seed uint64) {
		mode := Random
		if fixed {
			mode = Fixed
		}
		if count < 1 || total < int64(count) {
			if got := splitShares(total, count, mode, testRand(seed)); got != nil {
				t.Fatalf("impossible split %d into %d = %v, want nil", total, count, got)
			}
			return
		}
		if count > MaxCount {
			return // the service refuses these; a huge count would only exhaust memory
		}
		shares := splitShares(total, count, mode, testRand(seed))
		checkSplit(t, shares, total, count)
		if fixed {
			lo, hi := slices.Min(shares), slices.Max(shares)
			if hi-lo > 1 || !slices.IsSortedFunc(shares, func(a, b int64) int { return cmp.Compare(b, a) }) {
				t.Fatalf("FIXED split %d into %d is not equal with the remainder first: %v", total, count, shares)
			}
		}
	})
}

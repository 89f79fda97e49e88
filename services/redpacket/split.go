package redpacket

import (
	crand "crypto/rand"
	"math/rand/v2"
)

// Red packet modes.
const (
	Random = "RANDOM"
	Fixed  = "FIXED"
)

// splitShares divides total fen into count shares of at least 1 fen each that sum to exactly
// total. FIXED gives equal shares, the remainder spread one fen each over the first shares.
// RANDOM uses the "double mean" method: each share is uniform in [1, 2 × the mean of what is
// left], capped so every later share can still get 1 fen, and the last share takes the rest;
// the shares are then shuffled so the last one's larger spread does not always fall to the
// last grabber. It returns nil when the split is impossible (count < 1 or total < count):
// callers validate first.
func splitShares(total int64, count int, mode string, rnd *rand.Rand) []int64 {
	if count < 1 || total < int64(count) {
		return nil
	}
	shares := make([]int64, count)
	if mode == Fixed {
		base, rem := total/int64(count), total%int64(count)
		for i := range shares {
			shares[i] = base
			if int64(i) < rem {
				shares[i]++
			}
		}
		return shares
	}
	left := total
	for i := 0; i < count-1; i++ {
		k := int64(count - i) // shares still to hand out, this one included (k ≥ 2)
		// 2 × left / k without overflow: left/k ≤ left/2, and the remainder term is < 2.
		hi := 2*(left/k) + 2*(left%k)/k
		hi = min(hi, left-(k-1))
		share := 1 + rnd.Int64N(hi)
		shares[i] = share
		left -= share
	}
	shares[count-1] = left
	rnd.Shuffle(count, func(i, j int) { shares[i], shares[j] = shares[j], shares[i] })
	return shares
}

// newSplitRand returns a generator seeded from crypto/rand: shares must not be predictable
// from the packet id or the time, or a grabber could time a grab for the largest one.
func newSplitRand() *rand.Rand {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails (Go 1.24+: it crashes the program instead)
	return rand.New(rand.NewChaCha8(seed))
}

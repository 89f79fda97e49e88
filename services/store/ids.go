package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewID returns an id that sorts by creation time: a prefix, the time in microseconds (fixed
// width) and randomness.
func NewID(prefix string, at time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + fmt.Sprintf("%016x", at.UnixMicro()) + hex.EncodeToString(b[:])
}

// Time normalizes a time for storage: UTC and microseconds, the precision PostgreSQL keeps,
// so values read back compare equal to the ones written (feed cursors rely on it).
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

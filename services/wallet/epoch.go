package wallet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent/redisepoch"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/luascript"
	"github.com/springwallet/wallet/services/store"
)

// Loss detection. Every Redis Cluster slot holds an epoch marker, w:e:{TAG}, whose hash tag
// TAG is chosen to land on that slot; its value is the time (Unix ms) from which that slot
// holds every order record written since. A script that decides from a slot's data (an order
// is new, a budget counter may be seeded) first checks the slot's own marker, in the same
// atomic step: a slot that lost its data (a flush, a restart without persistence, a Cluster
// node lost) lost its marker with it, and the script answers "lost" instead of deciding.
//
// The database knows whether markers ever existed (a RedisEpoch row): without one this is the
// first start of a Redis the service has always used, nothing was lost, and the markers are
// written at once, vouching for everything. With one, markers missing means data lost. The
// recovery then waits until every live instance has written to the journal everything it
// accepted before the loss (awaitJournals: evidence, not a timer, so a slow database only
// makes it wait longer), and writes the missing markers with the detection time. From then
// on an activity that began before that time has its new orders checked against the database
// (issue.go); one that began after needs nothing but Redis.

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

// crc16 is Redis Cluster's key hash (CRC-16/XMODEM).
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slotOf is the Redis Cluster slot of keys whose hash tag is tag (the text between braces).
func slotOf(tag string) int { return int(crc16(tag) % clusterSlots) }

// slotTags holds, for every slot, a short hash tag that lands on it: computed once (about
// 160,000 CRCs, a few milliseconds), the same in every process.
var slotTags = sync.OnceValue(func() []string {
	tags := make([]string, clusterSlots)
	for i, filled := uint64(0), 0; filled < clusterSlots; i++ {
		t := strconv.FormatUint(i, 36)
		if s := slotOf(t); tags[s] == "" {
			tags[s] = t
			filled++
		}
	}
	return tags
})

// recoverTimeout bounds one recovery: waiting for every instance's journal, and 16,384 marker
// writes. A recovery that cannot finish leaves issuance refusing (DEGRADED), never guessing.
const recoverTimeout = 30 * time.Second

// inflight is one request's hold on the journal gate (journal.gate), from its first Redis
// decision to its journal append. A recovery takes the gate whole for a moment, so it knows
// every issuance that could have reserved or recorded before the loss has appended its order
// to the journal buffer, or has come back to wait for the recovery itself. A request waiting
// for a recovery lets the gate go (pause) and takes it again after (resume).
type inflight struct {
	s    *Service
	held bool
}

// hold takes the journal gate for one request; done lets it go.
func (s *Service) hold() *inflight {
	s.journal.gate.RLock()
	return &inflight{s: s, held: true}
}

func (h *inflight) pause() {
	if h != nil && h.held {
		h.s.journal.gate.RUnlock()
		h.held = false
	}
}

func (h *inflight) resume() {
	if h != nil && !h.held {
		h.s.journal.gate.RLock()
		h.held = true
	}
}

func (h *inflight) done() { h.pause() }

// recoverRedis is called when a script found marker missing. One recovery runs at a time per
// instance; callers queue behind it and return as soon as marker is back (another recovery,
// here or on another instance, may have restored it). h, the caller's hold on the journal
// gate (nil for none), is let go meanwhile. ctx bounds the wait, not the recovery.
func (s *Service) recoverRedis(ctx context.Context, marker string, h *inflight) error {
	h.pause()
	defer h.resume()
	done := make(chan error, 1)
	go func() {
		s.recoverMu.Lock()
		defer s.recoverMu.Unlock()
		rctx, cancel := lifecycle.Detach(ctx, recoverTimeout)
		defer cancel()
		done <- s.recoverLocked(rctx, marker)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return errRecovering()
	}
}

func errRecovering() error {
	return errs.E(errs.Degraded, "redis is being recovered after losing data; please try again shortly")
}

func (s *Service) recoverLocked(ctx context.Context, marker string) error {
	switch n, err := s.rdb.Exists(ctx, marker).Result(); {
	case err != nil:
		return fmt.Errorf("check epoch marker: %w", err)
	case n == 1:
		return nil // restored while this caller waited
	}
	detected := s.now()
	lost, err := s.db.R.RedisEpoch.Query().Exist(ctx)
	if err != nil {
		return fmt.Errorf("read redis epochs: %w", err)
	}
	kind, since := redisepoch.KindSTART, time.UnixMilli(0)
	if lost {
		kind, since = redisepoch.KindLOSS, detected
		s.log.Warn("redis lost data: recovering", "marker", marker)
		if err := s.awaitJournals(ctx); err != nil {
			return err
		}
	} else if err := s.recordEpoch(ctx, kind, since, detected, clusterSlots); err != nil {
		// Recorded before the markers: should Redis lose them a moment later, the next
		// recovery knows it is a loss, not a first start.
		return err
	}
	set, err := s.writeMarkers(ctx, since.UnixMilli())
	if err != nil {
		return err
	}
	if kind == redisepoch.KindLOSS && set > 0 {
		if err := s.recordEpoch(ctx, kind, since, detected, set); err != nil {
			// The markers are back, which is what issuance needs; the row is the operators'.
			s.log.Error("record redis epoch", "err", err)
		}
		s.log.Warn("redis recovered", "slots", set, "since", since)
	}
	return nil
}

func (s *Service) recordEpoch(ctx context.Context, kind redisepoch.Kind, since, detected time.Time, slots int) error {
	err := s.db.W.RedisEpoch.Create().SetID(store.NewID("ep", detected)).SetKind(kind).SetSince(store.Time(since)).
		SetDetectedAt(store.Time(detected)).SetRecoveredAt(store.Time(s.now())).SetSlots(slots).SetInstance(s.instance).Exec(ctx)
	if err != nil {
		return fmt.Errorf("record redis epoch: %w", err)
	}
	return nil
}

// writeMarkers sets every missing marker to since (markers still there keep theirs: their
// slots lost nothing) and returns how many it set, in one pipeline per node.
func (s *Service) writeMarkers(ctx context.Context, since int64) (int, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.BoolCmd, clusterSlots)
	for slot := range clusterSlots {
		cmds[slot] = pipe.SetNX(ctx, markerKey(slot), since, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("write epoch markers: %w", err)
	}
	set := 0
	for _, c := range cmds {
		if c.Val() {
			set++
		}
	}
	return set, nil
}

// Journal beacons: each instance's journal worker keeps its live key (keys.go) alive, and
// watches the recovery key. A recovery sets the recovery key to a new id and waits until every
// live instance has acknowledged it in the id's set, which an instance does once everything it
// accepted before it saw the id is committed to the journal.

// beaconTTL is how long an instance counts as live after its last beacon.
func (s *Service) beaconTTL() time.Duration { return max(10*s.cfg.JournalInterval, time.Second) }

// awaitJournals returns once every live instance's journal holds what it accepted before now.
func (s *Service) awaitJournals(ctx context.Context) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	mine := hex.EncodeToString(b[:])
	if err := s.rdb.Set(ctx, beaconRecoverKey, mine, beaconKeep).Err(); err != nil {
		return fmt.Errorf("announce recovery: %w", err)
	}
	// This instance's own buffer, at once (its worker acknowledges too, if it runs).
	if err := s.flushJournal(ctx); err != nil {
		return fmt.Errorf("recover redis: %w", err)
	}
	// The live keys went with the data: let every instance's next beacons say it is there.
	lifecycle.Sleep(ctx, 3*s.cfg.JournalInterval)
	for {
		cur, err := s.rdb.Get(ctx, beaconRecoverKey).Result()
		if errors.Is(err, redis.Nil) {
			// Lost again: announce again. (A newer id than ours, set by another recovery, will
			// do as well: its acknowledgements come after ours would have.)
			cur, err = mine, s.rdb.Set(ctx, beaconRecoverKey, mine, beaconKeep).Err()
		}
		if err != nil {
			return fmt.Errorf("read recovery: %w", err)
		}
		waiting, err := s.unacknowledged(ctx, cur)
		if err != nil {
			return err
		}
		if len(waiting) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			s.log.Error("redis recovery: instances did not write their journals", "instances", waiting)
			return errRecovering()
		}
		lifecycle.Sleep(ctx, s.cfg.JournalInterval)
	}
}

// unacknowledged lists the live instances that have not acknowledged recovery id.
func (s *Service) unacknowledged(ctx context.Context, id string) ([]string, error) {
	var mu sync.Mutex
	var live []string
	err := luascript.EachNode(ctx, s.rdb, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, beaconLivePrefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			live = append(live, strings.TrimPrefix(iter.Val(), beaconLivePrefix))
			mu.Unlock()
		}
		return iter.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list live instances: %w", err)
	}
	acked, err := s.rdb.SMembers(ctx, beaconAckPrefix+id).Result()
	if err != nil {
		return nil, fmt.Errorf("read acknowledgements: %w", err)
	}
	ok := make(map[string]bool, len(acked))
	for _, a := range acked {
		ok[a] = true
	}
	var waiting []string
	for _, l := range live {
		if !ok[l] {
			waiting = append(waiting, l)
		}
	}
	return waiting, nil
}

// beacon runs beside the journal worker's writes: it says this instance is live and
// acknowledges recoveries (each in a goroutine of its own, so that a slow journal write never
// stops the beacon and lets the instance look dead).
func (w *JournalWriter) beacon(ctx context.Context) {
	s := w.s
	t := time.NewTicker(s.cfg.JournalInterval)
	defer t.Stop()
	var acked, acking string
	ackDone := make(chan string, 1)
	for {
		pipe := s.rdb.Pipeline()
		pipe.Set(ctx, beaconLivePrefix+s.instance, 1, s.beaconTTL())
		rec := pipe.Get(ctx, beaconRecoverKey)
		_, err := pipe.Exec(ctx)
		if err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil {
			s.log.Warn("journal beacon", "err", err)
		}
		if id := rec.Val(); id != "" && id != acked && id != acking {
			acking = id
			go func() {
				actx, cancel := lifecycle.Detach(ctx, recoverTimeout)
				defer cancel()
				if err := s.acknowledge(actx, id); err != nil {
					s.log.Warn("acknowledge redis recovery", "err", err)
					id = ""
				}
				ackDone <- id
			}()
		}
		select {
		case <-ctx.Done():
			return
		case id := <-ackDone:
			acked, acking = id, ""
		case <-t.C:
		}
	}
}

// acknowledge tells recovery id that everything this instance accepted before now is in the
// journal: it waits out the requests between their Redis decision and their journal append,
// then writes the journal.
func (s *Service) acknowledge(ctx context.Context, id string) error {
	// Taking the gate whole waits for every request holding it; nothing is done under it.
	s.journal.gate.Lock()
	s.journal.gate.Unlock()
	if err := s.flushJournal(ctx); err != nil {
		return err
	}
	pipe := s.rdb.Pipeline()
	pipe.SAdd(ctx, beaconAckPrefix+id, s.instance)
	pipe.Expire(ctx, beaconAckPrefix+id, beaconKeep)
	_, err := pipe.Exec(ctx)
	return err
}

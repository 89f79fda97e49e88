package wallet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/redpacket"
	"github.com/springwallet/wallet/ent/redpacketgrab"
	"github.com/springwallet/wallet/services/errs"
)

// Switches that pause red packets (declared in services/switches): sending and grabbing answer
// DEGRADED when theirs is off; SwitchRedPacketExpiry (wallet.go) holds back expiry refunds.
const (
	SwitchRedPacketSend = "redpacket.send"
	SwitchRedPacketGrab = "redpacket.grab"
)

// Red packet limits fixed by the contract.
const (
	MaxRedPacketCount = 1000
	maxGreetingRunes  = 100
)

// RedPacketConfig holds the red packets' tunables.
type RedPacketConfig struct {
	// MaxTotal is the most one packet may hold, in fen; more is LIMIT_EXCEEDED.
	MaxTotal int64
	// TTL is how long a packet can be grabbed; what is left then goes back to the sender.
	TTL time.Duration
}

// DefaultRedPacketConfig is what the server runs with.
func DefaultRedPacketConfig() RedPacketConfig {
	return RedPacketConfig{MaxTotal: 2_000_000, TTL: 24 * time.Hour}
}

func (s *Service) redPacketConfig() RedPacketConfig { return s.cfg.RedPacket }

// RedPacket is a red packet as the service reports it.
type RedPacket struct {
	ID              string
	ActivityID      string
	SenderActID     int64
	TotalAmount     int64
	Count           int
	RemainingCount  int
	RemainingAmount int64
	Mode            string
	Greeting        string
	// Status is OPEN, FINISHED (every share taken) or EXPIRED (the rest refunded).
	Status         string
	RefundedAmount int64
	ExpiresAt      time.Time
	CreatedAt      time.Time

	shares []int64
}

func redPacketFrom(p *ent.RedPacket) *RedPacket {
	return &RedPacket{
		ID: p.ID, ActivityID: p.ActivityID, SenderActID: p.SenderActID, TotalAmount: p.TotalAmount, Count: p.Count,
		RemainingCount: p.RemainingCount, RemainingAmount: p.RemainingAmount, Mode: string(p.Mode), Greeting: p.Greeting,
		Status: string(p.Status), RefundedAmount: p.RefundedAmount, ExpiresAt: p.ExpiresAt.UTC(), CreatedAt: p.CreatedAt.UTC(),
		shares: p.Shares,
	}
}

// SendRedPacketInput is a red packet a user sends from their balance.
type SendRedPacketInput struct {
	// ActivityID is the live child activity (already resolved from a parent).
	ActivityID  string
	ActID       int64
	TotalAmount int64
	Count       int
	Mode        string
	Greeting    string
	// RequestID is the client's idempotency key, unique per sender within the activity.
	RequestID string
}

func (in *SendRedPacketInput) validate() error {
	switch {
	case in.ActivityID == "":
		return errs.Input("activityId", "activityId is required")
	case in.ActID <= 0:
		return errs.Input("actId", "actId must be positive")
	case in.Count < 1 || in.Count > MaxRedPacketCount:
		return errs.Input("count", "count must be 1..%d", MaxRedPacketCount)
	case in.TotalAmount <= 0:
		return errs.Input("totalAmount", "totalAmount must be positive")
	case in.TotalAmount < int64(in.Count):
		return errs.Input("totalAmount", "totalAmount must be at least count, so every share gets 1 fen")
	case in.Mode != RedPacketRandom && in.Mode != RedPacketFixed:
		return errs.Input("mode", "mode must be RANDOM or FIXED")
	case !utf8.ValidString(in.Greeting) || utf8.RuneCountInString(in.Greeting) > maxGreetingRunes:
		return errs.Input("greeting", "greeting must be at most %d characters", maxGreetingRunes)
	}
	return validRequestID(in.RequestID)
}

// SendRedPacket takes totalAmount from the sender's balance into the packet's escrow account
// and splits it into count shares, decided now and kept in the database. The sender's pending
// rewards are settled first, so everything the wallet shows can be sent. The same requestId
// replays the packet it created (replayed is true); with another amount, count or mode it is
// IDEMPOTENCY_CONFLICT.
func (s *Service) SendRedPacket(ctx context.Context, in SendRedPacketInput) (*RedPacket, bool, error) {
	if !s.switches.Enabled(SwitchRedPacketSend) {
		return nil, false, degraded("sending red packets")
	}
	if err := in.validate(); err != nil {
		return nil, false, err
	}
	cfg := s.redPacketConfig()
	if in.TotalAmount > cfg.MaxTotal {
		return nil, false, errs.E(errs.LimitExceeded, "a red packet holds at most %d fen", cfg.MaxTotal)
	}
	if p, err := findRedPacket(ctx, s.db.R.RedPacket, in); err != nil || p != nil {
		return p, p != nil, err
	}
	if _, err := s.ForceSettle(ctx, in.ActivityID, in.ActID); err != nil {
		return nil, false, fmt.Errorf("settle before sending a red packet: %w", err)
	}
	now := s.now()
	at := dbTime(now)
	id := newID("rp", now)
	shares := splitShares(in.TotalAmount, in.Count, in.Mode, newSplitRand())
	// Once the debit is under way it is finished, shares pushed, even if the client goes away.
	ctx = context.WithoutCancel(ctx)
	var out *RedPacket
	replayed := false
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		out, replayed = nil, false
		if err := lockAccount(ctx, tx, s.db.Dialect, in.ActID); err != nil {
			return err
		}
		// A concurrent send with the same requestId may have committed since the check above
		// (should both get past the lock, the unique index makes the loser retry and land here).
		existing, err := findRedPacket(ctx, tx.RedPacket, in)
		if err != nil {
			return err
		}
		if existing != nil {
			out, replayed = existing, true
			return nil
		}
		if err := debit(ctx, tx, in.ActivityID, in.ActID, in.TotalAmount); err != nil {
			return err
		}
		row, err := tx.RedPacket.Create().SetID(id).SetActivityID(in.ActivityID).SetSenderActID(in.ActID).
			SetRequestID(in.RequestID).SetTotalAmount(in.TotalAmount).SetCount(in.Count).SetMode(redpacket.Mode(in.Mode)).
			SetGreeting(in.Greeting).SetShares(shares).SetRemainingCount(in.Count).SetRemainingAmount(in.TotalAmount).
			SetExpiresAt(dbTime(now.Add(cfg.TTL))).SetCreatedAt(at).Save(ctx)
		if err != nil {
			return fmt.Errorf("insert red packet: %w", err)
		}
		if err := post(ctx, tx, "rp-send:"+id, in.ActivityID, KindRedPacketSent, id, at,
			UserLeg(in.ActID, -in.TotalAmount), Leg{Account: RedPacketAccount(id), Amount: in.TotalAmount}); err != nil {
			return err
		}
		out = redPacketFrom(row)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if !replayed {
		// A failure here only costs the first grab a rebuild from the database.
		if err := s.loadShares(ctx, out, nil); err != nil {
			s.log.Warn("push red packet shares", "packet", out.ID, "err", err)
		}
	}
	return out, replayed, nil
}

// findRedPacket returns the packet the sender already made with this requestId, nil if none,
// or IDEMPOTENCY_CONFLICT when it differs from in.
func findRedPacket(ctx context.Context, c *ent.RedPacketClient, in SendRedPacketInput) (*RedPacket, error) {
	row, err := c.Query().Where(redpacket.ActivityID(in.ActivityID), redpacket.SenderActID(in.ActID),
		redpacket.RequestID(in.RequestID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find red packet: %w", err)
	}
	if row.TotalAmount != in.TotalAmount || row.Count != in.Count || string(row.Mode) != in.Mode {
		return nil, errs.E(errs.IdempotencyConflict, "requestId %s already sent another red packet", in.RequestID)
	}
	return redPacketFrom(row), nil
}

// GrabResult is one share a grabber took.
type GrabResult struct {
	Amount int64
	// Seq is the share's index in the packet's split.
	Seq int
	// RedPacket is the packet as the grab left it.
	RedPacket *RedPacket
}

// errShareTaken means the database already gives the share Redis handed out to another
// account: Redis lost data while that grab was in flight and handed the share out again.
var errShareTaken = errors.New("red packet share already taken")

// grabAttempts bounds how often one grab retries after its share turned out to be taken.
const grabAttempts = 4

// GrabRedPacket takes one share of a packet for actID, into actID's wallet in the packet's
// activity. Redis decides who gets which share (one Lua script: at most one share per
// account, each share once); the database records it, and its unique indexes and conditional
// update make paying a share twice or more than the packet holds impossible even when Redis
// is wrong. A grab whose database write failed after Redis handed out its share is completed
// when the account tries again.
func (s *Service) GrabRedPacket(ctx context.Context, packetID string, actID int64) (*GrabResult, error) {
	if !s.switches.Enabled(SwitchRedPacketGrab) {
		return nil, degraded("grabbing red packets")
	}
	if actID <= 0 {
		return nil, errs.Input("actId", "actId must be positive")
	}
	p, err := s.loadRedPacket(ctx, packetID)
	if err != nil {
		return nil, err
	}
	if p.Status == string(redpacket.StatusEXPIRED) || !s.now().Before(p.ExpiresAt) {
		return nil, errs.E(errs.RedPacketExpired, "the red packet has expired")
	}
	for range grabAttempts {
		c, err := s.claimShare(ctx, p, actID)
		if err != nil {
			return nil, err
		}
		switch c.outcome {
		case "empty":
			return nil, errs.E(errs.RedPacketEmpty, "every share of the red packet is taken")
		case "already":
			done, err := s.db.R.RedPacketGrab.Query().Where(redpacketgrab.PacketID(p.ID), redpacketgrab.ActID(actID)).Exist(ctx)
			if err != nil {
				return nil, fmt.Errorf("find grab: %w", err)
			}
			if done {
				return nil, errs.E(errs.AlreadyGrabbed, "this account already grabbed the red packet")
			}
			// Redis gave this account a share but the database never recorded it (the
			// earlier attempt died in between): finish that grab now.
		}
		// Once Redis has handed out the share, a client that leaves must not cut the
		// database write short.
		res, err := s.recordGrab(context.WithoutCancel(ctx), p, actID, c.seq, c.amount)
		if errors.Is(err, errShareTaken) {
			if err := rpReleaseScript.Run(ctx, s.rdb, redPacketKeys(p.ID)[1:2], actID, c.raw).Err(); err != nil {
				return nil, fmt.Errorf("release red packet claim: %w", err)
			}
			continue
		}
		return res, err
	}
	return nil, fmt.Errorf("grab red packet %s: its shares kept turning out taken", p.ID)
}

func (s *Service) loadRedPacket(ctx context.Context, id string) (*RedPacket, error) {
	if id == "" || len(id) > 64 {
		return nil, errs.E(errs.NotFound, "no red packet %q", id)
	}
	row, err := s.db.R.RedPacket.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, errs.E(errs.NotFound, "no red packet %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read red packet: %w", err)
	}
	return redPacketFrom(row), nil
}

// recordGrab writes one grab: the grab row, the packet's remaining count and amount, the
// ledger transaction escrow → grabber and the grabber's balance, in one transaction.
func (s *Service) recordGrab(ctx context.Context, p *RedPacket, actID int64, seq int, amount int64) (*GrabResult, error) {
	// Redis only says which share; the amount paid is always the database's.
	if seq < 0 || seq >= len(p.shares) || p.shares[seq] != amount {
		return nil, fmt.Errorf("red packet %s: redis share %d:%d does not match the database", p.ID, seq, amount)
	}
	var out *GrabResult
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		out = nil
		if err := lockAccount(ctx, tx, s.db.Dialect, actID); err != nil {
			return err
		}
		mine, err := tx.RedPacketGrab.Query().Where(redpacketgrab.PacketID(p.ID), redpacketgrab.ActID(actID)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("find grab: %w", err)
		}
		if mine {
			return errs.E(errs.AlreadyGrabbed, "this account already grabbed the red packet")
		}
		taken, err := tx.RedPacketGrab.Query().Where(redpacketgrab.PacketID(p.ID), redpacketgrab.Seq(seq)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("find grab: %w", err)
		}
		if taken {
			return errShareTaken
		}
		now := s.now()
		at := dbTime(now)
		// The packet row decides against the expiry refund: whichever changes it first wins.
		n, err := tx.RedPacket.Update().Where(redpacket.ID(p.ID), redpacket.StatusEQ(redpacket.StatusOPEN),
			redpacket.RemainingCountGT(0), redpacket.RemainingAmountGTE(amount), redpacket.ExpiresAtGT(at)).
			AddRemainingCount(-1).AddRemainingAmount(-amount).Save(ctx)
		if err != nil {
			return fmt.Errorf("take red packet share: %w", err)
		}
		if n == 0 {
			return grabRefused(ctx, tx, p.ID, now)
		}
		if _, err := tx.RedPacket.Update().Where(redpacket.ID(p.ID), redpacket.RemainingCount(0)).
			SetStatus(redpacket.StatusFINISHED).Save(ctx); err != nil {
			return fmt.Errorf("finish red packet: %w", err)
		}
		if err := tx.RedPacketGrab.Create().SetPacketID(p.ID).SetActID(actID).SetSeq(seq).SetAmount(amount).
			SetCreatedAt(at).Exec(ctx); err != nil {
			return fmt.Errorf("insert grab: %w", err)
		}
		if err := post(ctx, tx, "rp-grab:"+p.ID+":"+strconv.Itoa(seq), p.ActivityID, KindRedPacketGrab, p.ID, at,
			Leg{Account: RedPacketAccount(p.ID), Amount: -amount}, UserLeg(actID, amount)); err != nil {
			return err
		}
		if err := credit(ctx, tx, p.ActivityID, actID, amount, true); err != nil {
			return err
		}
		row, err := tx.RedPacket.Get(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("read red packet: %w", err)
		}
		out = &GrabResult{Amount: amount, Seq: seq, RedPacket: redPacketFrom(row)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// grabRefused explains why the packet row would not give up a share.
func grabRefused(ctx context.Context, tx *ent.Tx, id string, now time.Time) error {
	row, err := tx.RedPacket.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("read red packet: %w", err)
	}
	switch {
	case row.Status == redpacket.StatusFINISHED:
		return errs.E(errs.RedPacketEmpty, "every share of the red packet is taken")
	case row.Status == redpacket.StatusEXPIRED || !now.Before(row.ExpiresAt):
		return errs.E(errs.RedPacketExpired, "the red packet has expired")
	}
	return fmt.Errorf("red packet %s: %d shares and %d fen left cannot pay a share", id, row.RemainingCount, row.RemainingAmount)
}

// expireBatch is how many expired packets one query of ExpireRedPackets picks up.
const expireBatch = 200

// ExpireRedPackets closes the open packets whose time is up and refunds what is left in each
// to its sender. Every instance may run it at once: each packet's conditional status change
// decides which one refunds it. It returns how many packets this call expired; with the
// redpacket.expiry switch off it does nothing (grabs are still refused after expiry).
func (s *Service) ExpireRedPackets(ctx context.Context) (int, error) {
	if !s.switches.Enabled(SwitchRedPacketExpiry) {
		return 0, nil
	}
	total := 0
	for ctx.Err() == nil {
		now := s.now()
		ids, err := s.db.R.RedPacket.Query().
			Where(redpacket.StatusEQ(redpacket.StatusOPEN), redpacket.ExpiresAtLTE(dbTime(now))).
			Order(redpacket.ByExpiresAt()).Limit(expireBatch).IDs(ctx)
		if err != nil {
			return total, fmt.Errorf("find expired red packets: %w", err)
		}
		n := 0
		for _, id := range ids {
			if ctx.Err() != nil {
				break
			}
			// A refund under way finishes even when shutdown begins.
			ok, err := s.expireRedPacket(context.WithoutCancel(ctx), id, now)
			if err != nil {
				return total, err
			}
			if ok {
				n++
			}
			// Whoever expired it, its shares in Redis are of no use any more.
			if err := s.rdb.Del(ctx, redPacketKeys(id)...).Err(); err != nil {
				s.log.Warn("delete expired red packet shares", "packet", id, "err", err)
			}
		}
		total += n
		// Fewer than a batch: that was all. None expired here: another instance is on them.
		if len(ids) < expireBatch || n == 0 {
			break
		}
	}
	return total, nil
}

// expireRedPacket expires one packet and refunds its remainder in one transaction; false
// when it was no longer open (finished, or expired by another instance).
func (s *Service) expireRedPacket(ctx context.Context, id string, now time.Time) (bool, error) {
	at := dbTime(now)
	expired := false
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		expired = false
		// The update comes first: it locks the row, so the remainder read next cannot change
		// under a concurrent grab (whose own conditional update then finds it EXPIRED).
		n, err := tx.RedPacket.Update().
			Where(redpacket.ID(id), redpacket.StatusEQ(redpacket.StatusOPEN), redpacket.ExpiresAtLTE(at)).
			SetStatus(redpacket.StatusEXPIRED).Save(ctx)
		if err != nil {
			return fmt.Errorf("expire red packet: %w", err)
		}
		if n == 0 {
			return nil
		}
		row, err := tx.RedPacket.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("read red packet: %w", err)
		}
		rem := row.RemainingAmount
		if rem > 0 {
			if err := tx.RedPacket.UpdateOneID(id).SetRefundedAmount(rem).Exec(ctx); err != nil {
				return fmt.Errorf("record red packet refund: %w", err)
			}
			if err := post(ctx, tx, "rp-refund:"+id, row.ActivityID, KindRedPacketRefund, id, at,
				Leg{Account: RedPacketAccount(id), Amount: -rem}, UserLeg(row.SenderActID, rem)); err != nil {
				return err
			}
			if err := credit(ctx, tx, row.ActivityID, row.SenderActID, rem, false); err != nil {
				return err
			}
		}
		expired = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("expire red packet %s: %w", id, err)
	}
	return expired, nil
}

// Redis layout of one red packet; the hash tag {ID} keeps its keys in one Cluster slot.
//
//	rp:{ID}:s  list  "seq:amount" of the shares not handed out yet
//	rp:{ID}:g  hash  actId → "seq:amount" of the share handed to that account
//	rp:{ID}:i  string, set once the two above are loaded (shares are pushed exactly once)
func redPacketKeys(id string) []string {
	p := "rp:{" + id + "}:"
	return []string{p + "s", p + "g", p + "i"}
}

// redPacketKeyGrace keeps a packet's Redis keys a while past its expiry, so grabs racing the
// expiry still answer from Redis rather than rebuild it.
const redPacketKeyGrace = time.Hour

// rpGrabScript hands out one share. KEYS: shares list, grabbers hash, loaded marker.
// ARGV: actId, keys' expiry (unix ms). Returns {outcome, "seq:amount"}: outcome "ok" (a new
// share), "already" (the share this account got before), "empty", or "unloaded" (the keys
// must be loaded from the database first).
var rpGrabScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[3]) == 0 then return {'unloaded', ''} end
local v = redis.call('HGET', KEYS[2], ARGV[1])
if v then return {'already', v} end
local s = redis.call('LPOP', KEYS[1])
if not s then return {'empty', ''} end
redis.call('HSET', KEYS[2], ARGV[1], s)
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return {'ok', s}
`)

// rpLoadScript loads a packet's shares unless they are loaded already, so two loaders (the
// sender after the commit, a grab finding the keys lost) never push a share twice.
// KEYS: shares list, grabbers hash, loaded marker. ARGV: keys' expiry (unix ms), n, then n
// pairs actId, "seq:amount" of recorded grabs, then every share as "seq:amount". Shares that
// are recorded or already handed out (in the hash) are not pushed. Returns 1 when it loaded.
var rpLoadScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local n = tonumber(ARGV[2])
local taken = {}
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do taken[v] = true end
for i = 0, n - 1 do
  redis.call('HSET', KEYS[2], ARGV[3 + 2*i], ARGV[4 + 2*i])
  taken[ARGV[4 + 2*i]] = true
end
redis.call('DEL', KEYS[1])
for i = 3 + 2*n, #ARGV do
  if not taken[ARGV[i]] then redis.call('RPUSH', KEYS[1], ARGV[i]) end
end
redis.call('SET', KEYS[3], 1)
for i = 1, 3 do redis.call('PEXPIREAT', KEYS[i], ARGV[1]) end
return 1
`)

// rpReleaseScript drops an account's claim on a share (KEYS: grabbers hash; ARGV: actId,
// "seq:amount"), only if it still is that share.
var rpReleaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`)

// rpClaim is what the grab script answered.
type rpClaim struct {
	outcome string
	raw     string // "seq:amount"
	seq     int
	amount  int64
}

// claimShare runs the grab script, loading the packet's shares from the database first when
// Redis does not have them (lost data, or a sender that died before pushing them).
func (s *Service) claimShare(ctx context.Context, p *RedPacket, actID int64) (rpClaim, error) {
	keys := redPacketKeys(p.ID)
	for range 2 {
		res, err := rpGrabScript.Run(ctx, s.rdb, keys, actID, p.ExpiresAt.Add(redPacketKeyGrace).UnixMilli()).StringSlice()
		if err != nil {
			return rpClaim{}, fmt.Errorf("grab red packet share: %w", err)
		}
		if len(res) != 2 {
			return rpClaim{}, fmt.Errorf("grab red packet share: unexpected answer %q", res)
		}
		c := rpClaim{outcome: res[0], raw: res[1]}
		switch c.outcome {
		case "unloaded":
			grabs, err := s.db.R.RedPacketGrab.Query().Where(redpacketgrab.PacketID(p.ID)).All(ctx)
			if err != nil {
				return rpClaim{}, fmt.Errorf("read red packet grabs: %w", err)
			}
			if err := s.loadShares(ctx, p, grabs); err != nil {
				return rpClaim{}, err
			}
			continue
		case "ok", "already":
			if c.seq, c.amount, err = parseShare(c.raw); err != nil {
				return rpClaim{}, err
			}
		}
		return c, nil
	}
	return rpClaim{}, fmt.Errorf("red packet %s: its shares could not be loaded into redis", p.ID)
}

// loadShares puts a packet's shares into Redis, minus those the grabs recorded in the
// database took.
func (s *Service) loadShares(ctx context.Context, p *RedPacket, grabs []*ent.RedPacketGrab) error {
	args := make([]any, 0, 2+2*len(grabs)+len(p.shares))
	args = append(args, p.ExpiresAt.Add(redPacketKeyGrace).UnixMilli(), len(grabs))
	for _, g := range grabs {
		args = append(args, g.ActID, shareString(g.Seq, g.Amount))
	}
	for i, amt := range p.shares {
		args = append(args, shareString(i, amt))
	}
	if err := rpLoadScript.Run(ctx, s.rdb, redPacketKeys(p.ID), args...).Err(); err != nil {
		return fmt.Errorf("load red packet shares: %w", err)
	}
	return nil
}

func shareString(seq int, amount int64) string {
	return strconv.Itoa(seq) + ":" + strconv.FormatInt(amount, 10)
}

func parseShare(v string) (int, int64, error) {
	a, b, ok := strings.Cut(v, ":")
	seq, err1 := strconv.Atoi(a)
	amt, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("malformed red packet share %q in redis", v)
	}
	return seq, amt, nil
}

// RunRedPacketExpiry refunds expired packets every interval until ctx ends. Grabs are refused
// at expires_at whatever the interval; it only bounds how long a sender waits for the refund.
func (s *Service) RunRedPacketExpiry(ctx context.Context, interval time.Duration) {
	s.repeat(ctx, interval, "refund expired red packets", s.ExpireRedPackets)
}

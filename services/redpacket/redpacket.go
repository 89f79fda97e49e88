// Package redpacket is C2C red packets: a user sends part of their balance into a packet's
// escrow, split into shares; others grab one share each (Redis decides who gets which, the
// database records it and is the backstop); what is left at expiry goes back to the sender.
// Every money movement is a ledger transaction posted through services/ledger.
package redpacket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/redpacket"
	"github.com/springwallet/wallet/ent/redpacketgrab"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/luascript"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/wallet"
	"github.com/springwallet/wallet/services/wiring"
)

// Red packet limits fixed by the contract.
const (
	MaxCount         = 1000
	maxGreetingRunes = 100
)

// Config holds the red packets' tunables.
type Config struct {
	// MaxTotal is the most one packet may hold, in fen; more is LIMIT_EXCEEDED.
	MaxTotal int64
	// TTL is how long a packet can be grabbed; what is left then goes back to the sender.
	TTL time.Duration
	// ExpiryInterval is how often expired packets are looked for. Grabs are refused at
	// expires_at whatever it is; it only bounds how long a sender waits for the refund.
	ExpiryInterval time.Duration
	// WriteTimeout bounds a send's or a grab's transaction once begun: it outlives the
	// request, not forever.
	WriteTimeout time.Duration
}

// DefaultConfig is what the server runs with.
func DefaultConfig() Config {
	return Config{MaxTotal: 2_000_000, TTL: 24 * time.Hour, ExpiryInterval: 10 * time.Second, WriteTimeout: 15 * time.Second}
}

// Settler settles an account's pending rewards, so everything the wallet shows can be sent
// (the reward core implements it).
type Settler interface {
	ForceSettle(ctx context.Context, live *activity.Live, actID int64) (wallet.SettleResult, error)
}

// Deps is everything red packets need; every field is required.
type Deps struct {
	DB       *store.DB
	Redis    redis.UniversalClient
	Settler  Settler
	Switches switches.Reader
	Now      func() time.Time
	Log      *slog.Logger
	Config   Config
}

// Service sends, hands out and expires red packets.
type Service struct {
	db       *store.DB
	rdb      redis.UniversalClient
	settler  Settler
	switches switches.Reader
	now      func() time.Time
	log      *slog.Logger
	cfg      Config
}

// New returns the red packet service, or an error naming the first missing dependency.
func New(d Deps) (*Service, error) {
	if err := wiring.Require("redpacket.New", d); err != nil {
		return nil, err
	}
	cfg, def := d.Config, DefaultConfig()
	if cfg.MaxTotal <= 0 {
		cfg.MaxTotal = def.MaxTotal
	}
	if cfg.TTL <= 0 {
		cfg.TTL = def.TTL
	}
	if cfg.ExpiryInterval <= 0 {
		cfg.ExpiryInterval = def.ExpiryInterval
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = def.WriteTimeout
	}
	return &Service{db: d.DB, rdb: d.Redis, settler: d.Settler, switches: d.Switches, now: d.Now, log: d.Log, cfg: cfg}, nil
}

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

func packetFrom(p *ent.RedPacket) *RedPacket {
	return &RedPacket{
		ID: p.ID, ActivityID: p.ActivityID, SenderActID: p.SenderActID, TotalAmount: p.TotalAmount, Count: p.Count,
		RemainingCount: p.RemainingCount, RemainingAmount: p.RemainingAmount, Mode: string(p.Mode), Greeting: p.Greeting,
		Status: string(p.Status), RefundedAmount: p.RefundedAmount, ExpiresAt: p.ExpiresAt.UTC(), CreatedAt: p.CreatedAt.UTC(),
		shares: p.Shares,
	}
}

// SendInput is a red packet a user sends from their balance.
type SendInput struct {
	Live        *activity.Live
	ActID       int64
	TotalAmount int64
	Count       int
	Mode        string
	Greeting    string
	// RequestID is the client's idempotency key, unique per sender within the activity.
	RequestID string
}

func (in *SendInput) validate() error {
	switch {
	case in.ActID <= 0:
		return errs.Input("actId", "actId must be positive")
	case in.Count < 1 || in.Count > MaxCount:
		return errs.Input("count", "count must be 1..%d", MaxCount)
	case in.TotalAmount <= 0:
		return errs.Input("totalAmount", "totalAmount must be positive")
	case in.TotalAmount < int64(in.Count):
		return errs.Input("totalAmount", "totalAmount must be at least count, so every share gets 1 fen")
	case in.Mode != Random && in.Mode != Fixed:
		return errs.Input("mode", "mode must be RANDOM or FIXED")
	case !utf8.ValidString(in.Greeting) || utf8.RuneCountInString(in.Greeting) > maxGreetingRunes:
		return errs.Input("greeting", "greeting must be at most %d characters", maxGreetingRunes)
	}
	return errs.RequestID(in.RequestID)
}

// SendRedPacket takes totalAmount from the sender's balance into the packet's escrow account
// and splits it into count shares, decided now and kept in the database. The sender's pending
// rewards are settled first, so everything the wallet shows can be sent. The same requestId
// replays the packet it created (replayed is true); with another amount, count or mode it is
// IDEMPOTENCY_CONFLICT.
func (s *Service) Send(ctx context.Context, in SendInput) (*RedPacket, bool, error) {
	if !s.switches.Enabled(switches.RedPacketSend) {
		return nil, false, wallet.Degraded("sending red packets")
	}
	if err := in.validate(); err != nil {
		return nil, false, err
	}
	cfg := s.cfg
	if in.TotalAmount > cfg.MaxTotal {
		return nil, false, errs.E(errs.LimitExceeded, "a red packet holds at most %d fen", cfg.MaxTotal)
	}
	if p, err := findRedPacket(ctx, s.db.R.RedPacket, in); err != nil || p != nil {
		return p, p != nil, err
	}
	if _, err := s.settler.ForceSettle(ctx, in.Live, in.ActID); err != nil {
		return nil, false, fmt.Errorf("settle before sending a red packet: %w", err)
	}
	now := s.now()
	at := store.Time(now)
	id := store.NewID("rp", now)
	activityID := in.Live.ID
	shares := splitShares(in.TotalAmount, in.Count, in.Mode, newSplitRand())
	// Once the debit is under way it is finished, shares pushed, even if the client goes away.
	ctx, cancel := lifecycle.Detach(ctx, cfg.WriteTimeout)
	defer cancel()
	var out *RedPacket
	replayed := false
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		out, replayed = nil, false
		if err := ledger.LockAccount(ctx, tx, s.db.Dialect, in.ActID); err != nil {
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
		row, err := tx.RedPacket.Create().SetID(id).SetActivityID(activityID).SetSenderActID(in.ActID).
			SetRequestID(in.RequestID).SetTotalAmount(in.TotalAmount).SetCount(in.Count).SetMode(redpacket.Mode(in.Mode)).
			SetGreeting(in.Greeting).SetShares(shares).SetRemainingCount(in.Count).SetRemainingAmount(in.TotalAmount).
			SetExpiresAt(store.Time(now.Add(cfg.TTL))).SetCreatedAt(at).Save(ctx)
		if err != nil {
			return fmt.Errorf("insert red packet: %w", err)
		}
		// The user leg is the debit: INSUFFICIENT_BALANCE rolls the packet back.
		if err := ledger.Post(ctx, tx, ledger.Txn{ID: "rp-send:" + id, ActivityID: activityID, Kind: ledger.KindRedPacketSent, Ref: id, At: at,
			Legs: []ledger.Leg{ledger.User(in.ActID, -in.TotalAmount), ledger.System(ledger.RedPacketAccount(id), in.TotalAmount)}}); err != nil {
			return err
		}
		out = packetFrom(row)
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
func findRedPacket(ctx context.Context, c *ent.RedPacketClient, in SendInput) (*RedPacket, error) {
	row, err := c.Query().Where(redpacket.ActivityID(in.Live.ID), redpacket.SenderActID(in.ActID),
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
	return packetFrom(row), nil
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
func (s *Service) Grab(ctx context.Context, packetID string, actID int64) (*GrabResult, error) {
	if !s.switches.Enabled(switches.RedPacketGrab) {
		return nil, wallet.Degraded("grabbing red packets")
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
		gctx, cancel := lifecycle.Detach(ctx, s.cfg.WriteTimeout)
		res, err := s.recordGrab(gctx, p, actID, c.seq, c.amount)
		cancel()
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
	return packetFrom(row), nil
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
		if err := ledger.LockAccount(ctx, tx, s.db.Dialect, actID); err != nil {
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
		at := store.Time(now)
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
		if err := ledger.Post(ctx, tx, ledger.Txn{ID: "rp-grab:" + p.ID + ":" + strconv.Itoa(seq), ActivityID: p.ActivityID,
			Kind: ledger.KindRedPacketGrab, Ref: p.ID, At: at, Income: true,
			Legs: []ledger.Leg{ledger.System(ledger.RedPacketAccount(p.ID), -amount), ledger.User(actID, amount)}}); err != nil {
			return err
		}
		row, err := tx.RedPacket.Get(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("read red packet: %w", err)
		}
		out = &GrabResult{Amount: amount, Seq: seq, RedPacket: packetFrom(row)}
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

// Expire closes the open packets whose time is up and refunds what is left in each
// to its sender. Every instance may run it at once: each packet's conditional status change
// decides which one refunds it. It returns how many packets this call expired; with the
// redpacket.expiry switch off it does nothing (grabs are still refused after expiry).
func (s *Service) Expire(ctx context.Context) (int, error) {
	if !s.switches.Enabled(switches.RedPacketExpiry) {
		return 0, nil
	}
	total := 0
	for ctx.Err() == nil {
		now := s.now()
		ids, err := s.db.R.RedPacket.Query().
			Where(redpacket.StatusEQ(redpacket.StatusOPEN), redpacket.ExpiresAtLTE(store.Time(now))).
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
			rctx, cancel := lifecycle.Detach(ctx, s.cfg.WriteTimeout)
			ok, err := s.expireRedPacket(rctx, id, now)
			cancel()
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
	at := store.Time(now)
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
			// Back to the sender; a refund is not income.
			if err := ledger.Post(ctx, tx, ledger.Txn{ID: "rp-refund:" + id, ActivityID: row.ActivityID, Kind: ledger.KindRedPacketRefund, Ref: id, At: at,
				Legs: []ledger.Leg{ledger.System(ledger.RedPacketAccount(id), -rem), ledger.User(row.SenderActID, rem)}}); err != nil {
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
		r, err := luascript.Run(ctx, s.rdb, rpGrabScript, keys, actID, p.ExpiresAt.Add(redPacketKeyGrace).UnixMilli())
		if err != nil {
			return rpClaim{}, fmt.Errorf("grab red packet share: %w", err)
		}
		c := rpClaim{outcome: r.Outcome, raw: r.String(0)}
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
		case "empty":
		default:
			return rpClaim{}, fmt.Errorf("grab red packet share: unknown script outcome %q", c.outcome)
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

// Expiry is the worker that refunds expired packets every ExpiryInterval.
type Expiry struct{ s *Service }

// Expiry returns the expiry worker.
func (s *Service) Expiry() *Expiry { return &Expiry{s: s} }

// Run refunds expired packets until ctx ends.
func (e *Expiry) Run(ctx context.Context) error {
	return lifecycle.Every(ctx, e.s.log, e.s.cfg.ExpiryInterval, "refund expired red packets", e.s.Expire)
}

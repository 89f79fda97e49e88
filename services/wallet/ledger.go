package wallet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"github.com/springwallet/wallet/ent"
	entaccount "github.com/springwallet/wallet/ent/account"
	"github.com/springwallet/wallet/ent/balance"
	"github.com/springwallet/wallet/services/errs"
)

// Ledger transaction kinds beyond rewards.
const (
	KindWithdrawal       = "WITHDRAWAL"        // user → payout clearing
	KindWithdrawalPaid   = "WITHDRAWAL_PAID"   // payout clearing → paid out
	KindWithdrawalRefund = "WITHDRAWAL_REFUND" // payout clearing → user (a failed payout)
	KindRedPacketSent    = "RED_PACKET_SENT"   // sender → packet escrow
	KindRedPacketGrab    = "RED_PACKET_RECEIVED"
	KindRedPacketRefund  = "RED_PACKET_REFUND" // escrow → sender at expiry
)

// System ledger accounts.
const (
	AccountPayoutClearing = "payout:clearing"
	AccountPaidOut        = "payout:external"
)

// RedPacketAccount is the escrow account of one red packet.
func RedPacketAccount(id string) string { return "redpacket:" + id }

// Leg is one side of a ledger transaction; ActID is set for user accounts.
type Leg struct {
	Account string
	ActID   int64
	Amount  int64
}

// UserLeg is a leg on a user's account.
func UserLeg(actID, amount int64) Leg {
	return Leg{Account: userAccount(actID), ActID: actID, Amount: amount}
}

// post appends one balanced transaction to the ledger; legs that do not sum to zero are a
// programming error and refused.
func post(ctx context.Context, tx *ent.Tx, txnID, activityID, kind, ref string, at time.Time, legs ...Leg) error {
	var sum int64
	feed := ""
	switch kind {
	case KindRedPacketSent, KindRedPacketGrab, KindRedPacketRefund:
		feed = FeedRedPacket
	}
	creates := make([]*ent.LedgerEntryCreate, len(legs))
	for i, l := range legs {
		sum += l.Amount
		c := tx.LedgerEntry.Create().SetTxnID(txnID).SetActivityID(activityID).SetAccount(l.Account).
			SetActID(l.ActID).SetAmount(l.Amount).SetKind(kind).SetRef(ref).SetCreatedAt(at)
		if l.ActID != 0 {
			c.SetFeed(feed)
		}
		creates[i] = c
	}
	if sum != 0 {
		return fmt.Errorf("ledger transaction %s does not balance: legs sum to %d", txnID, sum)
	}
	if err := tx.LedgerEntry.CreateBulk(creates...).Exec(ctx); err != nil {
		return fmt.Errorf("post %s: %w", txnID, err)
	}
	return nil
}

// debit takes amount from a user's settled balance, atomically refusing to go below zero: the
// check and the write are one conditional UPDATE, so concurrent debits cannot overdraw.
func debit(ctx context.Context, tx *ent.Tx, activityID string, actID, amount int64) error {
	n, err := tx.Balance.Update().
		Where(balance.ActivityID(activityID), balance.ActID(actID), balance.SettledGTE(amount)).
		AddSettled(-amount).Save(ctx)
	if err != nil {
		return fmt.Errorf("debit balance: %w", err)
	}
	if n == 0 {
		return errs.E(errs.InsufficientBalance, "the balance is less than %d fen", amount)
	}
	return nil
}

// credit adds amount to a user's settled balance (income says whether it counts toward
// cumulative income: grabs do, refunds do not).
func credit(ctx context.Context, tx *ent.Tx, activityID string, actID, amount int64, income bool) error {
	return applyCredits(ctx, tx, map[account]int64{{activityID, actID}: amount}, income)
}

// lockAccount serializes money-moving transactions of one account on PostgreSQL (SQLite
// already has a single writer): limits that read several rows, like the daily withdrawal
// limit, then hold.
func lockAccount(ctx context.Context, tx *ent.Tx, dialectName string, actID int64) error {
	if err := recordAccount(ctx, tx, actID); err != nil {
		return err
	}
	if dialectName != dialect.Postgres {
		return nil
	}
	_, err := tx.Account.Query().Where(entaccount.ID(actID)).ForUpdate().Only(ctx)
	if err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	return nil
}

// newID returns an id that sorts by creation time: a prefix, the time in microseconds (fixed
// width) and randomness.
func newID(prefix string, at time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + fmt.Sprintf("%016x", at.UnixMicro()) + hex.EncodeToString(b[:])
}

// dbTime normalizes a time for storage: UTC and microseconds, the precision PostgreSQL keeps,
// so values read back compare equal to the ones written (feed cursors rely on it).
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// recordAccount creates the account row unless it exists.
func recordAccount(ctx context.Context, tx *ent.Tx, actID int64) error {
	if err := tx.Account.Create().SetID(actID).OnConflict().DoNothing().Exec(ctx); err != nil && !isNoRows(err) {
		return fmt.Errorf("record account: %w", err)
	}
	return nil
}

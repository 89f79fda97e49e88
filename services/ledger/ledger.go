// Package ledger owns every write to the double-entry ledger: Post is the only code that
// inserts ledger rows, and it refuses a transaction whose legs do not sum to zero before it
// writes anything. The legs on user accounts move the users' balance rows in the same
// database transaction (a debit is a conditional update that never overdraws), so a balance
// can only change with the ledger. Account names are built here and nowhere else.
package ledger

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/balance"
	"github.com/springwallet/wallet/services/errs"
)

// Kind is what a ledger transaction records.
type Kind string

// Transaction kinds.
const (
	KindReward           Kind = "REWARD"              // scene budget → user (cash)
	KindAssetGrant       Kind = "ASSET_GRANT"         // scene budget → the award type's asset account (face value)
	KindWithdrawal       Kind = "WITHDRAWAL"          // user → payout clearing
	KindWithdrawalPaid   Kind = "WITHDRAWAL_PAID"     // payout clearing → paid out
	KindWithdrawalRefund Kind = "WITHDRAWAL_REFUND"   // payout clearing → user (a failed payout)
	KindRedPacketSent    Kind = "RED_PACKET_SENT"     // sender → packet escrow
	KindRedPacketGrab    Kind = "RED_PACKET_RECEIVED" // packet escrow → grabber
	KindRedPacketRefund  Kind = "RED_PACKET_REFUND"   // packet escrow → sender at expiry
)

// Kinds lists every kind Post accepts.
var Kinds = []Kind{KindReward, KindAssetGrant, KindWithdrawal, KindWithdrawalPaid, KindWithdrawalRefund,
	KindRedPacketSent, KindRedPacketGrab, KindRedPacketRefund}

// FeedRedPacket is the feed column of the user legs the wallet feed lists as red packets.
const FeedRedPacket = "RED_PACKET"

// feedOf is the feed a kind's user legs appear in ("" for none: rewards and withdrawals have
// feed sources of their own).
func feedOf(k Kind) string {
	switch k {
	case KindRedPacketSent, KindRedPacketGrab, KindRedPacketRefund:
		return FeedRedPacket
	}
	return ""
}

// Account name prefixes: a user's account is UserPrefix + act_id, a scene's budget
// BudgetPrefix + scene id, a red packet's escrow RedPacketPrefix + packet id, an award type's
// asset account AssetPrefix + award type.
const (
	UserPrefix      = "user:"
	BudgetPrefix    = "budget:"
	RedPacketPrefix = "redpacket:"
	AssetPrefix     = "asset:"
)

// System accounts.
const (
	PayoutClearing = "payout:clearing"
	PaidOut        = "payout:external"
)

// UserAccount is the ledger account of a user.
func UserAccount(actID int64) string { return UserPrefix + strconv.FormatInt(actID, 10) }

// BudgetAccount is the ledger account a scene's rewards are paid from.
func BudgetAccount(sceneID string) string { return BudgetPrefix + sceneID }

// RedPacketAccount is the escrow account of one red packet.
func RedPacketAccount(id string) string { return RedPacketPrefix + id }

// AssetAccount is where the face value of one award type's granted assets goes: the budget's
// side of a non-cash reward.
func AssetAccount(awardType string) string { return AssetPrefix + awardType }

// Leg is one side of a transaction; ActID is set for user accounts only.
type Leg struct {
	Account string
	ActID   int64
	Amount  int64
}

// User is a leg on a user's account; Post moves the user's balance row with it.
func User(actID, amount int64) Leg {
	return Leg{Account: UserAccount(actID), ActID: actID, Amount: amount}
}

// System is a leg on an account that has no balance row (budgets, escrows, clearing).
func System(account string, amount int64) Leg { return Leg{Account: account, Amount: amount} }

// Txn is one balanced ledger transaction.
type Txn struct {
	// ID is unique per transaction and derived from what it records, so a retry is visible.
	ID         string
	ActivityID string
	Kind       Kind
	// Ref is the business object the transaction belongs to (order number, withdrawal or
	// packet id).
	Ref string
	At  time.Time
	// Income says whether the credits of user legs count toward cumulative income (rewards
	// and grabs do; refunds give back what was the user's already).
	Income bool
	Legs   []Leg
}

// Validate checks a transaction before anything is written: at least two non-zero legs that
// sum to zero, a known kind, user legs named by their account.
func (t *Txn) Validate() error {
	if t.ID == "" || t.ActivityID == "" || t.Ref == "" || t.At.IsZero() {
		return fmt.Errorf("ledger transaction %q: id, activity, ref and time are required", t.ID)
	}
	known := false
	for _, k := range Kinds {
		known = known || k == t.Kind
	}
	if !known {
		return fmt.Errorf("ledger transaction %s: unknown kind %q", t.ID, t.Kind)
	}
	if len(t.Legs) < 2 {
		return fmt.Errorf("ledger transaction %s has %d legs, want at least 2", t.ID, len(t.Legs))
	}
	var sum int64
	for _, l := range t.Legs {
		if l.Amount == 0 || l.Account == "" {
			return fmt.Errorf("ledger transaction %s: a leg needs an account and a non-zero amount", t.ID)
		}
		if (l.ActID != 0) != (l.Account == UserAccount(l.ActID)) {
			return fmt.Errorf("ledger transaction %s: leg on %s with act_id %d: user legs are built by ledger.User", t.ID, l.Account, l.ActID)
		}
		sum += l.Amount
	}
	if sum != 0 {
		return fmt.Errorf("ledger transaction %s does not balance: legs sum to %d", t.ID, sum)
	}
	return nil
}

// Wallet identifies one user's balance row within one (child) activity.
type Wallet struct {
	ActivityID string
	ActID      int64
}

// Post appends balanced transactions to the ledger in tx, links every leg into its activity's
// hash chains, and applies the user legs to the balance rows: credits create the row when needed, debits are conditional updates that answer
// INSUFFICIENT_BALANCE rather than go below zero. Every transaction is validated before any
// row is written; one invalid transaction refuses them all. It is the only code that inserts
// ledger rows (a test checks).
func Post(ctx context.Context, tx *ent.Tx, txns ...Txn) error {
	n := 0
	touched := map[string]map[int]bool{}
	for i := range txns {
		if err := txns[i].Validate(); err != nil {
			return err
		}
		n += len(txns[i].Legs)
		if touched[txns[i].ActivityID] == nil {
			touched[txns[i].ActivityID] = map[int]bool{}
		}
		touched[txns[i].ActivityID][chainOf(txns[i].ID)] = true
	}
	if n == 0 {
		return nil
	}
	heads := map[string]map[int]*chainHead{}
	acts := make([]string, 0, len(touched))
	for a := range touched {
		acts = append(acts, a)
	}
	sort.Strings(acts)
	for _, a := range acts {
		chains := make([]int, 0, len(touched[a]))
		for ch := range touched[a] {
			chains = append(chains, ch)
		}
		h, err := lockChains(ctx, tx, a, chains)
		if err != nil {
			return err
		}
		heads[a] = h
	}
	creates := make([]*ent.LedgerEntryCreate, 0, n)
	moves := map[Wallet]*move{}
	for _, t := range txns {
		feed := feedOf(t.Kind)
		at := t.At.UTC().Truncate(time.Microsecond)
		chain := chainOf(t.ID)
		head := heads[t.ActivityID][chain]
		for _, l := range t.Legs {
			legFeed := ""
			if l.ActID != 0 {
				legFeed = feed
			}
			head.seq++
			prev := head.hash
			head.hash = entryHash(prev, t.ID, t.ActivityID, l.Account, l.ActID, l.Amount, string(t.Kind), t.Ref, legFeed, at, chain, head.seq)
			c := tx.LedgerEntry.Create().SetTxnID(t.ID).SetActivityID(t.ActivityID).SetAccount(l.Account).
				SetActID(l.ActID).SetAmount(l.Amount).SetKind(string(t.Kind)).SetRef(t.Ref).SetCreatedAt(at).
				SetChain(chain).SetSeq(head.seq).SetPrevHash(prev).SetHash(head.hash)
			if l.ActID != 0 {
				c.SetFeed(feed)
				w := Wallet{t.ActivityID, l.ActID}
				m := moves[w]
				if m == nil {
					m = &move{}
					moves[w] = m
				}
				m.net += l.Amount
				if l.Amount > 0 && t.Income {
					m.income += l.Amount
				}
			}
			creates = append(creates, c)
		}
	}
	if err := tx.LedgerEntry.CreateBulk(creates...).Exec(ctx); err != nil {
		return fmt.Errorf("post %s: %w", txns[0].ID, err)
	}
	for _, a := range acts {
		for _, h := range heads[a] {
			if err := tx.LedgerChain.UpdateOne(h.row).SetSeq(h.seq).SetHash(h.hash).Exec(ctx); err != nil {
				return fmt.Errorf("advance ledger chain: %w", err)
			}
		}
	}
	return applyMoves(ctx, tx, moves)
}

// move is the net change of one balance row.
type move struct{ net, income int64 }

// applyMoves changes balance rows in a fixed order, so concurrent transactions cannot deadlock
// on PostgreSQL row locks.
func applyMoves(ctx context.Context, tx *ent.Tx, moves map[Wallet]*move) error {
	ws := make([]Wallet, 0, len(moves))
	for w := range moves {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool {
		if ws[i].ActivityID != ws[j].ActivityID {
			return ws[i].ActivityID < ws[j].ActivityID
		}
		return ws[i].ActID < ws[j].ActID
	})
	for _, w := range ws {
		m := moves[w]
		var err error
		switch {
		case m.net < 0:
			err = debit(ctx, tx, w, -m.net)
		case m.net > 0 || m.income > 0:
			err = credit(ctx, tx, w, m.net, m.income)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// debit takes amount from a settled balance, refusing to go below zero: the check and the
// write are one conditional UPDATE, so concurrent debits cannot overdraw.
func debit(ctx context.Context, tx *ent.Tx, w Wallet, amount int64) error {
	n, err := tx.Balance.Update().
		Where(balance.ActivityID(w.ActivityID), balance.ActID(w.ActID), balance.SettledGTE(amount)).
		AddSettled(-amount).Save(ctx)
	if err != nil {
		return fmt.Errorf("debit balance: %w", err)
	}
	if n == 0 {
		return errs.E(errs.InsufficientBalance, "the balance is less than %d fen", amount)
	}
	return nil
}

// credit adds to a settled balance (and income to cumulative income), creating the row.
func credit(ctx context.Context, tx *ent.Tx, w Wallet, amount, income int64) error {
	err := tx.Balance.Create().SetActivityID(w.ActivityID).SetActID(w.ActID).SetSettled(amount).SetCumulative(income).
		OnConflictColumns(balance.FieldActivityID, balance.FieldActID).
		Update(func(u *ent.BalanceUpsert) {
			u.AddSettled(amount)
			if income != 0 {
				u.AddCumulative(income)
			}
		}).Exec(ctx)
	if err != nil {
		return fmt.Errorf("update balance: %w", err)
	}
	return nil
}

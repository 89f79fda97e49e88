package reconcile

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/asset"
	"github.com/springwallet/wallet/ent/balance"
	"github.com/springwallet/wallet/ent/issuedreward"
	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/ent/redpacket"
	"github.com/springwallet/wallet/ent/redpacketgrab"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/wallet"
	"github.com/springwallet/wallet/services/withdraw"
)

// The database checks are aggregate queries that return only the rows that disagree, so a
// large activity costs a few scans on the server side, not a round trip per row. They are
// written in the SQL that SQLite and PostgreSQL share; the only parameter, $1, is the
// activity id (SQLite numbers "$1" as its first parameter too). Names in braces are replaced
// by the ent schema's table names and the wallet's constants.
var sqlNames = strings.NewReplacer(
	"{ledger}", ledgerentry.Table,
	"{balances}", balance.Table,
	"{orders}", rewardorder.Table,
	"{journal}", issuedreward.Table,
	"{assets}", asset.Table,
	"{withdrawals}", withdrawal.Table,
	"{packets}", redpacket.Table,
	"{grabs}", redpacketgrab.Table,
	"{CASH}", lit(wallet.AwardCash),
	"{REWARD}", lit(string(ledger.KindReward)),
	"{ASSET_GRANT}", lit(string(ledger.KindAssetGrant)),
	"{WITHDRAWAL}", lit(string(ledger.KindWithdrawal)),
	"{WITHDRAWAL_PAID}", lit(string(ledger.KindWithdrawalPaid)),
	"{WITHDRAWAL_REFUND}", lit(string(ledger.KindWithdrawalRefund)),
	"{PROCESSING}", lit(withdraw.Processing),
	"{SUCCEEDED}", lit(withdraw.Succeeded),
	"{FAILED}", lit(withdraw.Failed),
	"{OPEN}", lit(string(redpacket.StatusOPEN)),
	"{clearing}", lit(ledger.PayoutClearing),
	"{user:}", lit(ledger.UserPrefix),
	"{budget:}", lit(ledger.BudgetPrefix),
	"{asset:}", lit(ledger.AssetPrefix),
	"{redpacket:}", lit(ledger.RedPacketPrefix),
)

// lit quotes one of the code's own constants as an SQL string literal (never user input).
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// querier runs the database checks of one run inside its read transaction.
type querier struct {
	tx         *ent.Tx
	activityID string
	f          *findings
	checked    *Checked
	// issued is what the database knows each scene issued, settled or journaled, and paid
	// what its budget account paid out (set by issuedByScene).
	issued, paid map[string]int64
}

// each runs query with the activity id as $1 and calls scan for every row.
func (q *querier) each(ctx context.Context, query string, scan func(*stdsql.Rows) error) error {
	rows, err := q.tx.QueryContext(ctx, sqlNames.Replace(query), q.activityID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ledger: every transaction, and the whole ledger, sums to zero.
func (q *querier) ledger(ctx context.Context) error {
	var sum int64
	err := q.each(ctx, `SELECT COUNT(*), COUNT(DISTINCT txn_id), COALESCE(SUM(amount), 0) FROM {ledger} WHERE activity_id = $1`,
		func(r *stdsql.Rows) error { return r.Scan(&q.checked.LedgerLegs, &q.checked.Transactions, &sum) })
	if err != nil {
		return fmt.Errorf("sum ledger: %w", err)
	}
	if sum != 0 {
		q.f.add(Discrepancy{Kind: KindLedgerUnbalanced, Ref: q.activityID,
			Detail: fmt.Sprintf("the activity's ledger sums to %d, not 0", sum)})
	}
	err = q.each(ctx, `SELECT txn_id, SUM(amount), COUNT(*) FROM {ledger} WHERE activity_id = $1
		GROUP BY txn_id HAVING SUM(amount) <> 0 ORDER BY txn_id`,
		func(r *stdsql.Rows) error {
			var txn string
			var s, n int64
			if err := r.Scan(&txn, &s, &n); err != nil {
				return err
			}
			q.f.add(Discrepancy{Kind: KindTxnUnbalanced, Ref: txn, Detail: fmt.Sprintf("its %d legs sum to %d, not 0", n, s)})
			return nil
		})
	if err != nil {
		return fmt.Errorf("find unbalanced transactions: %w", err)
	}
	return nil
}

// balances: every balance row equals the sum of its user's legs and is not negative, and no
// user has legs without a balance row.
func (q *querier) balances(ctx context.Context) error {
	err := q.each(ctx, `SELECT COUNT(*) FROM {balances} WHERE activity_id = $1`,
		func(r *stdsql.Rows) error { return r.Scan(&q.checked.Balances) })
	if err != nil {
		return fmt.Errorf("count balances: %w", err)
	}
	err = q.each(ctx, `SELECT b.act_id, b.settled, COALESCE(l.total, 0)
		FROM {balances} b LEFT JOIN (
			SELECT act_id, SUM(amount) AS total FROM {ledger} WHERE activity_id = $1 AND act_id <> 0 GROUP BY act_id
		) l ON l.act_id = b.act_id
		WHERE b.activity_id = $1 AND (b.settled <> COALESCE(l.total, 0) OR b.settled < 0)
		ORDER BY b.act_id`,
		func(r *stdsql.Rows) error {
			var actID, settled, legs int64
			if err := r.Scan(&actID, &settled, &legs); err != nil {
				return err
			}
			ref := strconv.FormatInt(actID, 10)
			if settled != legs {
				q.f.add(Discrepancy{Kind: KindBalanceMismatch, Ref: ref,
					Detail: fmt.Sprintf("act %d: the balance row says %d, the ledger legs sum to %d", actID, settled, legs)})
			}
			if settled < 0 {
				q.f.add(Discrepancy{Kind: KindBalanceNegative, Ref: ref, Detail: fmt.Sprintf("act %d: the balance is %d", actID, settled)})
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("compare balances: %w", err)
	}
	err = q.each(ctx, `SELECT l.act_id, SUM(l.amount) FROM {ledger} l
		WHERE l.activity_id = $1 AND l.act_id <> 0
		  AND NOT EXISTS (SELECT 1 FROM {balances} b WHERE b.activity_id = l.activity_id AND b.act_id = l.act_id)
		GROUP BY l.act_id HAVING SUM(l.amount) <> 0 ORDER BY l.act_id`,
		func(r *stdsql.Rows) error {
			var actID, legs int64
			if err := r.Scan(&actID, &legs); err != nil {
				return err
			}
			q.f.add(Discrepancy{Kind: KindBalanceMismatch, Ref: strconv.FormatInt(actID, 10),
				Detail: fmt.Sprintf("act %d: the ledger legs sum to %d, but there is no balance row", actID, legs)})
			return nil
		})
	if err != nil {
		return fmt.Errorf("find legs without balances: %w", err)
	}
	return nil
}

// rewards: every settled order has exactly its two legs: a cash order its REWARD legs (the
// scene's budget account −amount, the user +amount), any other its ASSET_GRANT legs (the
// budget −face value, the award type's asset account +face value); every REWARD or
// ASSET_GRANT leg belongs to a settled order of its kind; every settled non-cash order has
// its asset.
func (q *querier) rewards(ctx context.Context) error {
	err := q.each(ctx, `SELECT order_no, award_type, amount, legs, credit_ok, budget_ok FROM (
			SELECT o.order_no AS order_no, o.award_type AS award_type, o.amount AS amount, COUNT(l.id) AS legs,
				COALESCE(SUM(CASE WHEN l.amount = o.amount AND (
					(o.award_type = {CASH} AND l.account = {user:} || o.act_id AND l.act_id = o.act_id) OR
					(o.award_type <> {CASH} AND l.account = {asset:} || o.award_type AND l.act_id = 0)) THEN 1 ELSE 0 END), 0) AS credit_ok,
				COALESCE(SUM(CASE WHEN l.account = {budget:} || o.scene_id AND l.act_id = 0 AND l.amount = -o.amount THEN 1 ELSE 0 END), 0) AS budget_ok
			FROM {orders} o
			LEFT JOIN {ledger} l ON l.activity_id = o.activity_id AND l.ref = o.order_no
				AND l.kind = CASE WHEN o.award_type = {CASH} THEN {REWARD} ELSE {ASSET_GRANT} END
			WHERE o.activity_id = $1
			GROUP BY o.id, o.order_no, o.award_type, o.amount
		) t WHERE legs <> 2 OR credit_ok <> 1 OR budget_ok <> 1 ORDER BY order_no`,
		func(r *stdsql.Rows) error {
			var no, awardType string
			var amount, legs, creditOK, budgetOK int64
			if err := r.Scan(&no, &awardType, &amount, &legs, &creditOK, &budgetOK); err != nil {
				return err
			}
			q.f.add(Discrepancy{Kind: KindRewardLegsMismatch, OrderNo: no, Detail: fmt.Sprintf(
				"a %s order of %d fen has %d legs (%d right credit legs, %d right budget legs; want 2, 1, 1)", awardType, amount, legs, creditOK, budgetOK)})
			return nil
		})
	if err != nil {
		return fmt.Errorf("match orders with legs: %w", err)
	}
	// A join on the orders' unique (activity_id, order_no) index rather than NOT EXISTS with
	// the award type: PostgreSQL would otherwise pick another index and loop over every order.
	err = q.each(ctx, `SELECT l.ref, COUNT(*), SUM(l.amount) FROM {ledger} l
		LEFT JOIN {orders} o ON o.activity_id = l.activity_id AND o.order_no = l.ref
		WHERE l.activity_id = $1 AND l.kind IN ({REWARD}, {ASSET_GRANT}) AND (o.id IS NULL
			OR (l.kind = {REWARD}) <> (o.award_type = {CASH}))
		GROUP BY l.ref ORDER BY l.ref`,
		func(r *stdsql.Rows) error {
			var ref string
			var n, sum int64
			if err := r.Scan(&ref, &n, &sum); err != nil {
				return err
			}
			q.f.add(Discrepancy{Kind: KindRewardLegsOrphaned, OrderNo: ref,
				Detail: fmt.Sprintf("%d reward legs (summing to %d) without a settled order of their kind", n, sum)})
			return nil
		})
	if err != nil {
		return fmt.Errorf("find orphaned reward legs: %w", err)
	}
	err = q.each(ctx, `SELECT o.order_no, o.award_type FROM {orders} o
		WHERE o.activity_id = $1 AND o.award_type <> {CASH} AND NOT EXISTS (
			SELECT 1 FROM {assets} a WHERE a.activity_id = o.activity_id AND a.order_no = o.order_no)
		ORDER BY o.order_no`,
		func(r *stdsql.Rows) error {
			var no, kind string
			if err := r.Scan(&no, &kind); err != nil {
				return err
			}
			q.f.add(Discrepancy{Kind: KindAssetMissing, OrderNo: no, Detail: fmt.Sprintf("a settled %s order without its asset", kind)})
			return nil
		})
	if err != nil {
		return fmt.Errorf("find orders without assets: %w", err)
	}
	return nil
}

// issuedByScene reads what the database knows each scene issued (every award type, as
// budgets count them: the settled orders, and the journaled ones not settled yet) into
// q.issued, and what each scene's budget account paid out into q.paid, for the budget
// checks; it also counts the settled orders.
func (q *querier) issuedByScene(ctx context.Context) error {
	out, paid := map[string]int64{}, map[string]int64{}
	add := func(count bool) func(r *stdsql.Rows) error {
		return func(r *stdsql.Rows) error {
			var scene string
			var n, sum int64
			if err := r.Scan(&scene, &n, &sum); err != nil {
				return err
			}
			out[scene] += sum
			if count {
				q.checked.Orders += n
			}
			return nil
		}
	}
	err := q.each(ctx, `SELECT scene_id, COUNT(*), COALESCE(SUM(amount), 0) FROM {orders} WHERE activity_id = $1 GROUP BY scene_id`, add(true))
	if err != nil {
		return fmt.Errorf("sum issued by scene: %w", err)
	}
	err = q.each(ctx, `SELECT scene_id, COUNT(*), COALESCE(SUM(amount), 0) FROM {journal} j
		WHERE j.activity_id = $1 AND NOT j.settled
		  AND NOT EXISTS (SELECT 1 FROM {orders} o WHERE o.activity_id = j.activity_id AND o.order_no = j.order_no)
		GROUP BY scene_id`, add(false))
	if err != nil {
		return fmt.Errorf("sum journaled by scene: %w", err)
	}
	err = q.each(ctx, `SELECT account, -COALESCE(SUM(amount), 0) FROM {ledger}
		WHERE activity_id = $1 AND account LIKE {budget:} || '%' GROUP BY account`,
		func(r *stdsql.Rows) error {
			var account string
			var sum int64
			if err := r.Scan(&account, &sum); err != nil {
				return err
			}
			paid[strings.TrimPrefix(account, ledger.BudgetPrefix)] = sum
			return nil
		})
	if err != nil {
		return fmt.Errorf("sum budget accounts: %w", err)
	}
	q.issued, q.paid = out, paid
	return nil
}

// withdrawals: the payout clearing account holds exactly the PROCESSING withdrawals, and each
// withdrawal has its opening legs and the closing legs its status calls for.
func (q *querier) withdrawals(ctx context.Context) error {
	var clearing, processing int64
	err := q.each(ctx, `SELECT COALESCE(SUM(amount), 0) FROM {ledger} WHERE activity_id = $1 AND account = {clearing}`,
		func(r *stdsql.Rows) error { return r.Scan(&clearing) })
	if err != nil {
		return fmt.Errorf("sum clearing account: %w", err)
	}
	err = q.each(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = {PROCESSING} THEN amount ELSE 0 END), 0)
		FROM {withdrawals} WHERE activity_id = $1`,
		func(r *stdsql.Rows) error { return r.Scan(&q.checked.Withdrawals, &processing) })
	if err != nil {
		return fmt.Errorf("sum withdrawals: %w", err)
	}
	if clearing != processing {
		q.f.add(Discrepancy{Kind: KindClearingMismatch, Ref: ledger.PayoutClearing,
			Detail: fmt.Sprintf("the clearing account holds %d, the PROCESSING withdrawals total %d", clearing, processing)})
	}
	err = q.each(ctx, `SELECT id, status, amount, opened, debited, paid, refunded FROM (
			SELECT w.id AS id, w.status AS status, w.amount AS amount,
				COALESCE(SUM(CASE WHEN l.kind = {WITHDRAWAL} AND l.account = {clearing} THEN l.amount ELSE 0 END), 0) AS opened,
				COALESCE(SUM(CASE WHEN l.kind = {WITHDRAWAL} AND l.act_id = w.act_id THEN -l.amount ELSE 0 END), 0) AS debited,
				COALESCE(SUM(CASE WHEN l.kind = {WITHDRAWAL_PAID} AND l.account = {clearing} THEN -l.amount ELSE 0 END), 0) AS paid,
				COALESCE(SUM(CASE WHEN l.kind = {WITHDRAWAL_REFUND} AND l.account = {clearing} THEN -l.amount ELSE 0 END), 0) AS refunded
			FROM {withdrawals} w
			LEFT JOIN {ledger} l ON l.activity_id = w.activity_id AND l.ref = w.id
				AND l.kind IN ({WITHDRAWAL}, {WITHDRAWAL_PAID}, {WITHDRAWAL_REFUND})
			WHERE w.activity_id = $1
			GROUP BY w.id, w.status, w.amount, w.act_id
		) t WHERE opened <> amount OR debited <> amount
			OR (status = {PROCESSING} AND (paid <> 0 OR refunded <> 0))
			OR (status = {SUCCEEDED} AND (paid <> amount OR refunded <> 0))
			OR (status = {FAILED} AND (refunded <> amount OR paid <> 0))
		ORDER BY id`,
		func(r *stdsql.Rows) error {
			var id, status string
			var amount, opened, debited, paid, refunded int64
			if err := r.Scan(&id, &status, &amount, &opened, &debited, &paid, &refunded); err != nil {
				return err
			}
			q.f.add(Discrepancy{Kind: KindWithdrawalLegsMismatch, Ref: id, Detail: fmt.Sprintf(
				"a %s withdrawal of %d: debited %d, into clearing %d, paid out %d, refunded %d", status, amount, debited, opened, paid, refunded)})
			return nil
		})
	if err != nil {
		return fmt.Errorf("match withdrawals with legs: %w", err)
	}
	return nil
}

// redPackets: each packet's grabs, refund and what its escrow still holds add up to its total,
// and its escrow account holds the remaining amount while open and nothing once closed.
func (q *querier) redPackets(ctx context.Context) error {
	err := q.each(ctx, `SELECT COUNT(*) FROM {packets} WHERE activity_id = $1`,
		func(r *stdsql.Rows) error { return r.Scan(&q.checked.RedPackets) })
	if err != nil {
		return fmt.Errorf("count red packets: %w", err)
	}
	err = q.each(ctx, `SELECT id, status, total_amount, remaining_amount, refunded_amount, grabbed, escrow FROM (
			SELECT p.id AS id, p.status AS status, p.total_amount AS total_amount, p.remaining_amount AS remaining_amount,
				p.refunded_amount AS refunded_amount,
				COALESCE((SELECT SUM(g.amount) FROM {grabs} g WHERE g.packet_id = p.id), 0) AS grabbed,
				COALESCE((SELECT SUM(l.amount) FROM {ledger} l
					WHERE l.activity_id = p.activity_id AND l.account = {redpacket:} || p.id), 0) AS escrow
			FROM {packets} p WHERE p.activity_id = $1
		) t WHERE grabbed + refunded_amount + (CASE WHEN status = {OPEN} THEN remaining_amount ELSE 0 END) <> total_amount
			OR escrow <> (CASE WHEN status = {OPEN} THEN remaining_amount ELSE 0 END)
		ORDER BY id`,
		func(r *stdsql.Rows) error {
			var id, status string
			var total, remaining, refunded, grabbed, escrow int64
			if err := r.Scan(&id, &status, &total, &remaining, &refunded, &grabbed, &escrow); err != nil {
				return err
			}
			held := int64(0)
			if status == string(redpacket.StatusOPEN) {
				held = remaining
			}
			if grabbed+refunded+held != total {
				q.f.add(Discrepancy{Kind: KindRedPacketUnbalanced, Ref: id, Detail: fmt.Sprintf(
					"%s packet of %d: grabbed %d + refunded %d + held %d = %d", status, total, grabbed, refunded, held, grabbed+refunded+held)})
			}
			switch {
			case escrow == held:
			case status == string(redpacket.StatusOPEN):
				q.f.add(Discrepancy{Kind: KindRedPacketEscrowMismatch, Ref: id, Detail: fmt.Sprintf(
					"open packet: its escrow account holds %d, its remaining amount is %d", escrow, remaining)})
			default:
				q.f.add(Discrepancy{Kind: KindRedPacketEscrowNotEmpty, Ref: id, Detail: fmt.Sprintf(
					"%s packet: its escrow account still holds %d", status, escrow)})
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("check red packets: %w", err)
	}
	return nil
}

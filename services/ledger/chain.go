package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/ledgerchain"
)

// Chains is how many hash chains one activity's ledger has. A transaction's legs all go to
// one chain, chosen by its id; posting locks only the chains it touches, so concurrent
// transactions of one activity wait for each other one time in Chains.
const Chains = 16

// chainOf is the chain a transaction's legs go to.
func chainOf(txnID string) int {
	h := fnv.New32a()
	h.Write([]byte(txnID))
	return int(h.Sum32() % Chains)
}

// EntryHash is the hash of one entry: SHA-256 over its predecessor's hash and every field of
// its content, hex encoded. Changing any field, or the order, changes it.
func EntryHash(prev string, e *ent.LedgerEntry) string {
	return entryHash(prev, e.TxnID, e.ActivityID, e.Account, e.ActID, e.Amount, e.Kind, e.Ref, e.Feed, e.CreatedAt, e.Chain, e.Seq)
}

func entryHash(prev, txnID, activityID, account string, actID, amount int64, kind, ref, feed string, at time.Time, chain int, seq int64) string {
	var b strings.Builder
	for _, f := range []string{prev, txnID, activityID, account, strconv.FormatInt(actID, 10), strconv.FormatInt(amount, 10), kind, ref, feed,
		strconv.FormatInt(at.UTC().UnixMicro(), 10), strconv.Itoa(chain), strconv.FormatInt(seq, 10)} {
		// Length-prefixed, so no field's content can pass for a field boundary.
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// chainHead is one chain's head while a Post extends it.
type chainHead struct {
	row  *ent.LedgerChain
	seq  int64
	hash string
}

// lockChains returns the heads of the given chains of an activity, creating missing ones, and
// locked for this transaction by a no-op update (a row lock on PostgreSQL, SQLite's single
// writer holds them anyway) in chain order, so two transactions never wait crosswise.
func lockChains(ctx context.Context, tx *ent.Tx, activityID string, chains []int) (map[int]*chainHead, error) {
	sort.Ints(chains)
	heads := make(map[int]*chainHead, len(chains))
	for _, ch := range chains {
		err := tx.LedgerChain.Create().SetActivityID(activityID).SetChain(ch).
			OnConflictColumns(ledgerchain.FieldActivityID, ledgerchain.FieldChain).DoNothing().Exec(ctx)
		if err != nil && !IsNoRows(err) {
			return nil, fmt.Errorf("create ledger chain: %w", err)
		}
		if err := tx.LedgerChain.Update().Where(ledgerchain.ActivityID(activityID), ledgerchain.Chain(ch)).AddSeq(0).Exec(ctx); err != nil {
			return nil, fmt.Errorf("lock ledger chain: %w", err)
		}
		row, err := tx.LedgerChain.Query().Where(ledgerchain.ActivityID(activityID), ledgerchain.Chain(ch)).Only(ctx)
		if err != nil {
			return nil, fmt.Errorf("lock ledger chain: %w", err)
		}
		heads[ch] = &chainHead{row: row, seq: row.Seq, hash: row.Hash}
	}
	return heads, nil
}

// ChainHead is one chain's last seq and hash.
type ChainHead struct {
	Chain int    `json:"chain"`
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
}

// Head is an activity's ledger head: how many chained entries it has, and one hash over
// its chains' heads.
type Head struct {
	ActivityID string
	Entries    int64
	Hash       string
	Chains     []ChainHead
}

// HeadOf combines chain heads into the activity's head (chains in order, empty ones left out).
func HeadOf(activityID string, chains []ChainHead) Head {
	sort.Slice(chains, func(i, j int) bool { return chains[i].Chain < chains[j].Chain })
	h := sha256.New()
	var n int64
	out := make([]ChainHead, 0, len(chains))
	for _, c := range chains {
		if c.Seq == 0 {
			continue
		}
		n += c.Seq
		fmt.Fprintf(h, "%d:%d:%s\n", c.Chain, c.Seq, c.Hash)
		out = append(out, c)
	}
	return Head{ActivityID: activityID, Entries: n, Hash: hex.EncodeToString(h.Sum(nil)), Chains: out}
}

// ReadHead reads an activity's current ledger head.
func ReadHead(ctx context.Context, c *ent.Client, activityID string) (Head, error) {
	rows, err := c.LedgerChain.Query().Where(ledgerchain.ActivityID(activityID)).All(ctx)
	if err != nil {
		return Head{}, fmt.Errorf("read ledger chains: %w", err)
	}
	chains := make([]ChainHead, len(rows))
	for i, r := range rows {
		chains[i] = ChainHead{Chain: r.Chain, Seq: r.Seq, Hash: r.Hash}
	}
	return HeadOf(activityID, chains), nil
}

// Package seal signs and verifies the ledger's hash chains. A seal is an activity's ledger head
// (its chains' last seq and hash) signed with the service's Ed25519 key, the one published at
// /.well-known/jwks.json; Verify walks every chained entry of an activity, recomputes each hash
// and checks the links, the chain heads and the latest seal, and names the first entry that
// was edited, deleted or inserted.
package seal

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/ledgerchain"
	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/ent/ledgerseal"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/token"
)

// Seal is a signed ledger head.
type Seal struct {
	ActivityID string
	Entries    int64
	Hash       string
	// Signature is a compact JWS (EdDSA) of {"activityId", "entries", "hash", "signedAt"}.
	Signature string
	SignedAt  time.Time
}

// Service seals and verifies ledgers.
type Service struct {
	db     *store.DB
	signer *token.Signer
	now    func() time.Time
	log    *slog.Logger
}

// New returns the Service.
func New(db *store.DB, signer *token.Signer, now func() time.Time, log *slog.Logger) *Service {
	return &Service{db: db, signer: signer, now: now, log: log}
}

// Seal signs an activity's current ledger head and keeps the seal.
func (s *Service) Seal(ctx context.Context, activityID string) (*Seal, error) {
	head, err := ledger.ReadHead(ctx, s.db.R, activityID)
	if err != nil {
		return nil, err
	}
	at := store.Time(s.now())
	sig, err := s.signer.SignClaims(jwt.MapClaims{"activityId": activityID, "entries": head.Entries, "hash": head.Hash,
		"signedAt": at.Format(time.RFC3339Nano)})
	if err != nil {
		return nil, err
	}
	chains, _ := json.Marshal(head.Chains) // a slice of plain structs cannot fail to marshal
	err = s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		return tx.LedgerSeal.Create().SetActivityID(activityID).SetEntries(head.Entries).SetHash(head.Hash).
			SetChains(string(chains)).SetSignature(sig).SetSignedAt(at).Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("keep ledger seal: %w", err)
	}
	return &Seal{ActivityID: activityID, Entries: head.Entries, Hash: head.Hash, Signature: sig, SignedAt: at}, nil
}

// Sealer is the worker that seals every activity whose ledger moved since its last seal.
type Sealer struct {
	s        *Service
	catalog  *activity.Catalog
	interval time.Duration
}

// Sealer returns the periodic sealing worker.
func (s *Service) Sealer(catalog *activity.Catalog, interval time.Duration) *Sealer {
	return &Sealer{s: s, catalog: catalog, interval: interval}
}

// Run seals until ctx ends.
func (w *Sealer) Run(ctx context.Context) error {
	return lifecycle.Every(ctx, w.s.log, w.interval, "seal ledger heads", func(ctx context.Context) (int, error) {
		acts, err := w.catalog.All(ctx)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, a := range acts {
			head, err := ledger.ReadHead(ctx, w.s.db.R, a.ID)
			if err != nil || head.Entries == 0 {
				continue
			}
			last, err := w.s.db.R.LedgerSeal.Query().Where(ledgerseal.ActivityID(a.ID)).Order(ent.Desc(ledgerseal.FieldSignedAt)).First(ctx)
			if err == nil && last.Hash == head.Hash {
				continue
			}
			if _, err := w.s.Seal(ctx, a.ID); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	})
}

// Report is what Verify found.
type Report struct {
	ActivityID string
	// Entries is how many chained entries were checked.
	Entries int64
	OK      bool
	// BrokenEntry is the id of the first entry that does not check out (0 when the break is a
	// missing tail or a seal); Reason says what is wrong.
	BrokenEntry int
	Reason      string
}

// verifyPage is how many entries Verify reads at a time.
const verifyPage = 2000

// Verify checks an activity's chains entry by entry, then the chain heads and the latest seal.
func (s *Service) Verify(ctx context.Context, activityID string) (*Report, error) {
	rep := &Report{ActivityID: activityID, OK: true}
	broken := func(id int, format string, args ...any) (*Report, error) {
		rep.OK, rep.BrokenEntry, rep.Reason = false, id, fmt.Sprintf(format, args...)
		return rep, nil
	}
	heads, err := s.db.R.LedgerChain.Query().Where(ledgerchain.ActivityID(activityID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read ledger chains: %w", err)
	}
	want := map[int]*ent.LedgerChain{}
	for _, h := range heads {
		want[h.Chain] = h
	}
	type state struct {
		seq  int64
		hash string
	}
	got := map[int]*state{}
	last, err := s.db.R.LedgerSeal.Query().Where(ledgerseal.ActivityID(activityID)).Order(ent.Desc(ledgerseal.FieldSignedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, fmt.Errorf("read ledger seal: %w", err)
	}
	var sealed []ledger.ChainHead
	atSeq := map[[2]int64]string{} // the sealed (chain, seq) → the hash found there
	if last != nil {
		claims, err := s.signer.VerifyClaims(last.Signature)
		if err != nil || claims["hash"] != last.Hash || claims["activityId"] != activityID {
			return broken(0, "the seal of %s does not verify with the ledger key", last.SignedAt.Format(time.RFC3339))
		}
		if err := json.Unmarshal([]byte(last.Chains), &sealed); err != nil || ledger.HeadOf(activityID, sealed).Hash != last.Hash {
			return broken(0, "the seal of %s is not the chain heads it lists", last.SignedAt.Format(time.RFC3339))
		}
		for _, c := range sealed {
			atSeq[[2]int64{int64(c.Chain), c.Seq}] = ""
		}
	}
	firstChained := 0
	afterID := 0
	for {
		page, err := s.db.R.LedgerEntry.Query().Where(ledgerentry.ActivityID(activityID), ledgerentry.IDGT(afterID)).
			Order(ent.Asc(ledgerentry.FieldID)).Limit(verifyPage).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read ledger entries: %w", err)
		}
		for _, e := range page {
			afterID = e.ID
			if e.Seq == 0 && e.Hash == "" {
				// Written before the chains existed, or inserted to look like it.
				if firstChained != 0 {
					return broken(e.ID, "entry %d carries no chain link but comes after chained entries: inserted", e.ID)
				}
				continue
			}
			if firstChained == 0 {
				firstChained = e.ID
			}
			st := got[e.Chain]
			if st == nil {
				st = &state{}
				got[e.Chain] = st
			}
			if e.Seq != st.seq+1 {
				return broken(e.ID, "entry %d is number %d of chain %d, expected %d: an entry was deleted or inserted", e.ID, e.Seq, e.Chain, st.seq+1)
			}
			if e.PrevHash != st.hash {
				return broken(e.ID, "entry %d does not link to its predecessor in chain %d", e.ID, e.Chain)
			}
			if h := ledger.EntryHash(st.hash, e); h != e.Hash {
				return broken(e.ID, "entry %d was edited: its content no longer matches its hash", e.ID)
			}
			st.seq, st.hash = e.Seq, e.Hash
			if k := [2]int64{int64(e.Chain), e.Seq}; last != nil {
				if _, ok := atSeq[k]; ok {
					atSeq[k] = e.Hash
				}
			}
			rep.Entries++
		}
		if len(page) < verifyPage {
			break
		}
	}
	for ch, h := range want {
		st := got[ch]
		if st == nil {
			st = &state{}
		}
		if st.seq != h.Seq || st.hash != h.Hash {
			return broken(0, "chain %d ends at entry number %d, its head says %d: entries at its end were deleted", ch, st.seq, h.Seq)
		}
	}
	for ch := range got {
		if want[ch] == nil {
			return broken(0, "chain %d has entries but no head: inserted", ch)
		}
	}
	for _, c := range sealed {
		if atSeq[[2]int64{int64(c.Chain), c.Seq}] != c.Hash {
			return broken(0, "chain %d no longer matches the seal of %s at entry number %d: rewritten", c.Chain, last.SignedAt.Format(time.RFC3339), c.Seq)
		}
	}
	return rep, nil
}

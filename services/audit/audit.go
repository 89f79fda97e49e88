// Package audit keeps the append-only record of admin changes: who changed what, from what to
// what, and why. Entries are written in the same transaction as the change they describe, so
// there is no change without its entry and no entry without its change.
package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/auditentry"
	"github.com/springwallet/wallet/ent/predicate"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/errs"
)

// Entry is one audited change.
type Entry struct {
	ID                               int
	Actor, Action, Target            string
	Before, After, Reason, RequestID string
	At                               time.Time
}

// Actor names the caller of ctx for the log: its act_id in decimal.
func Actor(ctx context.Context) string {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return "system"
	}
	return strconv.FormatInt(p.ActID, 10)
}

// JSON renders a value for before/after ("" for nil).
func JSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return string(b)
}

// Write appends an entry inside tx.
func Write(ctx context.Context, tx *ent.Tx, action, target string, before, after any, reason string, at time.Time) error {
	_, err := tx.AuditEntry.Create().SetActor(Actor(ctx)).SetAction(action).SetTarget(target).
		SetBefore(JSON(before)).SetAfter(JSON(after)).SetReason(reason).SetRequestID(auth.RequestID(ctx)).
		SetAt(at.UTC().Truncate(time.Microsecond)).Save(ctx)
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// Filter narrows a listing; empty fields match everything.
type Filter struct {
	Action, Target, Actor string
}

// Page is one page of the log, newest first.
type Page struct {
	Entries []Entry
	Cursors []string
	HasNext bool
}

// List returns up to first entries older than the cursor after, newest first.
func List(ctx context.Context, c *ent.Client, first int, after string, f Filter) (*Page, error) {
	if first < 1 || first > 100 {
		return nil, errs.Input("first", "first must be 1..100")
	}
	q := c.AuditEntry.Query()
	if after != "" {
		id, err := decodeCursor(after)
		if err != nil {
			return nil, err
		}
		q = q.Where(auditentry.IDLT(id))
	}
	if f.Action != "" {
		q = q.Where(auditentry.Action(f.Action))
	}
	if f.Target != "" {
		q = q.Where(auditentry.Target(f.Target))
	}
	if f.Actor != "" {
		q = q.Where(predicate.AuditEntry(sql.FieldEQ(auditentry.FieldActor, f.Actor)))
	}
	// Ids grow with time (entries are only appended), so id order is time order and the
	// primary key is the keyset.
	rows, err := q.Order(ent.Desc(auditentry.FieldID)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	p := &Page{}
	if len(rows) > first {
		rows, p.HasNext = rows[:first], true
	}
	for _, r := range rows {
		p.Entries = append(p.Entries, Entry{ID: r.ID, Actor: r.Actor, Action: r.Action, Target: r.Target, Before: r.Before,
			After: r.After, Reason: r.Reason, RequestID: r.RequestID, At: r.At})
		p.Cursors = append(p.Cursors, base64.RawURLEncoding.EncodeToString([]byte("a"+strconv.Itoa(r.ID))))
	}
	return p, nil
}

func decodeCursor(s string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && len(raw) > 1 && raw[0] == 'a' {
		if id, err := strconv.Atoi(string(raw[1:])); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, errs.Input("after", "the cursor is not one this log produced")
}

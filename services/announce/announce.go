// Package announce manages the announcements shown on the wallet page: operators create,
// update and delete them (audited); apps read the live ones for their app from a per-instance
// cache refreshed every two seconds, so a new announcement shows within five. Reading never
// fails the wallet page: a failure is an empty list.
package announce

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/announcement"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/audit"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
)

// Announcement is one notice.
type Announcement struct {
	ID, ActivityID   string
	AppIDs           []int
	Title, Body      string
	StartsAt, EndsAt time.Time
	Priority         int
}

func from(a *ent.Announcement) Announcement {
	return Announcement{ID: a.ID, ActivityID: a.ActivityID, AppIDs: a.AppIds, Title: a.Title, Body: a.Body,
		StartsAt: a.StartsAt, EndsAt: a.EndsAt, Priority: a.Priority}
}

// Input is what an operator sets.
type Input struct {
	ActivityID       string
	AppIDs           []int
	Title, Body      string
	StartsAt, EndsAt time.Time
	Priority         int
}

// Service manages announcements.
type Service struct {
	db       *store.DB
	catalog  *activity.Catalog
	switches switches.Reader
	log      *slog.Logger
	now      func() time.Time
	maxAge   time.Duration
	mu       sync.Mutex
	cache    []Announcement
	loaded   time.Time
}

// New returns the Service.
func New(db *store.DB, catalog *activity.Catalog, sw switches.Reader, log *slog.Logger, now func() time.Time) *Service {
	return &Service{db: db, catalog: catalog, switches: sw, log: log, now: now, maxAge: 2 * time.Second}
}

func (s *Service) validate(ctx context.Context, in *Input) error {
	if err := activity.ValidateID("activityId", in.ActivityID); err != nil {
		return err
	}
	if _, err := s.catalog.Lookup(ctx, in.ActivityID); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(in.Title); n < 1 || n > 100 {
		return errs.Input("title", "title must be 1..100 characters")
	}
	if utf8.RuneCountInString(in.Body) > 2000 {
		return errs.Input("body", "body must be at most 2000 characters")
	}
	for _, app := range in.AppIDs {
		if app < 1 || app > 8 {
			return errs.Input("appIds", "app ids are 1..8")
		}
	}
	if !in.StartsAt.Before(in.EndsAt) {
		return errs.Input("endsAt", "endsAt must be after startsAt")
	}
	slices.Sort(in.AppIDs)
	in.AppIDs = slices.Compact(in.AppIDs)
	if in.AppIDs == nil {
		in.AppIDs = []int{}
	}
	return nil
}

// Create adds an announcement.
func (s *Service) Create(ctx context.Context, in Input) (Announcement, error) {
	if err := s.validate(ctx, &in); err != nil {
		return Announcement{}, err
	}
	var out Announcement
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		var b [8]byte
		_, _ = rand.Read(b[:])
		now := s.now().UTC()
		row, err := tx.Announcement.Create().SetID("an-" + hex.EncodeToString(b[:])).SetActivityID(in.ActivityID).
			SetAppIds(in.AppIDs).SetTitle(in.Title).SetBody(in.Body).SetStartsAt(in.StartsAt).SetEndsAt(in.EndsAt).
			SetPriority(in.Priority).SetCreatedAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("create announcement: %w", err)
		}
		out = from(row)
		return audit.Write(ctx, tx, "createAnnouncement", out.ID, nil, out, "", now)
	})
	if err == nil {
		s.invalidate()
	}
	return out, err
}

// Update replaces an announcement's content.
func (s *Service) Update(ctx context.Context, id string, in Input) (Announcement, error) {
	if err := s.validate(ctx, &in); err != nil {
		return Announcement{}, err
	}
	var out Announcement
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		cur, err := tx.Announcement.Get(ctx, id)
		if ent.IsNotFound(err) {
			return errs.E(errs.NotFound, "no announcement %q", id)
		} else if err != nil {
			return err
		}
		row, err := cur.Update().SetActivityID(in.ActivityID).SetAppIds(in.AppIDs).SetTitle(in.Title).SetBody(in.Body).
			SetStartsAt(in.StartsAt).SetEndsAt(in.EndsAt).SetPriority(in.Priority).Save(ctx)
		if err != nil {
			return fmt.Errorf("update announcement: %w", err)
		}
		out = from(row)
		return audit.Write(ctx, tx, "updateAnnouncement", id, from(cur), out, "", s.now())
	})
	if err == nil {
		s.invalidate()
	}
	return out, err
}

// Delete removes an announcement; the audit entry keeps what it said.
func (s *Service) Delete(ctx context.Context, id, reason string) error {
	if reason == "" {
		return errs.Input("reason", "a reason is required")
	}
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		cur, err := tx.Announcement.Get(ctx, id)
		if ent.IsNotFound(err) {
			return errs.E(errs.NotFound, "no announcement %q", id)
		} else if err != nil {
			return err
		}
		if err := tx.Announcement.DeleteOne(cur).Exec(ctx); err != nil {
			return fmt.Errorf("delete announcement: %w", err)
		}
		return audit.Write(ctx, tx, "deleteAnnouncement", id, from(cur), nil, reason, s.now())
	})
	if err == nil {
		s.invalidate()
	}
	return err
}

// List returns every announcement of an activity (all of them when activityID is ""), for
// operators, newest window first.
func (s *Service) List(ctx context.Context, activityID string) ([]Announcement, error) {
	q := s.db.R.Announcement.Query()
	if activityID != "" {
		q = q.Where(announcement.ActivityID(activityID))
	}
	rows, err := q.Order(ent.Desc(announcement.FieldStartsAt), ent.Asc(announcement.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list announcements: %w", err)
	}
	out := make([]Announcement, len(rows))
	for i, r := range rows {
		out[i] = from(r)
	}
	return out, nil
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.cache, s.loaded = nil, time.Time{}
	s.mu.Unlock()
}

// current returns the cached announcements that have not ended, reloading when stale.
func (s *Service) current(ctx context.Context) ([]Announcement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache != nil && time.Since(s.loaded) < s.maxAge {
		return s.cache, nil
	}
	rows, err := s.db.R.Announcement.Query().Where(announcement.EndsAtGT(s.now())).All(ctx)
	if err != nil {
		if s.cache != nil {
			return s.cache, nil // keep showing the last known ones
		}
		return nil, err
	}
	s.cache = make([]Announcement, len(rows))
	for i, r := range rows {
		s.cache[i] = from(r)
	}
	s.loaded = time.Now()
	return s.cache, nil
}

// Live returns what an app's wallet page shows for an activity (or its parent) now: highest
// priority first. It never fails: a failure or the switch off is an empty list.
func (s *Service) Live(ctx context.Context, activityID string, appID int) []Announcement {
	out := []Announcement{}
	if !s.switches.Enabled(switches.Announcements) {
		return out
	}
	ids := map[string]bool{activityID: true}
	now := s.now()
	if live, err := s.catalog.Resolve(ctx, activityID, now); err == nil {
		ids[live.ID] = true
		if live.ParentID != "" {
			ids[live.ParentID] = true
		}
	}
	all, err := s.current(ctx)
	if err != nil {
		s.log.Warn("announcements unavailable", "err", err)
		return out
	}
	for _, a := range all {
		if ids[a.ActivityID] && !now.Before(a.StartsAt) && now.Before(a.EndsAt) && (len(a.AppIDs) == 0 || slices.Contains(a.AppIDs, appID)) {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return out[i].StartsAt.After(out[j].StartsAt)
	})
	return out
}

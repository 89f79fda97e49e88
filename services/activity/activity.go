// Package activity keeps the activity tree (parents, their phase children, scenes) and answers
// which child is live at a given time. Issuance asks on every request, so it serves from a
// per-instance snapshot that is reloaded from the database at most once a second.
package activity

import (
	"context"
	"fmt"
	"math/bits"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/springwallet/wallet/ent"
	entactivity "github.com/springwallet/wallet/ent/activity"
	entscene "github.com/springwallet/wallet/ent/scene"
	"github.com/springwallet/wallet/services/audit"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/store"
)

// IDPattern is the contract's shape of activity and scene ids.
var IDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// Phases of an activity.
const (
	PhaseInternal   = "INTERNAL"
	PhaseGray       = "GRAY"
	PhaseProduction = "PRODUCTION"
)

// Award types the wallet knows. CASH is money; the others become assets.
var AwardTypes = map[string]bool{"CASH": true, "COUPON": true}

// Activity is one node of the tree.
type Activity struct {
	ID          string
	Name        string
	ParentID    string
	Phase       string
	StartsAt    time.Time
	EndsAt      time.Time
	BudgetTotal int64
	// PerUserCap is the most one account may receive in the activity (0: no cap).
	PerUserCap int64
	// Version changes whenever the activity is updated; counters tied to its settings (the
	// per-user cap) are keyed by it so a changed setting starts them afresh.
	Version int64
}

// Holds reports whether t is inside the activity's [StartsAt, EndsAt) window.
func (a *Activity) Holds(t time.Time) bool { return !t.Before(a.StartsAt) && t.Before(a.EndsAt) }

// Scene is a reward type with its budget and limits.
type Scene struct {
	ActivityID    string
	SceneID       string
	AwardType     string
	PerTxnLimit   int64
	BudgetTotal   int64
	ReservePPM    int64
	RatePerSecond int
}

// ReserveRatio is the reserve as a fraction, for display.
func (s *Scene) ReserveRatio() float64 { return float64(s.ReservePPM) / 1e6 }

// Reserve is ceil(reserveRatio × budgetTotal) in fen, computed in integers.
func (s *Scene) Reserve() int64 {
	hi, lo := bits.Mul64(uint64(s.BudgetTotal), uint64(s.ReservePPM))
	q, r := bits.Div64(hi, lo, 1_000_000)
	if r > 0 {
		q++
	}
	return int64(q)
}

// Live is the activity a request actually uses: the child whose window holds the request time
// (or the activity itself when it has no children).
type Live struct {
	Activity
	// RequestedID is the id the client passed (maybe the parent's).
	RequestedID string
}

type snapshot struct {
	loaded     time.Time
	activities map[string]*Activity
	children   map[string][]*Activity
	// scenes by activity id, then scene id: only the scenes defined on that activity.
	scenes map[string]map[string]*Scene
}

// Catalog serves the activity tree.
type Catalog struct {
	db      *store.DB
	now     func() time.Time
	maxAge  time.Duration
	mu      sync.Mutex
	snap    *snapshot
	loading sync.Mutex
}

// NewCatalog returns a Catalog over db; now is the clock that picks live children.
func NewCatalog(db *store.DB, now func() time.Time) *Catalog {
	return &Catalog{db: db, now: now, maxAge: time.Second}
}

// Now is the catalog's clock.
func (c *Catalog) Now() time.Time { return c.now() }

func (c *Catalog) current(ctx context.Context) (*snapshot, error) {
	c.mu.Lock()
	s := c.snap
	c.mu.Unlock()
	if s != nil && time.Since(s.loaded) < c.maxAge {
		return s, nil
	}
	// One reload at a time; the others wait for it rather than all hitting the database.
	c.loading.Lock()
	defer c.loading.Unlock()
	c.mu.Lock()
	s = c.snap
	c.mu.Unlock()
	if s != nil && time.Since(s.loaded) < c.maxAge {
		return s, nil
	}
	fresh, err := c.load(ctx)
	if err != nil {
		if s != nil {
			// Keep serving the last known tree while the database is away.
			return s, nil
		}
		return nil, err
	}
	c.mu.Lock()
	c.snap = fresh
	c.mu.Unlock()
	return fresh, nil
}

// Invalidate drops the snapshot so the next read reloads (after an upsert on this instance).
func (c *Catalog) Invalidate() {
	c.mu.Lock()
	c.snap = nil
	c.mu.Unlock()
}

func (c *Catalog) load(ctx context.Context) (*snapshot, error) {
	acts, err := c.db.R.Activity.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load activities: %w", err)
	}
	scenes, err := c.db.R.Scene.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load scenes: %w", err)
	}
	s := &snapshot{
		loaded:     time.Now(),
		activities: make(map[string]*Activity, len(acts)),
		children:   map[string][]*Activity{},
		scenes:     map[string]map[string]*Scene{},
	}
	for _, a := range acts {
		x := fromEnt(a)
		s.activities[x.ID] = x
		if x.ParentID != "" {
			s.children[x.ParentID] = append(s.children[x.ParentID], x)
		}
	}
	for _, sc := range scenes {
		m := s.scenes[sc.ActivityID]
		if m == nil {
			m = map[string]*Scene{}
			s.scenes[sc.ActivityID] = m
		}
		m[sc.SceneID] = sceneFromEnt(sc)
	}
	return s, nil
}

func fromEnt(a *ent.Activity) *Activity {
	x := &Activity{ID: a.ID, Name: a.Name, Phase: string(a.Phase), StartsAt: a.StartsAt, EndsAt: a.EndsAt, BudgetTotal: a.BudgetTotal,
		PerUserCap: a.PerUserCap, Version: a.UpdatedAt.UnixMicro()}
	if a.ParentID != nil {
		x.ParentID = *a.ParentID
	}
	return x
}

func sceneFromEnt(s *ent.Scene) *Scene {
	return &Scene{
		ActivityID: s.ActivityID, SceneID: s.SceneID, AwardType: s.AwardType, PerTxnLimit: s.PerTxnLimit,
		BudgetTotal: s.BudgetTotal, ReservePPM: s.ReservePpm, RatePerSecond: s.RatePerSecond,
	}
}

// ValidateID checks an activity or scene id against the contract's pattern.
func ValidateID(field, id string) error {
	if !IDPattern.MatchString(id) {
		return errs.Input(field, "%s must match [A-Za-z0-9-]{1,64}", field)
	}
	return nil
}

// Resolve returns the activity live at time at for the id a client passed.
func (c *Catalog) Resolve(ctx context.Context, id string, at time.Time) (*Live, error) {
	if err := ValidateID("activityId", id); err != nil {
		return nil, err
	}
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	a, ok := s.activities[id]
	if !ok {
		return nil, errs.E(errs.NotFound, "activity %s not found", id)
	}
	kids := s.children[id]
	if len(kids) == 0 {
		if !a.Holds(at) {
			return nil, errs.E(errs.ActivityClosed, "activity %s is not open at %s", id, at.UTC().Format(time.RFC3339))
		}
		return &Live{Activity: *a, RequestedID: id}, nil
	}
	// When windows overlap, the child that started last wins: it is the newer phase.
	var best *Activity
	for _, k := range kids {
		if k.Holds(at) && (best == nil || k.StartsAt.After(best.StartsAt) || (k.StartsAt.Equal(best.StartsAt) && k.ID > best.ID)) {
			best = k
		}
	}
	if best == nil {
		return nil, errs.E(errs.ActivityClosed, "activity %s has no phase open at %s", id, at.UTC().Format(time.RFC3339))
	}
	return &Live{Activity: *best, RequestedID: id}, nil
}

// Lookup returns an activity by its own id, live or not (for tokens that name a child).
func (c *Catalog) Lookup(ctx context.Context, id string) (*Activity, error) {
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	a, ok := s.activities[id]
	if !ok {
		return nil, errs.E(errs.NotFound, "activity %s not found", id)
	}
	cp := *a
	return &cp, nil
}

// Scene returns the scene sceneID as it applies to activity a: defined on a itself or
// inherited from its parent.
func (c *Catalog) Scene(ctx context.Context, a *Activity, sceneID string) (*Scene, error) {
	if err := ValidateID("sceneId", sceneID); err != nil {
		return nil, err
	}
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	if sc, ok := s.scenes[a.ID][sceneID]; ok {
		return sc, nil
	}
	if a.ParentID != "" {
		if sc, ok := s.scenes[a.ParentID][sceneID]; ok {
			return sc, nil
		}
	}
	return nil, errs.E(errs.NotFound, "scene %s not found in activity %s", sceneID, a.ID)
}

// Scenes lists the scenes that apply to activity a (its own and its parent's), by scene id.
func (c *Catalog) Scenes(ctx context.Context, a *Activity) ([]*Scene, error) {
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Scene
	for _, sc := range s.scenes[a.ID] {
		out = append(out, sc)
	}
	if a.ParentID != "" {
		for _, sc := range s.scenes[a.ParentID] {
			out = append(out, sc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SceneID < out[j].SceneID })
	return out, nil
}

// All lists every activity, parents before their children, by id.
func (c *Catalog) All(ctx context.Context) ([]*Activity, error) {
	acts, err := c.db.R.Activity.Query().Order(ent.Asc(entactivity.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	out := make([]*Activity, len(acts))
	for i, a := range acts {
		out[i] = fromEnt(a)
	}
	return out, nil
}

// ActivityInput is what an admin sets on an activity.
type ActivityInput struct {
	ID, Name, ParentID, Phase string
	StartsAt, EndsAt          time.Time
	BudgetTotal               int64
	PerUserCap                int64
}

// UpsertActivity creates or updates an activity after checking the tree stays two levels deep.
func (c *Catalog) UpsertActivity(ctx context.Context, in ActivityInput) (*Activity, error) {
	if err := ValidateID("id", in.ID); err != nil {
		return nil, err
	}
	if in.Phase == "" {
		in.Phase = PhaseProduction
	}
	switch in.Phase {
	case PhaseInternal, PhaseGray, PhaseProduction:
	default:
		return nil, errs.Input("phase", "phase must be INTERNAL, GRAY or PRODUCTION")
	}
	if !in.StartsAt.Before(in.EndsAt) {
		return nil, errs.Input("endsAt", "endsAt must be after startsAt")
	}
	if in.BudgetTotal < 0 {
		return nil, errs.Input("budgetTotal", "budgetTotal must not be negative")
	}
	if in.PerUserCap < 0 {
		return nil, errs.Input("perUserCap", "perUserCap must not be negative")
	}
	var out *ent.Activity
	err := c.db.WriteTx(ctx, func(tx *ent.Tx) error {
		if in.ParentID != "" {
			if in.ParentID == in.ID {
				return errs.Input("parentId", "an activity cannot be its own parent")
			}
			if err := ValidateID("parentId", in.ParentID); err != nil {
				return err
			}
			parent, err := tx.Activity.Get(ctx, in.ParentID)
			if ent.IsNotFound(err) {
				return errs.Input("parentId", "parent activity %s does not exist", in.ParentID)
			} else if err != nil {
				return err
			}
			if parent.ParentID != nil {
				return errs.Input("parentId", "activity %s is itself a child; the tree is two levels deep", in.ParentID)
			}
			if n, err := tx.Activity.Query().Where(entactivity.ParentID(in.ID)).Count(ctx); err != nil {
				return err
			} else if n > 0 {
				return errs.Input("parentId", "activity %s has children and cannot become a child", in.ID)
			}
		}
		existing, err := tx.Activity.Get(ctx, in.ID)
		var before *Activity
		switch {
		case ent.IsNotFound(err):
			cr := tx.Activity.Create().SetID(in.ID).SetName(in.Name).SetPhase(entactivity.Phase(in.Phase)).
				SetStartsAt(in.StartsAt).SetEndsAt(in.EndsAt).SetBudgetTotal(in.BudgetTotal).SetPerUserCap(in.PerUserCap)
			if in.ParentID != "" {
				cr.SetParentID(in.ParentID)
			}
			if out, err = cr.Save(ctx); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if (existing.ParentID == nil) != (in.ParentID == "") || (existing.ParentID != nil && *existing.ParentID != in.ParentID) {
				return errs.Input("parentId", "an activity's parent cannot change")
			}
			before = fromEnt(existing)
			out, err = existing.Update().SetName(in.Name).SetPhase(entactivity.Phase(in.Phase)).
				SetStartsAt(in.StartsAt).SetEndsAt(in.EndsAt).SetBudgetTotal(in.BudgetTotal).SetPerUserCap(in.PerUserCap).Save(ctx)
			if err != nil {
				return err
			}
		}
		return audit.Write(ctx, tx, "upsertActivity", in.ID, before, fromEnt(out), "", c.now())
	})
	if err != nil {
		return nil, err
	}
	c.Invalidate()
	return fromEnt(out), nil
}

// SceneInput is what an admin sets on a scene. ReservePPM < 0 means the default (10%).
type SceneInput struct {
	ActivityID, SceneID, AwardType string
	PerTxnLimit, BudgetTotal       int64
	ReservePPM                     int64
	RatePerSecond                  int
}

// DefaultReservePPM is the reference design's 10% reserve.
const DefaultReservePPM = 100_000

// UpsertScene creates or updates a scene; a scene id is unique within an activity tree.
func (c *Catalog) UpsertScene(ctx context.Context, in SceneInput) (*Scene, error) {
	if err := ValidateID("activityId", in.ActivityID); err != nil {
		return nil, err
	}
	if err := ValidateID("id", in.SceneID); err != nil {
		return nil, err
	}
	if !AwardTypes[in.AwardType] {
		return nil, errs.Input("awardType", "unknown awardType %q", in.AwardType)
	}
	if in.ReservePPM < 0 {
		in.ReservePPM = DefaultReservePPM
	}
	if in.ReservePPM > 1_000_000 {
		return nil, errs.Input("reserveRatio", "reserveRatio must be between 0 and 1")
	}
	if in.PerTxnLimit < 0 || in.BudgetTotal < 0 || in.RatePerSecond < 0 {
		return nil, errs.Input("input", "limits, budgets and rates must not be negative")
	}
	var out *ent.Scene
	err := c.db.WriteTx(ctx, func(tx *ent.Tx) error {
		a, err := tx.Activity.Get(ctx, in.ActivityID)
		if ent.IsNotFound(err) {
			return errs.E(errs.NotFound, "activity %s not found", in.ActivityID)
		} else if err != nil {
			return err
		}
		// The ids a scene id must not collide with: the parent's scenes (for a child) or the
		// children's scenes (for a parent).
		var others []string
		if a.ParentID != nil {
			others = []string{*a.ParentID}
		} else {
			others, err = tx.Activity.Query().Where(entactivity.ParentID(a.ID)).IDs(ctx)
			if err != nil {
				return err
			}
		}
		if len(others) > 0 {
			clash, err := tx.Scene.Query().Where(entscene.ActivityIDIn(others...), entscene.SceneID(in.SceneID)).Exist(ctx)
			if err != nil {
				return err
			}
			if clash {
				return errs.Input("id", "scene %s is already defined elsewhere in activity %s's tree", in.SceneID, in.ActivityID)
			}
		}
		existing, err := tx.Scene.Query().Where(entscene.ActivityID(in.ActivityID), entscene.SceneID(in.SceneID)).Only(ctx)
		var before *Scene
		switch {
		case ent.IsNotFound(err):
			out, err = tx.Scene.Create().SetActivityID(in.ActivityID).SetSceneID(in.SceneID).SetAwardType(in.AwardType).
				SetPerTxnLimit(in.PerTxnLimit).SetBudgetTotal(in.BudgetTotal).SetReservePpm(in.ReservePPM).
				SetRatePerSecond(in.RatePerSecond).Save(ctx)
		case err != nil:
			return err
		default:
			before = sceneFromEnt(existing)
			out, err = existing.Update().SetAwardType(in.AwardType).SetPerTxnLimit(in.PerTxnLimit).SetBudgetTotal(in.BudgetTotal).
				SetReservePpm(in.ReservePPM).SetRatePerSecond(in.RatePerSecond).Save(ctx)
		}
		if err != nil {
			return err
		}
		return audit.Write(ctx, tx, "upsertScene", in.ActivityID+"/"+in.SceneID, before, sceneFromEnt(out), "", c.now())
	})
	if err != nil {
		return nil, err
	}
	c.Invalidate()
	return sceneFromEnt(out), nil
}

// OwnScenes lists the scenes defined on the activity itself, by scene id.
func (c *Catalog) OwnScenes(ctx context.Context, activityID string) ([]*Scene, error) {
	scenes, err := c.db.R.Scene.Query().Where(entscene.ActivityID(activityID)).Order(ent.Asc(entscene.FieldSceneID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list scenes: %w", err)
	}
	out := make([]*Scene, len(scenes))
	for i, s := range scenes {
		out[i] = sceneFromEnt(s)
	}
	return out, nil
}

// Target returns the activity whose own data an operator means by id: the live child for a
// parent, the activity itself otherwise (whether or not its window is open).
func (c *Catalog) Target(ctx context.Context, id string, at time.Time) (*Activity, error) {
	if err := ValidateID("activityId", id); err != nil {
		return nil, err
	}
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	if len(s.children[id]) > 0 {
		live, err := c.Resolve(ctx, id, at)
		if err != nil {
			return nil, err
		}
		return &live.Activity, nil
	}
	return c.Lookup(ctx, id)
}

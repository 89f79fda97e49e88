package admin

import (
	"context"

	"github.com/springwallet/wallet/admin/model"
	"github.com/springwallet/wallet/services/announce"
	"github.com/springwallet/wallet/services/audit"
	"github.com/springwallet/wallet/services/switches"
)

func switchModel(st switches.State) *model.Switch {
	m := &model.Switch{Name: string(st.Name), Enabled: st.Enabled, Description: st.Description, Category: st.Category,
		Default: st.Default, UpdatedBy: st.UpdatedBy, Reason: st.Reason}
	if !st.UpdatedAt.IsZero() {
		at := st.UpdatedAt
		m.UpdatedAt = &at
	}
	return m
}

func (r *Resolver) listSwitches() []*model.Switch {
	states := r.switches.List()
	out := make([]*model.Switch, len(states))
	for i, st := range states {
		out[i] = switchModel(st)
	}
	return out
}

func (r *Resolver) auditLog(ctx context.Context, first int, after, action, target, actor *string) (*model.AuditConnection, error) {
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	page, err := audit.List(ctx, r.db.R, first, deref(after), audit.Filter{Action: deref(action), Target: deref(target), Actor: deref(actor)})
	if err != nil {
		return nil, err
	}
	out := &model.AuditConnection{Edges: make([]*model.AuditEdge, len(page.Entries)), PageInfo: &model.PageInfo{HasNextPage: page.HasNext}}
	for i, e := range page.Entries {
		out.Edges[i] = &model.AuditEdge{Cursor: page.Cursors[i], Node: &model.AuditEntry{
			ID: itoa(e.ID), Actor: e.Actor, Action: e.Action, Target: e.Target, Before: e.Before, After: e.After,
			Reason: e.Reason, RequestID: e.RequestID, At: e.At,
		}}
	}
	if n := len(page.Cursors); n > 0 {
		out.PageInfo.EndCursor = &page.Cursors[n-1]
	}
	return out, nil
}

func announceInput(in model.AnnouncementInput) announce.Input {
	out := announce.Input{ActivityID: in.ActivityID, AppIDs: in.AppIds, Title: in.Title, Body: in.Body, StartsAt: in.StartsAt, EndsAt: in.EndsAt}
	if in.Priority != nil {
		out.Priority = *in.Priority
	}
	return out
}

func announcementModel(a announce.Announcement) *model.Announcement {
	return &model.Announcement{ID: a.ID, ActivityID: a.ActivityID, AppIds: a.AppIDs, Title: a.Title, Body: a.Body,
		StartsAt: a.StartsAt, EndsAt: a.EndsAt, Priority: a.Priority}
}

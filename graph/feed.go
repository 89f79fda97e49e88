package graph

import (
	"context"

	"github.com/springwallet/wallet/graph/model"
)

func (r *Resolver) walletFeed(ctx context.Context, activityID string, first int, after *string) (*model.FeedConnection, error) {
	p, live, err := r.callerIn(ctx, activityID)
	if err != nil {
		return nil, err
	}
	cursor := ""
	if after != nil {
		cursor = *after
	}
	page, err := r.feed.Page(ctx, live, p.ActID, first, cursor)
	if err != nil {
		return nil, err
	}
	out := &model.FeedConnection{
		Edges:           make([]*model.FeedEdge, len(page.Items)),
		PageInfo:        &model.PageInfo{HasNextPage: page.HasNext},
		DegradedSources: make([]model.FeedSource, len(page.Degraded)),
	}
	for i, it := range page.Items {
		out.Edges[i] = &model.FeedEdge{Cursor: page.Cursors[i], Node: &model.FeedItem{
			ID: it.ID, Kind: model.FeedKind(it.Kind), Status: model.FeedStatus(it.Status), Amount: it.Amount, OccurredAt: it.OccurredAt,
		}}
	}
	if n := len(page.Cursors); n > 0 {
		out.PageInfo.EndCursor = &page.Cursors[n-1]
	}
	for i, d := range page.Degraded {
		out.DegradedSources[i] = model.FeedSource(d)
	}
	return out, nil
}

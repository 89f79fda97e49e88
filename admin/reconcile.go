package admin

import (
	"github.com/springwallet/wallet/admin/model"
	"github.com/springwallet/wallet/services/reconcile"
)

func reportModel(r *reconcile.Report) *model.ReconciliationReport {
	out := &model.ReconciliationReport{ID: r.ID, ActivityID: r.ActivityID, Ok: r.OK, DiscrepancyCount: r.DiscrepancyCount,
		Discrepancies: make([]*model.Discrepancy, len(r.Discrepancies)), Actor: r.Actor, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	for i, d := range r.Discrepancies {
		m := &model.Discrepancy{Kind: d.Kind, Detail: d.Detail}
		if d.OrderNo != "" {
			no := d.OrderNo
			m.OrderNo = &no
		}
		if d.Ref != "" {
			ref := d.Ref
			m.Ref = &ref
		}
		out.Discrepancies[i] = m
	}
	return out
}

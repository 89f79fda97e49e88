package admin

import (
	"github.com/springwallet/wallet/admin/model"
	"github.com/springwallet/wallet/services/wallet"
)

// reissueInput turns the batch into the wallet's terms; the wallet validates it.
func reissueInput(in model.ReissueInput) wallet.ReissueInput {
	out := wallet.ReissueInput{Reason: in.Reason, Orders: make([]wallet.IssueInput, len(in.Orders))}
	for i, o := range in.Orders {
		out.Orders[i] = wallet.IssueInput{
			ActID: o.ActID, AppID: o.AppID, ActivityID: o.ActivityID, SceneID: o.SceneID,
			RainID: o.RainID, AwardType: string(o.AwardType), Stage: o.Stage, Amount: o.Amount,
		}
	}
	return out
}

func reissuePayload(r *wallet.ReissueResult) *model.ReissuePayload {
	out := &model.ReissuePayload{Accepted: r.Accepted, Replayed: r.Replayed,
		Failed: make([]*model.ReissueFailure, 0, len(r.Failed)), Results: make([]*model.ReissueOrderResult, len(r.Results))}
	for i, o := range r.Results {
		res := &model.ReissueOrderResult{OrderNo: o.OrderNo, Outcome: model.ReissueOutcome(o.Outcome)}
		if o.Outcome == wallet.ReissueFailed {
			code := string(o.Code)
			res.Code = &code
			out.Failed = append(out.Failed, &model.ReissueFailure{OrderNo: o.OrderNo, Code: code, Message: o.Message})
		} else {
			st := model.RewardStatus(o.Status)
			res.Status = &st
		}
		out.Results[i] = res
	}
	return out
}

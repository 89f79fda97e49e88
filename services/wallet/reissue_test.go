package wallet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/springwallet/wallet/ent/auditentry"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/switches"
)

func operatorCtx() context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{ActID: 77, AppID: 1, Roles: []string{auth.RoleOperator}}, nil)
}

func (f *fixture) reissue(t *testing.T, reason string, orders ...IssueInput) *ReissueResult {
	t.Helper()
	res, err := f.s.Reissue(operatorCtx(), ReissueInput{Orders: orders, Reason: reason})
	if err != nil {
		t.Fatalf("reissue: %v", err)
	}
	return res
}

// outcomes renders a result's per-order outcomes as "orderNo OUTCOME[ CODE]" lines.
func outcomes(r *ReissueResult) []string {
	out := make([]string, len(r.Results))
	for i, o := range r.Results {
		out[i] = o.OrderNo + " " + o.Outcome
		if o.Code != "" {
			out[i] += " " + string(o.Code)
		}
	}
	return out
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got\n  %q\nwant\n  %q", got, want)
	}
}

func (f *fixture) reissueAudits(t *testing.T) []reissueSummaryWithReason {
	t.Helper()
	rows, err := f.db.R.AuditEntry.Query().Where(auditentry.Action("reissueRewards")).Order(auditentry.ByID()).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]reissueSummaryWithReason, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal([]byte(r.After), &out[i].reissueSummary); err != nil {
			t.Fatalf("audit after %q: %v", r.After, err)
		}
		out[i].Reason, out[i].Target, out[i].Actor, out[i].Before = r.Reason, r.Target, r.Actor, r.Before
	}
	return out
}

type reissueSummaryWithReason struct {
	reissueSummary
	Reason, Target, Actor, Before string
}

func TestReissueBatchOutcomesAndReplay(t *testing.T) {
	f := setup(t)
	f.issue(t, cash(1, 1, 100)) // issued before the batch: a replay
	f.issue(t, cash(2, 1, 100)) // issued before with another amount: a conflict
	unknownScene := cash(3, 1, 100)
	unknownScene.SceneID = "nope"
	zero := cash(4, 1, 0)
	coupon := IssueInput{ActID: 5, AppID: 2, ActivityID: parentID, SceneID: "gala", RainID: 1, AwardType: AwardCoupon, Amount: 300}
	batch := []IssueInput{cash(1, 1, 100), cash(2, 1, 999), cash(6, 1, 250), unknownScene, zero, coupon}

	res := f.reissue(t, "backend outage 2027-01-28", batch...)
	if res.Accepted != 2 || res.Replayed != 1 || len(res.Failed) != 3 {
		t.Fatalf("accepted %d replayed %d failed %v, want 2, 1, 3 failures", res.Accepted, res.Replayed, res.Failed)
	}
	sameLines(t, outcomes(res), []string{
		"1_rain_1_CASH_0 REPLAYED",
		"2_rain_1_CASH_0 FAILED IDEMPOTENCY_CONFLICT",
		"6_rain_1_CASH_0 ACCEPTED",
		"3_nope_1_CASH_0 FAILED NOT_FOUND",
		"4_rain_1_CASH_0 FAILED BAD_USER_INPUT",
		"5_gala_1_COUPON_0 ACCEPTED",
	})
	wantFailed := []ReissueFailure{{"2_rain_1_CASH_0", errs.IdempotencyConflict}, {"3_nope_1_CASH_0", errs.NotFound}, {"4_rain_1_CASH_0", errs.BadUserInput}}
	if fmt.Sprint(res.Failed) != fmt.Sprint(wantFailed) {
		t.Fatalf("failed = %v, want %v", res.Failed, wantFailed)
	}
	for _, r := range res.Results {
		if r.Outcome != ReissueFailed && r.Status != StatusPending {
			t.Errorf("%s status %q, want PENDING", r.OrderNo, r.Status)
		}
		if r.Outcome == ReissueFailed && r.Message == "" {
			t.Errorf("%s failed without a message", r.OrderNo)
		}
	}
	if b := f.wallet(t, 6); b.Pending != 250 {
		t.Fatalf("re-issued reward not pending: %+v", b)
	}

	// The same batch again issues nothing: everything that went through is a replay.
	again := f.reissue(t, "retry of the same batch", batch...)
	if again.Accepted != 0 || again.Replayed != 3 || len(again.Failed) != 3 {
		t.Fatalf("second batch: accepted %d replayed %d failed %v, want 0, 3, 3 failures", again.Accepted, again.Replayed, again.Failed)
	}
	if b := f.wallet(t, 6); b.Pending != 250 || b.Balance != 250 {
		t.Fatalf("a replayed re-issue changed the wallet: %+v", b)
	}

	audits := f.reissueAudits(t)
	if len(audits) != 2 {
		t.Fatalf("%d reissueRewards audit entries, want one per batch (2)", len(audits))
	}
	first := audits[0]
	if first.Reason != "backend outage 2027-01-28" || first.Target != "batch:6" || first.Actor != "77" || first.Before != "" ||
		first.Orders != 6 || first.Accepted != 2 || first.Replayed != 1 || fmt.Sprint(first.Failed) != fmt.Sprint(wantFailed) {
		t.Fatalf("first audit entry = %+v", first)
	}
	if audits[1].Reason != "retry of the same batch" || audits[1].Accepted != 0 || audits[1].Replayed != 3 {
		t.Fatalf("second audit entry = %+v", audits[1])
	}
}

func TestReissueRefusesTheWholeBatch(t *testing.T) {
	f := setup(t)
	big := make([]IssueInput, MaxReissueBatch+1)
	for i := range big {
		big[i] = cash(int64(i+1), 1, 10)
	}
	for name, in := range map[string]ReissueInput{
		"no reason":    {Orders: []IssueInput{cash(1, 1, 10)}, Reason: "  "},
		"long reason":  {Orders: []IssueInput{cash(1, 1, 10)}, Reason: strings.Repeat("x", 501)},
		"no orders":    {Reason: "x"},
		"too many":     {Orders: big, Reason: "x"},
		"nil orders":   {Orders: nil, Reason: "x"},
		"empty reason": {Orders: big[:1], Reason: ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.s.Reissue(operatorCtx(), in)
			wantCode(t, err, errs.BadUserInput)
		})
	}
	if n := len(f.reissueAudits(t)); n != 0 {
		t.Fatalf("%d audit entries for refused batches, want 0", n)
	}
	if b := f.wallet(t, 1); b.Balance != 0 {
		t.Fatalf("a refused batch issued something: %+v", b)
	}
	// The largest batch goes through.
	if res := f.reissue(t, "max", big[:MaxReissueBatch]...); res.Accepted != MaxReissueBatch {
		t.Fatalf("accepted %d of %d", res.Accepted, MaxReissueBatch)
	}
}

// A settled order whose Redis record is gone (expired, or Redis lost its data) is still a
// replay: the database answers, so the reward is never paid twice.
func TestReissueOfASettledOrderRedisForgotIsAReplay(t *testing.T) {
	f := setup(t)
	f.issue(t, cash(11, 1, 500))
	if _, err := f.s.ForceSettle(context.Background(), f.live(t), 11); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	res := f.reissue(t, "lost delivery", cash(11, 1, 500), cash(11, 1, 501)) // same order, then other content
	sameLines(t, outcomes(res), []string{"11_rain_1_CASH_0 REPLAYED", "11_rain_1_CASH_0 FAILED IDEMPOTENCY_CONFLICT"})
	if res.Results[0].Status != StatusSettled {
		t.Fatalf("status %q, want SETTLED", res.Results[0].Status)
	}
	b := f.wallet(t, 11)
	if b.Settled != 500 || b.Pending != 0 || b.Balance != 500 {
		t.Fatalf("wallet after re-issuing a settled order = %+v, want 500 settled and nothing pending", b)
	}
	f.checkLedger(t)
}

// Re-issue obeys what issueReward obeys: budgets, per-transaction limits and switches.
func TestReissueAppliesBudgetsLimitsAndSwitches(t *testing.T) {
	f := setup(t)
	f.tightScene(t, "tiny", 1000) // 900 issuable
	over := cash(21, 1, 10_001)   // rain's per-transaction limit is 10,000
	res := f.reissue(t, "limits", tight(21, "tiny", 1, 900), tight(22, "tiny", 1, 1), over)
	sameLines(t, outcomes(res), []string{
		"21_tiny_1_CASH_0 ACCEPTED",
		"22_tiny_1_CASH_0 FAILED BUDGET_EXHAUSTED",
		"21_rain_1_CASH_0 FAILED LIMIT_EXCEEDED",
	})
	f.w.Switches.Only(switches.IssuanceCash)
	res = f.reissue(t, "switched off", cash(23, 1, 10), tight(21, "tiny", 1, 900))
	sameLines(t, outcomes(res), []string{"23_rain_1_CASH_0 FAILED DEGRADED", "21_tiny_1_CASH_0 FAILED DEGRADED"})
	if b := f.wallet(t, 23); b.Balance != 0 {
		t.Fatalf("issued while switched off: %+v", b)
	}
}

// Package admin resolves the admin schema served at /admin/query: activity, scene and (as they
// land) switch, announcement and budget management for operators.
package admin

import (
	"context"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/springwallet/wallet/admin/generated"
	"github.com/springwallet/wallet/admin/model"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/announce"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/reconcile"
	"github.com/springwallet/wallet/services/seal"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/wallet"
	"github.com/springwallet/wallet/services/withdraw"
)

// Resolver holds the services the admin schema uses.
type Resolver struct {
	catalog     *activity.Catalog
	switches    *switches.Board
	db          *store.DB
	wallet      *wallet.Service
	withdrawals *withdraw.Service
	seals       *seal.Service
	announce    *announce.Service
	reconcile   *reconcile.Service
	breakers    *breaker.Registry
}

// Deps are the services the admin schema needs.
type Deps struct {
	Catalog  *activity.Catalog
	Switches *switches.Board
	DB       *store.DB
	Wallet   *wallet.Service
	// Withdrawals answers payoutsInDoubt.
	Withdrawals *withdraw.Service
	// Seals signs ledger heads (ledgerHead).
	Seals    *seal.Service
	Announce *announce.Service
	// Reconcile runs reconciliations and lists their reports.
	Reconcile *reconcile.Service
	// Breakers are this instance's circuit breakers.
	Breakers *breaker.Registry
}

// NewSchema returns the executable admin schema.
func NewSchema(d Deps) graphql.ExecutableSchema {
	var cost generated.ComplexityRoot
	// A connection costs its page size times its selection (first clamped to 1..100 so an
	// out-of-range first reaches the resolver as BAD_USER_INPUT).
	cost.Query.AuditLog = func(child, first int, _, _, _, _ *string) int { return min(max(first, 1), 100) * child }
	cost.Query.ReconciliationReports = func(child int, _ string, first int) int { return min(max(first, 1), 100) * child }
	return generated.NewExecutableSchema(generated.Config{
		Resolvers: &Resolver{catalog: d.Catalog, switches: d.Switches, db: d.DB, wallet: d.Wallet, withdrawals: d.Withdrawals, seals: d.Seals, announce: d.Announce,
			reconcile: d.Reconcile, breakers: d.Breakers},
		Directives: generated.DirectiveRoot{HasRole: hasRole},
		Complexity: cost,
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// hasRole enforces @hasRole: roles nest, so an admin passes an OPERATOR check.
func hasRole(ctx context.Context, _ any, next graphql.Resolver, role model.AdminRole) (any, error) {
	need := map[model.AdminRole]string{
		model.AdminRoleViewer: auth.RoleViewer, model.AdminRoleOperator: auth.RoleOperator, model.AdminRoleAdmin: auth.RoleAdmin,
	}[role]
	if _, err := auth.Require(ctx, need); err != nil {
		return nil, err
	}
	return next(ctx)
}

func activityModel(a *activity.Activity) *model.Activity {
	m := &model.Activity{
		ID: a.ID, Name: a.Name, Phase: model.Phase(a.Phase), StartsAt: a.StartsAt, EndsAt: a.EndsAt, BudgetTotal: a.BudgetTotal,
		PerUserCap: a.PerUserCap,
	}
	if a.ParentID != "" {
		p := a.ParentID
		m.ParentID = &p
	}
	return m
}

func sceneModel(s *activity.Scene) *model.Scene {
	return &model.Scene{
		ID: s.SceneID, ActivityID: s.ActivityID, AwardType: model.AwardType(s.AwardType), PerTxnLimit: s.PerTxnLimit,
		BudgetTotal: s.BudgetTotal, ReserveRatio: s.ReserveRatio(), RatePerSecond: s.RatePerSecond,
	}
}

// ratioPPM turns a reserve ratio into parts per million (rounded; -1 when unset, meaning the
// default).
func ratioPPM(r *float64) int64 {
	if r == nil {
		return -1
	}
	if *r < 0 || *r > 1 || math.IsNaN(*r) {
		return math.MaxInt64 // refused by the service as out of range
	}
	return int64(math.Round(*r * 1e6))
}

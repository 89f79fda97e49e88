// Package graph resolves the wallet schema: thin resolvers that check the caller, call the
// services and shape their answers.
package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/springwallet/wallet/graph/generated"
	"github.com/springwallet/wallet/graph/model"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/announce"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/feed"
	"github.com/springwallet/wallet/services/redpacket"
	"github.com/springwallet/wallet/services/wallet"
	"github.com/springwallet/wallet/services/withdraw"
)

// Resolver holds the services the wallet schema uses.
type Resolver struct {
	wallet      *wallet.Service
	withdrawals *withdraw.Service
	redpackets  *redpacket.Service
	feed        *feed.Service
	catalog     *activity.Catalog
	announce    *announce.Service
	now         func() time.Time
}

// Deps are the services the wallet schema resolves with; every field is required.
type Deps struct {
	Wallet        *wallet.Service
	Withdrawals   *withdraw.Service
	RedPackets    *redpacket.Service
	Feed          *feed.Service
	Catalog       *activity.Catalog
	Announcements *announce.Service
	Now           func() time.Time
}

// NewSchema returns the executable wallet schema.
func NewSchema(d Deps) graphql.ExecutableSchema {
	r := &Resolver{wallet: d.Wallet, withdrawals: d.Withdrawals, redpackets: d.RedPackets, feed: d.Feed, catalog: d.Catalog,
		announce: d.Announcements, now: d.Now}
	var cost generated.ComplexityRoot
	// A connection costs its page size times its selection. first is clamped to its valid
	// range here so that an out-of-range first reaches the resolver as BAD_USER_INPUT.
	cost.Query.WalletFeed = func(child int, _ string, first int, _ *string) int { return pageCost(first, child) }
	return generated.NewExecutableSchema(generated.Config{
		Resolvers:  r,
		Directives: generated.DirectiveRoot{HasRole: hasRole},
		Complexity: cost,
	})
}

// pageCost is the cost of a connection field returning up to first items of cost child.
func pageCost(first, child int) int { return min(max(first, 1), 100) * child }

// hasRole enforces @hasRole: the caller must hold one of the roles.
func hasRole(ctx context.Context, _ any, next graphql.Resolver, roles []model.Role) (any, error) {
	names := make([]string, len(roles))
	for i, r := range roles {
		switch r {
		case model.RoleUser:
			names[i] = auth.RoleUser
		case model.RoleIssuer:
			names[i] = auth.RoleIssuer
		}
	}
	if _, err := auth.Require(ctx, names...); err != nil {
		return nil, err
	}
	return next(ctx)
}

// caller is the authenticated account; @hasRole has already checked it exists.
func caller(ctx context.Context) (*auth.Principal, error) { return auth.FromContext(ctx) }

// callerIn is the caller and the activity live now for the id they passed (a parent's id
// means its live phase).
func (r *Resolver) callerIn(ctx context.Context, activityID string) (*auth.Principal, *activity.Live, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	live, err := r.catalog.Resolve(ctx, activityID, r.now())
	if err != nil {
		return nil, nil, err
	}
	return p, live, nil
}

// liveWallet resolves the activity and reads the caller's wallet in it.
func (r *Resolver) liveWallet(ctx context.Context, live *activity.Live, actID int64) (*model.Wallet, error) {
	b, err := r.wallet.Wallet(ctx, live, actID)
	if err != nil {
		return nil, err
	}
	return walletModel(live, b), nil
}

func walletModel(live *activity.Live, b wallet.Balance) *model.Wallet {
	return &model.Wallet{
		Activity: &model.Activity{ID: live.ID, Phase: model.Phase(live.Phase)},
		Balance:  b.Balance, Settled: b.Settled, Pending: b.Pending, CumulativeIncome: b.CumulativeIncome,
	}
}

package ratelimit

import (
	"context"
	"strconv"

	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/errs"
)

// Policy is which limits apply to what.
type Policy struct {
	// Off turns request limits off (WALLET_RATE_LIMIT=off, for load tests). Budgets and
	// money limits are not rate limits and stay.
	Off bool
	// Query and Mutation limit one account's queries and mutations.
	Query, Mutation Limit
	// App limits all requests of one app's users together.
	App     Limit
	limiter *Limiter
}

// DefaultPolicy is 20 queries and 5 mutations a second per account (bursts of 40 and 10), and
// 5,000 requests a second per app.
func DefaultPolicy(l *Limiter) *Policy {
	return &Policy{Query: PerSecond(20, 40), Mutation: PerSecond(5, 10), App: PerSecond(5000, 10_000), limiter: l}
}

// ForOperation decides on one GraphQL operation of the caller in ctx (op is "query" or
// "mutation"); nil when no limit applies (no account, or limits off).
func (p *Policy) ForOperation(ctx context.Context, op string) *Decision {
	if p == nil || p.Off {
		return nil
	}
	c, err := auth.FromContext(ctx)
	if err != nil {
		return nil // unauthenticated requests only reach fields that refuse them
	}
	if !c.Has(auth.RoleUser) {
		// Activity backends (issuers) are limited per scene, by each scene's ratePerSecond,
		// and operators are few; the per-account limits are for the apps' users.
		return nil
	}
	lim, class, money := p.Query, "q", false
	if op == "mutation" {
		lim, class, money = p.Mutation, "m", true
	}
	d := p.limiter.Allow(ctx, "acct:"+strconv.FormatInt(c.ActID, 10)+":"+class, lim, money)
	if !d.Allowed || c.AppID < 1 {
		return &d
	}
	app := p.limiter.Allow(ctx, "app:"+strconv.Itoa(c.AppID), p.App, money)
	if !app.Allowed {
		return &app
	}
	return &d
}

// AllowScene counts one issuance against a scene's ratePerSecond (0: unlimited). Issuance
// moves money, so it fails closed when Redis cannot answer.
func (p *Policy) AllowScene(ctx context.Context, activityID, sceneID string, perSecond int) error {
	if p == nil || p.Off || perSecond <= 0 {
		return nil
	}
	d := p.limiter.Allow(ctx, "scene:"+activityID+":"+sceneID, PerSecond(perSecond, perSecond), true)
	if d.Allowed {
		return nil
	}
	return &errs.Error{Code: errs.RateLimited, Message: "scene " + sceneID + " is issuing at its limit of " + strconv.Itoa(perSecond) + " a second", RetryAfter: d.RetryAfter}
}

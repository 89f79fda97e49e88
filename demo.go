package main

import (
	"context"
	"time"

	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/store"
)

// Demo data: what `go run .` starts with on an empty database, so the playground has
// something to issue into.
const (
	demoParent = "spring-festival"
	demoChild  = "spring-festival-prod"
)

// seedDemo creates a parent activity with a live PRODUCTION child, a CASH and a COUPON scene,
// unless the database already holds any activity.
func seedDemo(ctx context.Context, db *store.DB, c *activity.Catalog, now time.Time) error {
	n, err := db.R.Activity.Query().Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	start := now.Add(-24 * time.Hour).Truncate(time.Hour)
	end := now.AddDate(1, 0, 0).Truncate(time.Hour)
	if _, err := c.UpsertActivity(ctx, activity.ActivityInput{ID: demoParent, Name: "Spring Festival (demo)", Phase: activity.PhaseProduction, StartsAt: start, EndsAt: end}); err != nil {
		return err
	}
	if _, err := c.UpsertActivity(ctx, activity.ActivityInput{ID: demoChild, Name: "Spring Festival: production", ParentID: demoParent, Phase: activity.PhaseProduction, StartsAt: start, EndsAt: end}); err != nil {
		return err
	}
	if _, err := c.UpsertScene(ctx, activity.SceneInput{ActivityID: demoParent, SceneID: "cash-rain", AwardType: "CASH", PerTxnLimit: 20_000, BudgetTotal: 100_000_000, ReservePPM: activity.DefaultReservePPM}); err != nil {
		return err
	}
	_, err = c.UpsertScene(ctx, activity.SceneInput{ActivityID: demoParent, SceneID: "coupon-gala", AwardType: "COUPON", PerTxnLimit: 5_000, BudgetTotal: 10_000_000, ReservePPM: activity.DefaultReservePPM})
	return err
}

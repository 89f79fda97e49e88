package sdk_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/sdk"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/store"
)

// deployment is a real Redis database and SQLite file with one live activity, standing in
// for the deployment an activity backend would point the SDK at.
var deployment sdk.Config

func TestMain(m *testing.M) {
	redisURL, release, err := testenv.HoldRedis(testenv.DBFeatures)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "sdk-example")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	deployment = sdk.Config{DatabaseURL: "sqlite://" + filepath.Join(dir, "wallet.db"), RedisURL: redisURL,
		TokenKey: base64.StdEncoding.EncodeToString(make([]byte, 32))}
	code := 1
	if err := seed(deployment.DatabaseURL); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	release()
	os.RemoveAll(dir)
	os.Exit(code)
}

// seed creates the activity "spring-festival" (live now) with a cash scene, as an operator
// would through the admin API.
func seed(databaseURL string) error {
	ctx := context.Background()
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	cat := activity.NewCatalog(db, time.Now)
	now := time.Now()
	if _, err := cat.UpsertActivity(ctx, activity.ActivityInput{ID: "spring-festival", Name: "Spring Festival", Phase: "PRODUCTION",
		StartsAt: now.Add(-time.Hour), EndsAt: now.Add(24 * time.Hour)}); err != nil {
		return err
	}
	_, err = cat.UpsertScene(ctx, activity.SceneInput{ActivityID: "spring-festival", SceneID: "cash-rain", AwardType: "CASH",
		BudgetTotal: 1_000_000, ReservePPM: -1})
	return err
}

// Example shows an activity backend's day: issue a reward, read the wallet (pending until
// settled), ask whether the account was rewarded, settle it now.
func Example() {
	ctx := context.Background()
	c, err := sdk.Open(ctx, deployment) // in production: the deployment's DATABASE_URL and REDIS_URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	_, err = c.Issue(ctx, sdk.IssueInput{ActID: 1001, AppID: 1, ActivityID: "spring-festival", SceneID: "cash-rain",
		RainID: 1, AwardType: "CASH", Amount: 88})
	fmt.Println("issued:", err == nil)

	w, _ := c.Wallet(ctx, 1001, "spring-festival")
	fmt.Printf("balance %d = settled %d + pending %d\n", w.Balance, w.Settled, w.Pending)

	has, _ := c.HasReward(ctx, 1001, "spring-festival", "cash-rain")
	fmt.Println("has a cash-rain reward:", has)

	r, _ := c.ForceSettle(ctx, 1001, "spring-festival")
	fmt.Printf("settled %d reward(s), %d fen\n", r.Count, r.Amount)

	w, _ = c.Wallet(ctx, 1001, "spring-festival")
	fmt.Printf("balance %d = settled %d + pending %d\n", w.Balance, w.Settled, w.Pending)

	_, err = c.Wallet(ctx, 0, "spring-festival")
	fmt.Println("bad account:", sdk.Code(err))
	// Output:
	// issued: true
	// balance 88 = settled 0 + pending 88
	// has a cash-rain reward: true
	// settled 1 reward(s), 88 fen
	// balance 88 = settled 88 + pending 0
	// bad account: BAD_USER_INPUT
}

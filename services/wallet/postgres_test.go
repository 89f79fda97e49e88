package wallet

import "testing"

// TestOnPostgres runs the reward core's concurrency and crash scenarios again on PostgreSQL
// (services/withdraw and services/feed rerun theirs), where writers really run in parallel
// (SQLite has one writer): row locks, conditional updates, unique races and snapshot reads
// are what keep the money right there.
func TestOnPostgres(t *testing.T) {
	onPostgres = true
	defer func() { onPostgres = false }()
	for name, test := range map[string]func(*testing.T){
		"IssueReplayAndConflict":            TestIssueReplayAndConflict,
		"ConcurrentDuplicatesIssueOnce":     TestConcurrentDuplicatesIssueOnce,
		"BalanceConsistentUnderConcurrency": TestBalanceConsistentUnderConcurrentIssuanceAndSettlement,
		"CrashBetweenCommitAndCleanup":      TestCrashBetweenCommitAndCleanup,
		"RedeemRestoresALostTokenOnce":      TestRedeemRestoresALostTokenOnce,
		"LedgerIsAppendOnly":                TestLedgerIsAppendOnly,
		"BudgetRaceAcrossTwoInstances":      TestBudgetRaceAcrossTwoInstances,
		"BudgetSurvivesRedisLoss":           TestBudgetSurvivesRedisLoss,
		"SettledOrderReplayedAfterLoss":     TestSettledOrderIsReplayedAfterRedisLoss,
		"RetryOnAnotherInstanceAfterLoss":   TestRetryOnAnotherInstanceAfterRedisLoss,
		"BudgetNotIssuedTwiceAfterLoss":     TestBudgetIsNotIssuedTwiceAfterRedisLoss,
		"BudgetHoldsWhenFlushedMidBurst":    TestBudgetHoldsWhenRedisIsFlushedMidBurst,
		"WalletNeverDropsOnLoss":            TestWalletNeverDropsWhenRedisLosesData,
		"JournalWritesOnceAndMarksSettled":  TestJournalWritesOnceAndMarksSettled,
	} {
		t.Run(name, test)
	}
}

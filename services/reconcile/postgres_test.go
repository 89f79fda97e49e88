package reconcile

import "testing"

// TestOnPostgres runs the reconciliations again on PostgreSQL, the database for scale: the
// checks are hand-written aggregate SQL, which must mean the same on both databases.
func TestOnPostgres(t *testing.T) {
	onPostgres = true
	defer func() { onPostgres = false }()
	for name, test := range map[string]func(*testing.T){
		"CleanActivityReconciles":    TestCleanActivityReconciles,
		"EachCorruptionIsFound":      TestEachCorruptionIsFound,
		"StalePendingWaitsForGrace":  TestStalePendingWaitsForTheGrace,
		"ReportListsAtMostMaxListed": TestReportListsAtMostMaxListed,
		"LargerActivityReconciles":   TestLargerActivityReconciles,
		"OverspentBudgetIsReported":  TestOverspentBudgetIsReported,
	} {
		t.Run(name, test)
	}
}

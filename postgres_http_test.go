package main

import "testing"

// TestServerOnPostgres runs the main client flows over HTTP with DATABASE_URL pointing at
// PostgreSQL, the database for scale.
func TestServerOnPostgres(t *testing.T) {
	serverOnPostgres = true
	defer func() { serverOnPostgres = false }()
	for name, test := range map[string]func(*testing.T){
		"IssueSeeAndSettle":   TestIssueSeeAndSettleOverHTTP,
		"Withdraw":            TestWithdrawOverHTTP,
		"Feed":                TestFeedOverHTTP,
		"AdminConfigures":     TestAdminConfiguresIssuance,
		"SwitchesAndAudit":    TestSwitchesOverHTTPAreAuditedAndTakeEffect,
		"Budgets":             TestBudgetsOverHTTP,
		"ActivityStats":       TestActivityStatsCatchUp,
		"Announcements":       TestAnnouncementsTargetingWindowsAndSwitch,
		"InternalErrorHidden": TestInternalErrorsHideDetails,
		"RedPackets":          TestRedPacketSendAndGrabOverHTTP,
	} {
		t.Run(name, test)
	}
}

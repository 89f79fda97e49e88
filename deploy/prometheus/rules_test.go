// Package prometheus holds the alerting rules (alerts.yml) and their unit tests
// (alerts_test.yml); this test runs them with promtool, the way Prometheus itself reads them.
package prometheus

import (
	"os/exec"
	"testing"
)

// TestAlertRules checks the rules' syntax and runs their unit tests with the real promtool
// (Debian package prometheus, which `make test` installs).
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: apt-get install prometheus (make test installs it)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

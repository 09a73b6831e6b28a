//go:build linux

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// rulesFile is the recording-rules file of docs/scaling.md, relative to
// this package.
const (
	rulesFile     = "../../deploy/prometheus/ingest-rules.yml"
	rulesTestFile = "../../deploy/prometheus/ingest-rules_test.yml"
)

// TestPrometheusRules checks the recording rules with promtool, and runs
// their unit tests.
func TestPrometheusRules(t *testing.T) {
	_, promtool := needPrometheus(t)
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"test", "rules", rulesTestFile},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

package forward

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestWritePrometheus checks the exposition with promtool: every family
// has HELP and TYPE, names and labels are valid.
func TestWritePrometheus(t *testing.T) {
	fw := testForwarder(t, "jsonline+http://127.0.0.1:1/insert/jsonline", Options{})
	fw2 := testForwarder(t, "es+http://u:p@127.0.0.1:1/a%22b", Options{})
	var b bytes.Buffer
	if err := fw.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`ingest_forward_dropped_total{sink="jsonline+http://127.0.0.1:1/insert/jsonline",reason="budget"} 0`,
		`ingest_forward_send_duration_seconds_bucket{sink="jsonline+http://127.0.0.1:1/insert/jsonline",le="+Inf"} 0`,
		"ingest_forward_budget_limit_bytes 67108864",
	} {
		ensure(t, strings.Contains(out, want), "missing %q in\n%s", want, out)
	}
	var b2 bytes.Buffer
	fw2.WritePrometheus(&b2)
	ensure(t, !strings.Contains(b2.String(), "u:p"), "credentials in the exposition")
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		needCI(t, "promtool")
	}
	for _, exp := range []string{out, b2.String()} {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(exp)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool: %v\n%s\n%s", err, msg, exp)
		}
	}
}

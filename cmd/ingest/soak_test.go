package main

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSoakShort runs a short soak of the default scenario with the ingest
// and naive receivers in child processes (the test binary, see TestMain)
// and checks the verdicts, the exit status, the CSV and the PNG.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 11 seconds")
	}
	t.Setenv("INGEST_TEST_RUN_MAIN", "1") // for the children
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := runSoak([]string{"--duration", "10s", "--warmup", "4s", "--interval", "200ms", "--table", "2s",
		"--receivers", "ingest,naive", "--out", out}, nil, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Equal(t, 0, code)
	assert.Regexp(t, `(?m)^  ingest: +flat over `, stdout.String())
	assert.Regexp(t, `(?m)^  naive: +growing: `, stdout.String())
	// 1,500 lines/s for 10s, less what a busy machine may cost the pacing.
	assert.Regexp(t, `(?m)^sent 1[3-5]\d{3} lines in 1[3-5]\d{3} datagrams to each receiver`, stdout.String())

	f, err := os.Open(filepath.Join(out, "long-paths.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 80, "two receivers sampled 5 times a second for 10s, plus the header")
	assert.Equal(t, "seconds", rows[0][0])
	per := map[string]int{}
	for _, r := range rows[1:] {
		per[r[1]]++
	}
	assert.Len(t, per, 2)

	p, err := os.Open(filepath.Join(out, "long-paths.png"))
	require.NoError(t, err)
	defer p.Close()
	img, err := png.Decode(p)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 500)
}

// TestSoakUsage checks the usage errors.
func TestSoakUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "nosuch"},
		{"--receivers", "ingest,nosuch"},
		{"--duration", "0s"},
		{"--duration", "10s", "--warmup", "10s"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, runSoak(args, nil, &stdout, &stderr), "%v", args)
		assert.Contains(t, stderr.String(), "ingest soak: ", "%v", args)
	}
}

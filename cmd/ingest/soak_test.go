package main

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
		"--receivers", "ingest,naive", "--printheap", "--out", out}, nil, &stdout, &stderr)
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
	assert.Regexp(t, `(?m)^time +receiver +lines .* GCs +Mallocs +Frees +HeapObjects$`, stdout.String())
	col := func(name string) int {
		i := slices.Index(rows[0], name)
		require.GreaterOrEqual(t, i, 0, "column %s", name)
		return i
	}
	mallocs, frees, objects, budgets := col("memstats_mallocs"), col("memstats_frees"), col("memstats_heap_objects"), col("budgets")
	per := map[string]int{}
	for _, r := range rows[1:] {
		per[r[1]]++
		m, err := strconv.ParseUint(r[mallocs], 10, 64)
		require.NoError(t, err)
		f, err := strconv.ParseUint(r[frees], 10, 64)
		require.NoError(t, err)
		o, err := strconv.ParseUint(r[objects], 10, 64)
		require.NoError(t, err)
		assert.Equal(t, m-f, o, "HeapObjects is Mallocs - Frees")
		if r[1] == "ingest" {
			assert.Regexp(t, `^interner=[0-9]+/[0-9]+:[0-9]+/65536 paths=[0-9]+/[0-9]+:[0-9]+/10000$`, r[budgets])
		} else {
			assert.Empty(t, r[budgets])
		}
	}
	assert.Len(t, per, 2)

	p, err := os.Open(filepath.Join(out, "long-paths.png"))
	require.NoError(t, err)
	defer p.Close()
	img, err := png.Decode(p)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 500)
}

// TestSoakTableAligned checks that the table's columns stay aligned as
// numbers grow.
func TestSoakTableAligned(t *testing.T) {
	var b bytes.Buffer
	cols := append(slices.Clip(soakColumns), printHeapColumns...)
	short := []string{"1s", "ingest", "1", "2", "3.0 MiB", "4", "5", "6.0 MiB", "7.0 MiB", "8", "9", "10", "11", "12"}
	long := []string{"59s", "labels", "89999", "76000", "1234.5 MiB", "12345678", "1170", "2345.6 MiB", "2400.0 MiB", "17", "123", "987654321", "987000000", "654321"}
	s := &soaker{stdout: &b, printHeap: true}
	s.printTableHeader()
	writeSoakRow(&b, cols, short)
	writeSoakRow(&b, cols, long)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines[1:] {
		assert.Len(t, l, len(lines[0]), "%q", l)
	}
	// Each right-aligned column ends where its header ends.
	for i, name := range []string{"lines", "GCs", "HeapObjects"} {
		end := strings.Index(lines[0], name) + len(name)
		v := []string{short[2], short[10], short[13]}[i]
		assert.Equal(t, v, lines[1][end-len(v):end], "column %s", name)
	}
}

// TestSoakUsage checks the usage errors.
func TestSoakUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "nosuch"},
		{"--receivers", "ingest,nosuch"},
		{"--duration", "0s"},
		{"--duration", "10s", "--warmup", "10s"},
		{"extra"},
		{"--scenario", "routes", "--receivers", "labels,bogus"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, runSoak(args, nil, &stdout, &stderr), "%v", args)
		assert.Contains(t, stderr.String(), "ingest soak: ", "%v", args)
	}
}

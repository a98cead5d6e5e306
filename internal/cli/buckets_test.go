package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
)

func TestAnalyzeMany(t *testing.T) {
	dir := t.TempDir()
	want, err := fleettest.Generate(dir, 120)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := run("analyze", "--jobs", "2", dir)
	if code != ExitFailed {
		t.Fatalf("exit %d with %d damaged dumps", code, want.Failed)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "Dump File") || len(lines) != want.Inputs+3 {
		t.Errorf("table: %d lines, header %q", len(lines), lines[0])
	}
	for name := range want.Failures {
		if !strings.Contains(errs, "bugcheck: "+name+": ") {
			t.Errorf("failure of %s not named on stderr:\n%s", name, errs)
		}
	}
	// stderr is not a terminal here: plain progress lines, the last one final.
	if !strings.Contains(errs, "bugcheck: "+itoa(want.Inputs)+" of "+itoa(want.Inputs)+" dumps (100%)") &&
		!strings.Contains(errs, "bugcheck: "+itoa(want.Inputs)+" dumps") {
		t.Errorf("no final progress line:\n%s", errs)
	}

	code, out, _ = run("analyze", "--json", "-q", dir)
	var rows []struct {
		Dump, Status, DuplicateOf string
		Report                    *struct{ Bucket string }
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != ExitFailed {
		t.Fatalf("json: exit %d, %v", code, err)
	}
	dups := 0
	for _, r := range rows {
		if r.Status == "duplicate" {
			dups++
		}
	}
	if len(rows) != want.Inputs || dups != want.Duplicates {
		t.Errorf("json: %d rows, %d duplicates; want %d, %d", len(rows), dups, want.Inputs, want.Duplicates)
	}

	code, out, errs = run("analyze", "--format", "text", "-q", dir)
	if code != ExitFailed || strings.Count(out, "bugcheck report — ") != want.Analysed || strings.Count(errs, "(same SHA-256), not analysed again") != want.Duplicates {
		t.Errorf("text: exit %d, %d reports, stderr:\n%s", code, strings.Count(out, "bugcheck report — "), errs)
	}

	// A single dump named alone keeps its report; with a table format it
	// gets the table.
	code, out, _ = run("analyze", "--format", "csv", "-q", samplePath)
	if code != ExitOK || !strings.HasPrefix(out, "dump,status,") || !strings.Contains(out, ",acmefilt.sys,acmefilt.sys+0x1a40,") {
		t.Errorf("csv of the sample: exit %d\n%s", code, out)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestBucketsCommand(t *testing.T) {
	dir := t.TempDir()
	want, err := fleettest.Generate(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	type bucketsDoc struct {
		Analysed    int `json:"analysed"`
		FilteredOut int `json:"filtered_out"`
		Buckets     []struct {
			ID       string   `json:"bucket"`
			Count    int      `json:"crashes"`
			Machines []string `json:"machines"`
		} `json:"buckets"`
	}
	cases := []struct {
		name    string
		args    []string
		buckets map[string]int
	}{
		{"all", nil, want.Buckets},
		{"code", []string{"--code", "MANUALLY_INITIATED_CRASH", "--code", "0x124"}, map[string]int{
			fleettest.Kinds[3].Bucket: want.Buckets[fleettest.Kinds[3].Bucket], fleettest.Kinds[4].Bucket: want.Buckets[fleettest.Kinds[4].Bucket]}},
		{"driver", []string{"--driver", "contoso*"}, map[string]int{fleettest.Kinds[1].Bucket: want.Buckets[fleettest.Kinds[1].Bucket]}},
		{"none after", []string{"--since", "2026-03-15"}, map[string]int{}},
		{"none before", []string{"--until", "2026-02-28"}, map[string]int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"buckets", "--format", "json", "-q"}, c.args...)
			code, out, errs := run(append(args, dir)...)
			if code != ExitFailed {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var doc bucketsDoc
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			sum := 0
			for _, b := range doc.Buckets {
				got[b.ID] = b.Count
				sum += b.Count
			}
			if len(got) != len(c.buckets) {
				t.Errorf("buckets %v, want %v", got, c.buckets)
			}
			for id, n := range c.buckets {
				if got[id] != n {
					t.Errorf("bucket %s: %d, want %d", id, got[id], n)
				}
			}
			if doc.Analysed != want.Analysed || sum+doc.FilteredOut != want.Analysed {
				t.Errorf("analysed %d, kept %d, filtered out %d; want %d analysed", doc.Analysed, sum, doc.FilteredOut, want.Analysed)
			}
		})
	}
	code, out, _ := run("buckets", "-q", dir)
	if code != ExitFailed || !strings.HasPrefix(out, "Bucket ") || !strings.Contains(out, fleettest.Kinds[0].Bucket) {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"--since", "yesterday"}, {"--code", "NOT_A_CODE"}, {"--format", "yaml"}} {
		if code, _, _ := run(append(append([]string{"buckets"}, bad...), dir)...); code != ExitUsage {
			t.Errorf("%v: exit %d", bad, code)
		}
	}
	// Only good dumps: exit 0.
	good := filepath.Join(t.TempDir(), "good")
	os.Mkdir(good, 0o755)
	os.WriteFile(filepath.Join(good, "a.dmp"), fleettest.Crash(fleettest.Kinds[0], 1), 0o644)
	if code, out, errs := run("buckets", "--format", "csv", good); code != ExitOK || !strings.Contains(out, fleettest.Kinds[0].Bucket+",1,1,") {
		t.Errorf("good dumps: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		end  bool
		want time.Time
	}{
		{"2026-03-14", false, time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)},
		{"2026-03-14", true, time.Date(2026, 3, 14, 23, 59, 59, 999999999, time.UTC)},
		{"2026-03-14T09:30:00Z", false, time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)},
		{"2026-03-14 09:30", false, time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)},
		{"7d", false, time.Date(2026, 3, 13, 12, 0, 0, 0, time.UTC)},
		{"36h", false, time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := parseWhen(c.in, c.end, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseWhen(%q, %v) = %v, %v; want %v", c.in, c.end, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-3d", "2026-13-01"} {
		if _, err := parseWhen(bad, false, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", bad)
		}
	}
}

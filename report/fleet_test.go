package report_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/fleet"
	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/report"
)

// hostile is a dump file name that would break HTML, CSV and Markdown
// written without escaping.
// (no slash: it must stay one file name).
const hostile = `<b onmouseover=alert(1)>|=cmd,"x"&.dmp`

// runFormat writes the many-dump report of dir in format.
func runFormat(t *testing.T, dir, format string) (string, fleet.Stats) {
	t.Helper()
	var b bytes.Buffer
	w, err := report.NewMany(&b, format, report.ManyOptions{Title: "Fleet <test>"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := fleet.Run(context.Background(), []string{dir}, fleet.Options{Jobs: 2}, w.Write)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(st); err != nil {
		t.Fatal(err)
	}
	return b.String(), st
}

func generate(t *testing.T, n int) (string, *fleettest.Fleet) {
	t.Helper()
	dir := t.TempDir()
	want, err := fleettest.Generate(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pc00", hostile), sample.Bytes(), 0o644); err != nil {
		if runtime.GOOS == "windows" {
			t.Skipf("file system refuses the name: %v", err)
		}
		t.Fatal(err)
	}
	// The sample crashed at another time than every generated dump, so
	// the hostile file is one more distinct crash.
	want.Inputs++
	want.Analysed++
	return dir, want
}

func TestManyFormats(t *testing.T) {
	dir, want := generate(t, 200)
	hostilePath := filepath.Join(dir, "pc00", hostile)

	t.Run("csv", func(t *testing.T) {
		out, _ := runFormat(t, dir, "csv")
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != want.Inputs+1 || recs[0][0] != "dump" || recs[0][4] != "bugcheck_code" {
			t.Fatalf("%d records, header %v", len(recs), recs[0])
		}
		status := map[string]int{}
		for _, r := range recs[1:] {
			status[r[1]]++
			if r[0] == hostilePath && (r[4] != "0x50" || r[9] != sample.DriverName || r[10] != "acmefilt.sys+0x1a40" || r[15] != "0x50_W_acmefilt.sys!+0x1a40") {
				t.Errorf("hostile row %q", r)
			}
			if r[1] == "failed" && !want.Failures[r[0]] || r[1] == "duplicate" && (!want.Dups[r[0]] || r[21] == "") {
				t.Errorf("row %q", r)
			}
		}
		if status["ok"] != want.Analysed || status["failed"] != want.Failed || status["duplicate"] != want.Duplicates {
			t.Errorf("statuses %v, want %d/%d/%d", status, want.Analysed, want.Failed, want.Duplicates)
		}
	})

	t.Run("json", func(t *testing.T) {
		out, _ := runFormat(t, dir, "json")
		var rows []struct {
			report.Row
			Report *struct {
				SchemaVersion int    `json:"schema_version"`
				Bucket        string `json:"bucket"`
				BugCheck      struct {
					Code string `json:"code"`
				} `json:"bugcheck"`
			} `json:"report"`
		}
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != want.Inputs {
			t.Fatalf("%d rows, want %d", len(rows), want.Inputs)
		}
		buckets := map[string]int{}
		for _, r := range rows {
			if r.Status == "ok" {
				if r.Report == nil || r.Report.SchemaVersion != 1 || r.Report.Bucket != r.Bucket || r.Report.BugCheck.Code != r.BugCheckCode {
					t.Fatalf("row %s: report %+v", r.Dump, r.Report)
				}
				if r.Dump != hostilePath {
					buckets[r.Bucket]++
				}
			} else if r.Report != nil {
				t.Errorf("%s row has a report", r.Status)
			}
		}
		for b, n := range want.Buckets {
			if buckets[b] != n {
				t.Errorf("bucket %s: %d rows, want %d", b, buckets[b], n)
			}
		}
	})

	t.Run("jsonl", func(t *testing.T) {
		out, _ := runFormat(t, dir, "jsonl")
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<24)
		n, failed := 0, 0
		for sc.Scan() {
			var r report.Row
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %d: %v", n+1, err)
			}
			n++
			if r.Status == "failed" {
				failed++
				if r.Error == "" {
					t.Errorf("%s: failed without error", r.Dump)
				}
			}
		}
		if n != want.Inputs || failed != want.Failed {
			t.Errorf("%d lines, %d failed; want %d, %d", n, failed, want.Inputs, want.Failed)
		}
	})

	t.Run("table", func(t *testing.T) {
		out, st := runFormat(t, dir, "table")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		// header, one line per input, blank, summary
		if len(lines) != want.Inputs+3 || !strings.HasPrefix(lines[0], "Dump File") || !strings.Contains(lines[0], "Caused By Driver") {
			t.Fatalf("%d lines, header %q", len(lines), lines[0])
		}
		wantSum := fmt.Sprintf("%d inputs: %d analysed, %d failed, %d duplicates", want.Inputs, want.Analysed, want.Failed, want.Duplicates)
		if got := lines[len(lines)-1]; got != wantSum || st.Inputs != want.Inputs {
			t.Errorf("summary %q, want %q", got, wantSum)
		}
		if strings.Count(out, "FAILED: ") != want.Failed || strings.Count(out, "duplicate of ") != want.Duplicates {
			t.Errorf("failed/duplicate lines wrong")
		}
	})

	t.Run("markdown", func(t *testing.T) {
		out, _ := runFormat(t, dir, "markdown")
		rows := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| Dump File") {
				rows++
				// Every row has the header's 15 cells.
				if n := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); n != 16 {
					t.Errorf("row with %d bars: %q", n, l)
				}
			}
		}
		if rows != want.Inputs {
			t.Errorf("%d rows, want %d", rows, want.Inputs)
		}
	})

	t.Run("html", func(t *testing.T) {
		out, _ := runFormat(t, dir, "html")
		if strings.Contains(out, "<b onmouseover") || !strings.Contains(out, "&lt;b onmouseover=alert(1)&gt;|=cmd,&#34;x&#34;&amp;.dmp") {
			t.Error("hostile file name not escaped")
		}
		if !strings.Contains(out, "<title>Fleet &lt;test&gt;</title>") {
			t.Error("title not escaped")
		}
		if n := strings.Count(out, `<tr class="`); n != want.Inputs {
			t.Errorf("%d rows, want %d", n, want.Inputs)
		}
		for b := range want.Buckets {
			// html/template writes + as &#43;.
			if !strings.Contains(out, "<h3><code>"+strings.ReplaceAll(b, "+", "&#43;")+"</code></h3>") {
				t.Errorf("no section for bucket %s", b)
			}
		}
		if n := strings.Count(out, `<rect class="bar"`); n != fleettest.Days {
			t.Errorf("%d bars in the chart, want %d", n, fleettest.Days)
		}
		for _, bad := range []string{"http://", "https://", "<link", "src="} {
			if strings.Contains(out, bad) {
				t.Errorf("page is not self-contained: has %q", bad)
			}
		}
		if !strings.HasSuffix(out, "</html>\n") {
			t.Error("page not closed")
		}
	})

	t.Run("text", func(t *testing.T) {
		out, _ := runFormat(t, dir, "text")
		if n := strings.Count(out, "bugcheck report — "); n != want.Analysed {
			t.Errorf("%d reports, want %d", n, want.Analysed)
		}
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestNoDumps(t *testing.T) {
	for _, f := range report.Formats() {
		var b bytes.Buffer
		w, err := report.NewMany(&b, f, report.ManyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(fleet.Stats{}); err != nil {
			t.Fatal(err)
		}
		if f == "json" && b.String() != "[]\n" || f == "csv" && !strings.HasPrefix(b.String(), "dump,status,") {
			t.Errorf("%s of nothing: %q", f, b.String())
		}
	}
	if _, err := report.NewMany(nil, "yaml", report.ManyOptions{}); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestBucketsFormats(t *testing.T) {
	dir, want := generate(t, 120)
	g := fleet.NewGrouper(fleet.Filter{})
	st, err := fleet.Run(context.Background(), []string{dir}, fleet.Options{}, func(r *fleet.Result) error {
		g.Add(r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := report.NewBuckets(st, g)
	// The hostile file is one more crash of the first kind.
	want.Buckets[fleettest.Kinds[0].Bucket]++
	write := func(format string) string {
		var out bytes.Buffer
		if err := report.WriteBuckets(&out, format, b, "Generated for a test."); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}

	var doc report.Buckets
	if err := json.Unmarshal([]byte(write("json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.Failed != want.Failed || len(doc.Buckets) != len(want.Buckets) || len(doc.Days) != fleettest.Days {
		t.Fatalf("json: %+v", doc)
	}
	for i, x := range doc.Buckets {
		if x.Count != want.Buckets[x.ID] || x.First.IsZero() || x.Last.Before(x.First) || len(x.Machines) == 0 {
			t.Errorf("bucket %d: %+v", i, x)
		}
		if i > 0 && len(x.Machines) > len(doc.Buckets[i-1].Machines) {
			t.Errorf("bucket %s has more machines than the one before it", x.ID)
		}
	}
	if top := doc.Buckets[0]; top.ID != fleettest.Kinds[0].Bucket || top.Drivers[0] != (fleet.Count{Name: sample.DriverName, Count: top.Count}) {
		t.Errorf("top bucket %+v", top)
	}

	lines := strings.Split(strings.TrimSpace(write("jsonl")), "\n")
	if len(lines) != len(want.Buckets) {
		t.Errorf("jsonl: %d lines", len(lines))
	}
	recs, err := csv.NewReader(strings.NewReader(write("csv"))).ReadAll()
	if err != nil || len(recs) != len(want.Buckets)+1 || recs[1][0] != fleettest.Kinds[0].Bucket || recs[1][1] != itoa(want.Buckets[recs[1][0]]) {
		t.Errorf("csv: %v %v", err, recs)
	}
	table := write("table")
	if !strings.HasPrefix(table, "Bucket ") || !strings.Contains(table, "MANUAL_0xE2") {
		t.Errorf("table:\n%s", table)
	}
	md := write("markdown")
	if strings.Count(md, "\n| `") != len(want.Buckets) {
		t.Errorf("markdown:\n%s", md)
	}
	html := write("html")
	if strings.Count(html, `<section class="bucket"`) != len(want.Buckets) || !strings.Contains(html, `id="bucket-table"`) || strings.Contains(html, "<b onmouseover") {
		t.Errorf("html lacks bucket sections or escaping")
	}
}

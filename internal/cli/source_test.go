package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/lint"
)

const acmeSource = "testdata/acmefilt-src"

// TestAnalyzeSource links the shipped sample's crash (acmefilt.sys, 0x50, a
// write off the end of a 0x100-byte buffer) to the driver's source: the
// overrun in CopyFrame ranks above the deprecated allocator and the
// unrelated default tag.
func TestAnalyzeSource(t *testing.T) {
	code, out, stderr := run("analyze", "--json", "--source", acmeSource, samplePath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r analyze.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		rule, fn, defect string
		line             int
	}{
		{"BCL028", "CopyFrame", "overrun", 29},
		{"BCL001", "DriverEntry", "uninitialised", 53},
		{"BCL005", "FilterUnload", "pool-tag", 42},
	}
	if len(r.SourceFindings) != len(want) {
		t.Fatalf("%d source findings, want %d: %+v", len(r.SourceFindings), len(want), r.SourceFindings)
	}
	for i, w := range want {
		f := r.SourceFindings[i]
		if f.Rule != w.rule || f.Function != w.fn || f.Defect != w.defect || f.Line != w.line || f.Rank != i+1 {
			t.Errorf("finding %d: %s %s %s line %d rank %d; want %s %s %s line %d", i+1, f.Rule, f.Function, f.Defect, f.Line, f.Rank, w.rule, w.fn, w.defect, w.line)
		}
	}
	if f := r.SourceFindings[0]; !strings.Contains(f.Relevance, "page boundary") || f.BugChecks[0] != "0x50" {
		t.Errorf("overrun relevance %q, bug checks %v", f.Relevance, f.BugChecks)
	}

	_, text, _ := run("analyze", "--source", acmeSource, samplePath)
	sec := text[strings.Index(text, "\nSOURCE (3 findings"):]
	sec = sec[:strings.Index(sec, "\nCRASH DETAILS")]
	for _, s := range []string{"1. testdata/acmefilt-src/filter.c:29 in CopyFrame", "BCL028 buffer-bound-unchecked", "Fix: Compare FrameLength", "3. testdata/acmefilt-src/filter.c:42"} {
		if !strings.Contains(sec, s) {
			t.Errorf("text SOURCE section lacks %q:\n%s", s, sec)
		}
	}
	_, md, _ := run("analyze", "--format", "markdown", "--source", acmeSource, samplePath)
	if !strings.Contains(md, "## Source review") || !strings.Contains(md, "| 1 | `testdata/acmefilt-src/filter.c:29` in `CopyFrame` | BCL028") {
		t.Errorf("markdown lacks the source section:\n%s", md)
	}
	// Without --source the report has no source_findings at all.
	_, plain, _ := run("analyze", "--json", samplePath)
	if strings.Contains(plain, "source_findings") {
		t.Error("source_findings present without --source")
	}
	// --source goes with one full report.
	if code, _, _ := run("analyze", "--format", "table", "--source", acmeSource, samplePath); code != 2 {
		t.Errorf("--source with --format table: exit %d, want 2", code)
	}
}

// Every lint rule maps to a defect kind the ranking knows.
func TestLintDefectKinds(t *testing.T) {
	known := map[string]bool{}
	for _, k := range analyze.DefectKinds() {
		known[k] = true
	}
	for _, r := range lint.Rules() {
		if d := lint.DefectOf(r.ID); !known[d] || d == analyze.DefectOther {
			t.Errorf("%s: defect kind %q", r.ID, d)
		}
	}
}

func TestExplainRuleAndRuleList(t *testing.T) {
	code, out, errs := run("explain", "bcl040")
	if code != 0 || !strings.HasPrefix(out, "Lint rule BCL040 request-used-after-completion (error)") ||
		!strings.Contains(out, "0x44 MULTIPLE_IRP_COMPLETE_REQUESTS") || !strings.Contains(out, "  Fix: Read everything") {
		t.Errorf("explain bcl040: exit %d, %q %q", code, out, errs)
	}
	code, out, _ = run("explain", "--json", "refcount-read-after-release")
	var doc struct {
		ID        string   `json:"id"`
		BugChecks []string `json:"bug_checks"`
		CodeQL    []string `json:"codeql_queries"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || doc.ID != "BCL038" ||
		doc.BugChecks[0] != "0x50 PAGE_FAULT_IN_NONPAGED_AREA" || doc.CodeQL[0] != "MultithreadedAVCondition" {
		t.Errorf("explain --json rule: exit %d, %v, %+v", code, err, doc)
	}
	code, out, _ = run("explain", "--json", "0x10d")
	var bc struct {
		Rules []string `json:"lint_rules"`
	}
	if err := json.Unmarshal([]byte(out), &bc); err != nil || code != 0 || !slices.Contains(bc.Rules, "BCL044") || slices.Contains(bc.Rules, "BCL001") {
		t.Errorf("explain 0x10d lint_rules = %v (%v)", bc.Rules, err)
	}

	code, out, _ = run("lint", "--rules")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != len(lint.Rules())+1 || !strings.HasPrefix(lines[0], "RULE") ||
		!strings.Contains(out, "BCL044  error     stop-acknowledge-outside-evtiostop") {
		t.Errorf("lint --rules: exit %d, %d lines:\n%s", code, len(lines), out)
	}
	code, out, _ = run("lint", "--rules", "--format", "json")
	var docs []struct{ ID, Severity string }
	if err := json.Unmarshal([]byte(out), &docs); err != nil || code != 0 || len(docs) != len(lint.Rules()) || docs[0].ID != "BCL001" {
		t.Errorf("lint --rules --format json: exit %d, %v, %d rules", code, err, len(docs))
	}
	if code, _, _ := run("lint", "--rules", "x.c"); code != ExitUsage {
		t.Errorf("lint --rules with a file: exit %d, want usage error", code)
	}
}

// kmdfQueueSource is a KMDF driver's queue callbacks with three framework
// mistakes, none of them on the sample's crashing stack.
const kmdfQueueSource = `#include <wdf.h>

EVT_WDF_IO_QUEUE_IO_READ EvtIoRead;
EVT_WDF_IO_QUEUE_IO_WRITE EvtIoWrite;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL EvtIoDeviceControl;

VOID EvtIoRead(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    WdfRequestStopAcknowledge(Request, FALSE);
}

VOID EvtIoWrite(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    PDEVICE_CONTEXT ctx = GetContext(WdfIoQueueGetDevice(Queue));
    WdfSpinLockAcquire(ctx->Lock);
    if (ctx->Busy) {
        return;
    }
    WdfSpinLockRelease(ctx->Lock);
    WdfRequestComplete(Request, STATUS_SUCCESS);
}

VOID EvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t Out, size_t In, ULONG Code)
{
    PVOID buf;
    if (!NT_SUCCESS(WdfRequestRetrieveOutputBuffer(Request, 4, &buf, NULL))) {
        return;
    }
    WdfRequestComplete(Request, STATUS_SUCCESS);
    *(PULONG)buf = 0;
}
`

// A WDF_VIOLATION's subtype (parameter 1) decides which framework mistake
// in the culprit's source ranks first: 0xE (a callback returned at another
// IRQL) puts the spin lock left held on one path first, 0x3 (a request
// completed with buffer references outstanding) the buffer used after
// completion.
func TestAnalyzeSourceWdfViolation(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "queue.c"), []byte(kmdfQueueSource), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p1    uint64
		first []string // rules, most relevant first
		why   string   // in the first finding's relevance
	}{
		{0xE, []string{"BCL023", "BCL037", "BCL044", "BCL040"}, "a spin lock or IRQL not restored"},
		{0x3, []string{"BCL040", "BCL044", "BCL023", "BCL037"}, "memory used after it is freed"},
	} {
		tri := sample.Triage()
		tri.BugCheck = 0x10D
		tri.Params = [4]uint64{tc.p1, 2, 0, 0}
		b, err := tri.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		dump := filepath.Join(dir, fmt.Sprintf("wdf-%x.dmp", tc.p1))
		if err := os.WriteFile(dump, b, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := run("analyze", "--json", "--source", src, dump)
		if code != 0 {
			t.Fatalf("0x%x: exit %d: %s", tc.p1, code, stderr)
		}
		var r analyze.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range r.SourceFindings {
			got = append(got, f.Rule)
		}
		if !slices.Equal(got, tc.first) {
			t.Errorf("0x10D subtype 0x%x: source findings ranked %v, want %v", tc.p1, got, tc.first)
		}
		if r.BugCheck.Name != "WDF_VIOLATION" || !strings.Contains(r.SourceFindings[0].Relevance, tc.why) {
			t.Errorf("bug check %s %s; first relevance %q", r.BugCheck.Code, r.BugCheck.Name, r.SourceFindings[0].Relevance)
		}
	}
}

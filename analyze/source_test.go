package analyze

import (
	"strings"
	"testing"
)

func TestRankSource(t *testing.T) {
	overrun := SourceFinding{File: "f.c", Line: 29, Function: "CopyFrame", Rule: "BCL028", Severity: "error", Defect: DefectOverrun, BugChecks: []string{"0x50", "0x19"}}
	deprecated := SourceFinding{File: "f.c", Line: 53, Function: "DriverEntry", Rule: "BCL001", Severity: "warning", Defect: DefectUninitialised, BugChecks: []string{"0x50", "0x3b"}}
	tag := SourceFinding{File: "f.c", Line: 42, Function: "FilterUnload", Rule: "BCL005", Severity: "warning", Defect: DefectPoolTag, BugChecks: []string{"0x19", "0xc2"}}
	irql := SourceFinding{File: "f.c", Line: 70, Function: "DpcRoutine", Rule: "BCL010", Severity: "error", Defect: DefectIRQL, BugChecks: []string{"0xd1", "0xa", "0x50"}}
	stopAck := SourceFinding{File: "q.c", Line: 12, Function: "EvtIoRead", Rule: "BCL044", Severity: "error", Defect: DefectFramework, BugChecks: []string{"0x10d", "0x9f"}}
	lockHeld := SourceFinding{File: "q.c", Line: 30, Function: "EvtIoWrite", Rule: "BCL023", Severity: "error", Defect: DefectLock, BugChecks: []string{"0xc4", "0x10d"}}
	afterComplete := SourceFinding{File: "q.c", Line: 44, Function: "EvtIoDeviceControl", Rule: "BCL040", Severity: "error", Defect: DefectUseAfterFree, BugChecks: []string{"0x50", "0x44", "0x10d"}}
	pageWrite := &FaultingIP{Access: "write", EffectiveAddress: "0xffffc80a1b2c4000"}
	tests := []struct {
		name  string
		r     Report
		in    []SourceFinding
		order []string // rules, most relevant first
		why   string   // in the first finding's relevance
		inFn  bool
	}{
		{"0x50 overrun on a page boundary", Report{BugCheck: BugCheck{Code: "0x50"}, FaultingIP: pageWrite},
			[]SourceFinding{tag, deprecated, overrun}, []string{"BCL028", "BCL001", "BCL005"}, "page boundary", false},
		{"0x50 without the overrun signature still prefers overruns", Report{BugCheck: BugCheck{Code: "0x50"}},
			[]SourceFinding{tag, irql, deprecated, overrun}, []string{"BCL028", "BCL001", "BCL010", "BCL005"}, "buffer overrun", false},
		{"0xD1 prefers IRQL defects", Report{BugCheck: BugCheck{Code: "0xd1"}},
			[]SourceFinding{overrun, tag, irql}, []string{"BCL010", "BCL028", "BCL005"}, "wrong IRQL", false},
		{"the faulting function ranks first", Report{BugCheck: BugCheck{Code: "0x50"}, FaultingIP: &FaultingIP{Function: "acmefilt!FilterUnload+0x1c"}},
			[]SourceFinding{overrun, deprecated, tag}, []string{"BCL005", "BCL028", "BCL001"}, "the function the crash happened in", true},
		{"a culprit frame ranks above the rest", Report{BugCheck: BugCheck{Code: "0x50"}, Culprit: Culprit{Module: "acmefilt.sys"},
			Frames: []StackFrame{{Module: "ntoskrnl.exe", Function: "nt!DriverEntry+0x10"}, {Module: "acmefilt.sys", Function: "acmefilt!DriverEntry+0x40"}}},
			[]SourceFinding{overrun, tag, deprecated}, []string{"BCL001", "BCL028", "BCL005"}, "on the crashing stack", false},
		{"0x10D subtype 0xE: a lock left held ranks first", Report{BugCheck: BugCheck{Code: "0x10d", Parameters: []string{"0xe", "0x2", "0x0", "0x0"}}},
			[]SourceFinding{stopAck, lockHeld, afterComplete}, []string{"BCL023", "BCL044", "BCL040"}, "spin lock", false},
		{"0x10D subtype 0x3: a request used after completion ranks first", Report{BugCheck: BugCheck{Code: "0x10d", Parameters: []string{"0x3", "0xffffe001", "0x1", "0x0"}}},
			[]SourceFinding{stopAck, lockHeld, afterComplete}, []string{"BCL040", "BCL044", "BCL023"}, "freed", false},
		{"0x10D without a known subtype prefers framework rules", Report{BugCheck: BugCheck{Code: "0x10d", Parameters: []string{"0x99"}}},
			[]SourceFinding{lockHeld, afterComplete, stopAck}, []string{"BCL044", "BCL040", "BCL023"}, "KMDF", false},
		{"the _M variant counts as the base code", Report{BugCheck: BugCheck{Code: "0x1000007e"}},
			[]SourceFinding{tag, SourceFinding{Rule: "BCL002", Severity: "error", Defect: DefectNullDeref, BugChecks: []string{"0x3b", "0x7e"}}}, []string{"BCL002", "BCL005"}, "NULL pointer", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rankSource(&tc.r, tc.in)
			if len(got) != len(tc.order) {
				t.Fatalf("got %d findings, want %d", len(got), len(tc.order))
			}
			for i, f := range got {
				if f.Rule != tc.order[i] || f.Rank != i+1 {
					t.Errorf("rank %d: %s (rank field %d), want %s", i+1, f.Rule, f.Rank, tc.order[i])
				}
			}
			if !strings.Contains(got[0].Relevance, tc.why) {
				t.Errorf("first relevance %q lacks %q", got[0].Relevance, tc.why)
			}
			if got[0].InFaultingFunction != tc.inFn {
				t.Errorf("InFaultingFunction = %v, want %v", got[0].InFaultingFunction, tc.inFn)
			}
		})
	}
	if rankSource(&Report{}, nil) != nil {
		t.Error("no findings must give nil (no source_findings in the JSON)")
	}
}

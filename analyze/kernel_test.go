package analyze_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/sample"
)

// TestKernelDumps analyses the sample crash written as a complete and as a
// bitmap kernel dump: the verdict must equal the small dump's, and the
// kernel's own lists must supply modules, process, thread and processor.
func TestKernelDumps(t *testing.T) {
	small := analyze.Analyze(open(t, sample.Bytes()), analyze.Options{})
	for _, layout := range []dumpwriter.Layout{dumpwriter.LayoutFull, dumpwriter.LayoutBitmap} {
		t.Run(fmt.Sprint(layout), func(t *testing.T) {
			d, err := sample.Kernel(layout)
			if err != nil {
				t.Fatal(err)
			}
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			r := analyze.Analyze(open(t, b), analyze.Options{})
			if r.Bucket != small.Bucket || r.Bucket != "0x50_W_acmefilt.sys!+0x1a40" || r.Culprit.Module != "acmefilt.sys" || r.Culprit.Confidence != "high" {
				t.Errorf("verdict %s %+v, small dump %s", r.Bucket, r.Culprit, small.Bucket)
			}
			if len(r.Modules) != len(sample.Modules) || r.Modules[len(r.Modules)-1].Name != "acmefilt.sys" || r.Modules[0].Timestamp != "0x5f2b3a1c" {
				t.Errorf("%d modules: %+v", len(r.Modules), r.Modules)
			}
			if len(r.Unloaded) != 2 || r.Unloaded[0].Name != "WdBoot.sys" {
				t.Errorf("unloaded %+v", r.Unloaded)
			}
			if r.Process == nil || r.Process.Name != "System" || r.Process.ID != 4 {
				t.Errorf("process %+v", r.Process)
			}
			if r.Thread == nil || r.Thread.ID != sample.CrashThreadID || r.Thread.Address != fmt.Sprintf("%#x", uint64(sample.ThreadAddress)) {
				t.Errorf("thread %+v", r.Thread)
			}
			if p := r.BugCheck.Processor; p == nil || *p != sample.CrashProcessor {
				t.Errorf("processor %v", p)
			}
			if r.FaultingIP == nil || r.FaultingIP.Instruction != "mov dword ptr [rcx+rax*4],edx" || r.FaultingIP.EffectiveAddress != "0xffffc80a1b2c4000" {
				t.Errorf("faulting instruction %+v", r.FaultingIP)
			}
			if r.Access == nil || r.Access.PTE == nil || r.Access.PTE.State != "NotMapped" || !strings.Contains(r.Access.PTE.Explanation, "nothing is mapped") {
				t.Errorf("access %+v", r.Access)
			}
			if len(r.Stack) != len(small.Stack) || r.Captured.PhysicalPages == 0 {
				t.Errorf("%d stack slots (small dump: %d), %d physical pages", len(r.Stack), len(small.Stack), r.Captured.PhysicalPages)
			}
			if m := r.Machine; m == nil || m.CommitPercent != 37.5 || m.PhysicalPages != 0x3f0000 || m.AvailablePages != 0x200000 || m.CommitPeakPages != 0x1a0000 || len(m.Notes) != 0 {
				t.Errorf("machine state %+v", r.Machine)
			}
			if len(r.Warnings) != 0 {
				t.Errorf("warnings %q", r.Warnings)
			}
		})
	}
}

// TestEventEvidence weighs a System log's hardware evidence: it outweighs
// a weak attribution, not the driver whose own instruction faulted, and it
// never changes the bucket.
func TestEventEvidence(t *testing.T) {
	hw := &analyze.EventEvidence{Matched: true, Crash: "bug check 0x50", Hardware: &analyze.HardwareEvidence{Confidence: "high", Reasons: []string{"4 corrected WHEA memory errors in the hour before"}}}
	strong := analyze.Analyze(open(t, sample.Bytes()), analyze.Options{Events: hw})
	if strong.Culprit.Module != "acmefilt.sys" || strong.Culprit.Kind != "driver" || !strings.Contains(strings.Join(strong.Culprit.Evidence, "\n"), "WHEA") || strong.Events != hw {
		t.Errorf("strong attribution: %+v", strong.Culprit)
	}
	d := sample.Triage()
	d.Params[2] = 0 // no faulting instruction: the driver is only on the stack
	d.Stack = d.Stack[:0x300]
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	plain := analyze.Analyze(open(t, b), analyze.Options{})
	weak := analyze.Analyze(open(t, b), analyze.Options{Events: hw})
	if plain.Culprit.Confidence == "high" || weak.Culprit.Kind != "hardware" || weak.Culprit.Confidence != "high" || weak.Bucket != plain.Bucket {
		t.Errorf("weak attribution: %+v → %+v, buckets %s %s", plain.Culprit, weak.Culprit, plain.Bucket, weak.Bucket)
	}
	if !strings.Contains(strings.Join(stepsText(weak), "\n"), "mdsched") {
		t.Errorf("hardware playbook: %v", stepsText(weak))
	}
}

func stepsText(r *analyze.Report) []string {
	var out []string
	for _, s := range r.Playbook {
		out = append(out, s.Action+" "+strings.Join(s.Commands, " "))
	}
	return out
}

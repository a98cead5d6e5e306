package analyze_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/symstore"
)

func open(t testing.TB, b []byte) *kdump.File {
	t.Helper()
	f, err := kdump.NewFile(bytes.NewReader(b), int64(len(b)), "test.dmp")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCorpusTriageX64(t *testing.T) {
	f, err := kdump.Open(corpus.Path(t, "dumps", "triage_x64.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := analyze.Analyze(f, analyze.Options{})
	want := map[string]string{
		"format":              "kernel-triage",
		"arch":                "x64",
		"crash_time":          "2021-02-21T01:38:22Z",
		"os.name":             "Windows 10 version 2004",
		"bugcheck.code":       "0x1000007e",
		"bugcheck.name":       "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M",
		"bugcheck.p1":         "0xffffffffc0000005",
		"bugcheck.p2":         "0xfffff8048b58334c",
		"exception.code":      "0xc0000005",
		"exception.name":      "STATUS_ACCESS_VIOLATION",
		"exception.address":   "0xfffff8048b58334c",
		"faulting_ip.module":  "amdppm.sys",
		"faulting_ip.offset":  "0x334c",
		"faulting_ip.symbol":  "amdppm.sys+0x334c",
		"faulting_ip.insn":    "mov dword ptr [r9+r8],edx",
		"faulting_ip.access":  "write",
		"faulting_ip.ea":      "0xffff9b000336004c",
		"access.kind":         "write",
		"access.address":      "0xffffffffffffffff",
		"culprit.module":      "amdppm.sys",
		"culprit.kind":        "driver",
		"context.rsp":         "0xffff850429892120",
		"modules[0].name":     "ntoskrnl.exe",
		"modules[0].base":     "0xfffff8047ba00000",
		"modules[0].size":     "0x1046000",
		"unloaded[0].name":    "dam.sys",
		"thread.address":      "0xffffc08bde9e1640",
		"exception.param0":    "0x1",
		"context.source":      "context record at 0xffff850429891720 (parameter 4)",
		"exception.source":    "exception record at 0xffff850429891ee8 (parameter 3)",
		"faulting_ip.bytes":   "43891401",
		"bugcheck.meaning[0]": "STATUS_ACCESS_VIOLATION",
	}
	got := map[string]string{
		"format": r.Format, "arch": r.Arch, "crash_time": r.CrashTime, "os.name": r.OS.Name,
		"bugcheck.code": r.BugCheck.Code, "bugcheck.name": r.BugCheck.Name,
		"bugcheck.p1": r.BugCheck.Parameters[0], "bugcheck.p2": r.BugCheck.Parameters[1],
		"culprit.module": r.Culprit.Module, "culprit.kind": r.Culprit.Kind,
		"modules[0].name": r.Modules[0].Name, "modules[0].base": r.Modules[0].Base, "modules[0].size": r.Modules[0].Size,
		"unloaded[0].name": r.Unloaded[0].Name, "bugcheck.meaning[0]": r.BugCheck.Meanings[0].Decoded,
	}
	if e := r.Exception; e != nil {
		got["exception.code"], got["exception.name"], got["exception.address"], got["exception.source"] = e.Code, e.Name, e.Address, e.Source
		if len(e.Parameters) > 0 {
			got["exception.param0"] = e.Parameters[0]
		}
	}
	if f := r.FaultingIP; f != nil {
		got["faulting_ip.module"], got["faulting_ip.offset"], got["faulting_ip.symbol"] = f.Module, f.Offset, f.Symbol
		got["faulting_ip.insn"], got["faulting_ip.access"], got["faulting_ip.ea"], got["faulting_ip.bytes"] = f.Instruction, f.Access, f.EffectiveAddress, f.Bytes
	}
	if a := r.Access; a != nil {
		got["access.kind"], got["access.address"] = a.Kind, a.Address
	}
	if c := r.Context; c != nil {
		got["context.rsp"], got["context.source"] = c.Registers["rsp"], c.Source
	}
	if r.Thread != nil {
		got["thread.address"] = r.Thread.Address
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if r.OS.Build != 19041 || r.OS.Processors != 16 || len(r.Modules) != 151 || len(r.Unloaded) != 4 {
		t.Errorf("build %d cpus %d modules %d unloaded %d", r.OS.Build, r.OS.Processors, len(r.Modules), len(r.Unloaded))
	}
	if r.Process == nil || r.Process.Name != "System" || r.Process.ID != 4 || r.Process.Address != "0xffffc08bdce94180" || r.Thread.ID != 0x108 {
		t.Errorf("process %+v thread %+v", r.Process, r.Thread)
	}
	if r.UptimeSeconds < 3.7 || r.UptimeSeconds > 3.8 {
		t.Errorf("uptime = %v", r.UptimeSeconds)
	}
	// The unwound frames the manifest lists must appear in the stack scan,
	// as values following a call.
	wantFrames := map[string]string{
		"0xfffff8048b58313f": "amdppm.sys+0x313f",
		"0xfffff8048b583234": "amdppm.sys+0x3234",
		"0xfffff8048b5a0e8f": "amdppm.sys+0x20e8f",
		"0xfffff8048b5a83f6": "amdppm.sys+0x283f6",
		"0xfffff8048b59f852": "amdppm.sys+0x1f852",
	}
	for _, s := range r.Stack {
		if sym, ok := wantFrames[s.Value]; ok {
			if s.Symbol != sym || !s.AfterFault {
				t.Errorf("stack %s: symbol %s after-fault %v", s.Value, s.Symbol, s.AfterFault)
			}
			delete(wantFrames, s.Value)
		}
	}
	for v := range wantFrames {
		t.Errorf("return address %s missing from the stack scan", v)
	}
	if r.Bucket != "AV_W_amdppm.sys!+0x334c" || r.Culprit.Confidence != analyze.ConfidenceHigh || r.Culprit.Origin != "microsoft-inbox" {
		t.Errorf("bucket %q confidence %q origin %q", r.Bucket, r.Culprit.Confidence, r.Culprit.Origin)
	}
	if !strings.Contains(r.Culprit.Reason, "amdppm.sys+0x334c") {
		t.Errorf("culprit reason = %q", r.Culprit.Reason)
	}
}

func TestSample(t *testing.T) {
	r := analyze.Analyze(open(t, sample.Bytes()), analyze.Options{})
	if r.BugCheck.Code != "0x50" || r.BugCheck.Name != "PAGE_FAULT_IN_NONPAGED_AREA" {
		t.Errorf("bugcheck = %s %s", r.BugCheck.Code, r.BugCheck.Name)
	}
	if r.Culprit.Module != sample.DriverName || r.Culprit.Kind != analyze.KindDriver || r.Culprit.Origin != "third-party" ||
		r.Culprit.Confidence != analyze.ConfidenceHigh || len(r.Culprit.Evidence) < 3 {
		t.Errorf("culprit = %+v", r.Culprit)
	}
	if r.Access == nil || r.Access.Kind != "write" || r.Access.Address != "0xffffc80a1b2c4000" {
		t.Errorf("access = %+v", r.Access)
	}
	f := r.FaultingIP
	if f == nil || f.Symbol != "acmefilt.sys+0x1a40" || f.Instruction != "mov dword ptr [rcx+rax*4],edx" ||
		f.Access != "write" || f.AccessSize != 4 || f.EffectiveAddress != "0xffffc80a1b2c4000" {
		t.Fatalf("faulting ip = %+v", f)
	}
	if r.Context == nil || r.Context.Complete || !strings.Contains(r.Context.Source, "trap frame found on the stack") {
		t.Errorf("context = %+v", r.Context)
	}
	if !strings.Contains(r.Explanation, "buffer overrun") || !strings.Contains(r.Explanation, "same address the bug check reports") {
		t.Errorf("explanation = %q", r.Explanation)
	}
	var sawCaller bool
	for _, s := range r.Stack {
		if s.Symbol == "acmefilt.sys+0x229a" {
			sawCaller = s.AfterFault && s.CallVerified != nil && *s.CallVerified
		}
	}
	if !sawCaller {
		t.Error("the caller's return address acmefilt.sys+0x229a is not listed as a verified call after the fault")
	}
	var steps string
	for _, s := range r.Playbook {
		steps += s.Audience + ": " + s.Action + " " + strings.Join(s.Commands, " | ") + "\n"
	}
	for _, w := range []string{"verifier /standard /driver acmefilt.sys", "verifier /reset", "verifier /query", "verifier /flags 0x20dbb",
		"pnputil /enum-drivers", "acmefilt.inf", "developer: ", "ExAllocatePool2", "POOL_FLAG_NON_PAGED", "NULL", "KeStackAttachProcess", "spin lock"} {
		if !strings.Contains(steps, w) {
			t.Errorf("next steps lack %q", w)
		}
	}
}

// TestCulpritRules checks attribution when the fault is in the kernel, in
// no module, in an unloaded driver, and for manual and hardware crashes.
func TestCulpritRules(t *testing.T) {
	nt, drv := uint64(0xfffff80270a00000), uint64(0xfffff80275a30000)
	mods := []dumpwriter.Module{
		{Path: `\SystemRoot\system32\ntoskrnl.exe`, Base: nt, Size: 0x100000},
		{Path: `\SystemRoot\System32\drivers\Wdf01000.sys`, Base: nt + 0x200000, Size: 0x10000},
		{Path: `\SystemRoot\System32\drivers\vendor.sys`, Base: drv, Size: 0x10000},
	}
	stackWith := func(vals ...uint64) []byte {
		b := make([]byte, 0x100)
		for i, v := range vals {
			for j := 0; j < 8; j++ {
				b[0x10+8*i+j] = byte(v >> (8 * j))
			}
		}
		return b
	}
	cases := []struct {
		name       string
		code       uint32
		params     [4]uint64
		stack      []byte
		wantModule string
		wantKind   string
		wantConf   string
		wantBucket string
	}{
		{"fault in driver", 0x50, [4]uint64{0x10, 0, drv + 0x100, 0}, stackWith(nt + 5), "vendor.sys", "driver", "high", "0x50_R_vendor.sys!+0x100"},
		{"fault in nt, driver on stack", 0xd1, [4]uint64{0x10, 2, 0, nt + 0x500}, stackWith(nt+0x10, nt+0x200010, drv+0x40), "vendor.sys", "driver", "low", "0xD1_R_vendor.sys"},
		{"fault in nt alone", 0x0a, [4]uint64{0x10, 2, 1, nt + 0x500}, stackWith(nt + 0x10), "ntoskrnl.exe", "core", "low", "0xA_W_ntoskrnl.exe!+0x500"},
		{"fault in unloaded driver", 0x50, [4]uint64{0x10, 0, nt + 0x300100, 0}, stackWith(nt + 0x10), "gone.sys", "driver", "low", "0x50_R_gone.sys"},
		{"fault nowhere", 0x50, [4]uint64{0x10, 0, 0xfffff80299990000, 0}, stackWith(nt + 0x10), "", "unknown", "low", "0x50_R_UNKNOWN"},
		{"manual", 0xe2, [4]uint64{}, stackWith(drv + 0x10), "", "manual", "high", "MANUAL_0xE2"},
		{"manual power button", 0x1c8, [4]uint64{}, stackWith(drv + 0x10), "", "manual", "high", "MANUAL_0x1C8"},
		{"hardware", 0x124, [4]uint64{}, stackWith(drv + 0x10), "", "hardware", "high", "0x124_0_HARDWARE"},
		{"no ip, driver on stack", 0xc4, [4]uint64{0x91}, stackWith(nt+0x10, drv+0x20), "vendor.sys", "driver", "low", "0xC4_91_vendor.sys"},
		{"pool corruption, no suspect", 0x19, [4]uint64{0x20, 0, 0, 0}, stackWith(nt + 0x10), "", "corruption", "low", "0x19_20_CORRUPTION"},
		{"list corruption in nt", 0x139, [4]uint64{3, 0, 0, 0}, stackWith(nt + 0x10), "", "corruption", "low", "0x139_3_CORRUPTION"},
		{"parameter points into a driver", 0xc4, [4]uint64{0xe6, drv + 0x1234, 0, 0}, stackWith(nt + 0x10), "vendor.sys", "driver", "medium", "0xC4_E6_vendor.sys"},
		{"variant code", 0x10000050, [4]uint64{0x10, 2, drv + 0x100, 0}, stackWith(nt + 5), "vendor.sys", "driver", "high", "0x50_W_vendor.sys!+0x100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &dumpwriter.Triage{Header: dumpwriter.Header{Arch: cpuctx.ArchX64, Build: 19045, Processors: 2, BugCheck: c.code, Params: c.params},
				Modules: mods, TopOfStack: 0xfffff8027a55d000, Stack: c.stack,
				Unloaded: []dumpwriter.Unloaded{{Name: "gone.sys", Start: nt + 0x300000, End: nt + 0x310000}}}
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			r := analyze.Analyze(open(t, b), analyze.Options{})
			if r.Culprit.Module != c.wantModule || r.Culprit.Kind != c.wantKind {
				t.Errorf("culprit = %q (%s): %s; want %q (%s)", r.Culprit.Module, r.Culprit.Kind, r.Culprit.Reason, c.wantModule, c.wantKind)
			}
			if r.Culprit.Reason == "" || r.Explanation == "" || len(r.Playbook) == 0 || r.Culprit.Confidence != c.wantConf {
				t.Errorf("confidence %q (want %q), %d playbook steps", r.Culprit.Confidence, c.wantConf, len(r.Playbook))
			}
			if strings.Contains(r.Bucket, "0xfffff") || r.Bucket != c.wantBucket {
				t.Errorf("bucket = %q, want %q", r.Bucket, c.wantBucket)
			}
		})
	}
}

func TestSkipOption(t *testing.T) {
	r := analyze.Analyze(open(t, sample.Bytes()), analyze.Options{Skip: append(analyze.DefaultSkip, "acme*")})
	if r.Culprit.Module != "ndis.sys" {
		t.Errorf("with acme* skipped, culprit = %q (%s)", r.Culprit.Module, r.Culprit.Reason)
	}
}

func TestArchitectures(t *testing.T) {
	for _, c := range []struct {
		arch cpuctx.Arch
		code []byte
		regs map[string]uint64
		insn string
		ea   string
	}{
		{cpuctx.ArchX86, []byte{0x8b, 0x46, 0x04}, map[string]uint64{"esi": 0x1000, "eip": 0x82a01234, "esp": 0x8a55d000}, "mov eax,dword ptr [esi+4]", "0x1004"},
		{cpuctx.ArchARM64, []byte{0x20, 0x08, 0x40, 0xf9}, map[string]uint64{"x1": 0x2000, "pc": 0xfffff80270a01234, "sp": 0xfffff8027a55d000}, "", "0x2010"},
	} {
		t.Run(c.arch.String(), func(t *testing.T) {
			base := uint64(0xfffff80270a00000)
			if c.arch == cpuctx.ArchX86 {
				base = 0x82a00000
			}
			ip := base + 0x1234
			ctx := &cpuctx.Context{Arch: c.arch, Flags: cpuctx.Full(c.arch)}
			for k, v := range c.regs {
				ctx.Set(k, v)
			}
			stack := make([]byte, 0x800)
			cxrAt := uint64(0x100)
			copy(stack[cxrAt:], ctx.Bytes())
			top := c.regs["esp"] + c.regs["sp"]
			d := &dumpwriter.Triage{Header: dumpwriter.Header{Arch: c.arch, Build: 22621, Processors: 2, BugCheck: 0x7e,
				Params: [4]uint64{0xc0000005, ip, 0, top + cxrAt}},
				Modules:    []dumpwriter.Module{{Path: `\SystemRoot\System32\drivers\v.sys`, Base: base, Size: 0x10000}},
				TopOfStack: top, Stack: stack,
				Blocks: []dumpwriter.Block{{Addr: ip, Data: c.code}}}
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			r := analyze.Analyze(open(t, b), analyze.Options{})
			if r.Arch != c.arch.String() || r.FaultingIP == nil || r.FaultingIP.Symbol != "v.sys+0x1234" {
				t.Fatalf("arch %s faulting ip %+v", r.Arch, r.FaultingIP)
			}
			if c.insn != "" && r.FaultingIP.Instruction != c.insn {
				t.Errorf("instruction = %q, want %q", r.FaultingIP.Instruction, c.insn)
			}
			if r.FaultingIP.Access != "read" || r.FaultingIP.EffectiveAddress != c.ea {
				t.Errorf("access %q at %q, want read at %s", r.FaultingIP.Access, r.FaultingIP.EffectiveAddress, c.ea)
			}
			if r.Culprit.Module != "v.sys" {
				t.Errorf("culprit = %+v", r.Culprit)
			}
		})
	}
}

func BenchmarkAnalyzeCorpus(b *testing.B) {
	path := corpus.Path(b, "dumps", "triage_x64.dmp")
	b.ReportAllocs()
	for b.Loop() {
		f, err := kdump.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		analyze.Analyze(f, analyze.Options{})
		f.Close()
	}
}

// FuzzAnalyze runs the whole analysis on hostile dumps: exception records,
// context records, trap frames and stacks all come from the file.
func FuzzAnalyze(f *testing.F) {
	f.Add(sample.Bytes())
	for _, arch := range []cpuctx.Arch{cpuctx.ArchX86, cpuctx.ArchARM64} {
		d := &dumpwriter.Triage{Header: dumpwriter.Header{Arch: arch, Build: 22621, BugCheck: 0x7e, Params: [4]uint64{0xc0000005, 0x1000, 0x2000, 0x2100}},
			Modules:    []dumpwriter.Module{{Path: `\SystemRoot\x.sys`, Base: 0x1000, Size: 0x1000}},
			TopOfStack: 0x2000, Stack: make([]byte, 0x800), Blocks: []dumpwriter.Block{{Addr: 0x1000, Data: []byte{0x8b, 0x46, 0x04, 0, 0x20, 0x08, 0x40, 0xf9}}}}
		if b, err := d.Bytes(); err == nil {
			f.Add(b)
		}
	}
	// A kernel dump: page tables, kernel lists, pool, in-memory images.
	if d, err := sample.Kernel(dumpwriter.LayoutBitmap); err == nil {
		if b, err := d.Bytes(); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := kdump.NewFile(bytes.NewReader(data), int64(len(data)), "fuzz.dmp")
		if err != nil {
			return
		}
		r := analyze.Analyze(file, analyze.Options{})
		if r.BugCheck.Code == "" || len(r.BugCheck.Parameters) != 4 || r.Culprit.Kind == "" {
			t.Fatalf("incomplete report: %+v", r.BugCheck)
		}
	})
}

// TestKnowledgeComplete enforces that every bug check of the deep list
// gets parameter meanings, a summary, ranked causes and a playbook with at
// least one step written for that code or its family.
func TestKnowledgeComplete(t *testing.T) {
	deep := []uint32{0x0a, 0x19, 0x1a, 0x1e, 0x24, 0x3b, 0x4e, 0x50, 0x7a, 0x7e, 0x7f, 0x8e, 0x9f, 0xa0, 0xbe, 0xc1,
		0xc2, 0xc4, 0xc5, 0xce, 0xd1, 0xd5, 0xd6, 0xea, 0xef, 0xf4, 0xf7, 0xfc, 0x101, 0x109, 0x10d, 0x116, 0x117,
		0x119, 0x124, 0x133, 0x139, 0x13a, 0x154, 0x15f, 0x160, 0x18b, 0x1c8, 0xdeaddead,
		0x3f, 0x44, 0x4a, 0x76, 0x7b, 0x9e, 0xa5, 0xc7, 0xcb, 0xe6, 0xed, 0xf5, 0xfe, 0x113, 0x12b, 0x144}
	for _, code := range deep {
		d := &dumpwriter.Triage{Header: dumpwriter.Header{Arch: cpuctx.ArchX64, Build: 19045, Processors: 2, BugCheck: code},
			Modules:    []dumpwriter.Module{{Path: `\SystemRoot\system32\ntoskrnl.exe`, Base: 0xfffff80270a00000, Size: 0x100000}},
			TopOfStack: 0xfffff8027a55d000, Stack: make([]byte, 0x100)}
		b, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		r := analyze.Analyze(open(t, b), analyze.Options{})
		if len(r.BugCheck.Causes) == 0 || r.Explanation == "" || strings.HasPrefix(r.Explanation, "Windows stopped with bug check") {
			t.Errorf("%#x: causes %d, explanation %q", code, len(r.BugCheck.Causes), r.Explanation)
		}
		meanings := 0
		for _, m := range r.BugCheck.Meanings {
			if m.Meaning != "" {
				meanings++
			}
		}
		if meanings == 0 && code != 0x9c && code != 0xe2 && code != 0x15f && code != 0x18b && code != 0x1c8 && code != 0xdeaddead {
			t.Errorf("%#x: no parameter meanings", code)
		}
		if !analyze.HasSpecificAdvice(code) {
			t.Errorf("%#x: the playbook has no step written for this bug check", code)
		}
		if len(r.Playbook) == 0 {
			t.Errorf("%#x: empty playbook", code)
		}
	}
}

func TestMachineState(t *testing.T) {
	d := sample.Triage()
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// Fill the memory manager block (DUMP_MM_STORAGE64 at MmOffset) the way
	// older Windows versions do.
	f := open(t, b)
	mm := int(f.Triage.MmOffset)
	put32 := func(o int, v uint32) {
		for i := 0; i < 4; i++ {
			b[mm+o+i] = byte(v >> (8 * i))
		}
	}
	put64 := func(o int, v uint64) { put32(o, uint32(v)); put32(o+4, uint32(v>>32)) }
	put32(8, 0x656c6946)   // special pool tag "File"
	put32(16, 0x209bb)     // verifier flags
	put64(0x38, 950_000)   // committed pages
	put64(0x40, 960_000)   // peak
	put64(0x48, 1_000_000) // limit
	put64(0x18, 100)       // nonpaged max
	put64(0x20, 95)        // nonpaged used
	r := analyze.Analyze(open(t, b), analyze.Options{})
	m := r.Machine
	if m == nil || m.CommitPercent != 95 || m.VerifierFlags != "0x209bb" || m.SpecialPoolTag != "File" || len(m.Notes) != 3 {
		t.Fatalf("machine state = %+v", m)
	}
	// The shipped sample leaves the block empty, like Windows 10 does.
	if r := analyze.Analyze(open(t, sample.Bytes()), analyze.Options{}); r.Machine != nil {
		t.Errorf("empty block reported: %+v", r.Machine)
	}
}

// TestParameterDecoders checks the decoded parameters against the cases
// Microsoft documents for each bug check.
func TestParameterDecoders(t *testing.T) {
	cases := []struct {
		code   uint32
		build  uint32
		arch   cpuctx.Arch
		params [4]uint64
		index  int // 0-based parameter
		want   string
	}{
		{0x50, 19041, cpuctx.ArchX64, [4]uint64{0x10, 0, 0, 0}, 1, "read"},
		{0x50, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 0, 0}, 1, "write"},
		{0x50, 19041, cpuctx.ArchX64, [4]uint64{0x10, 10, 0, 0}, 1, "execute"},
		{0x50, 9600, cpuctx.ArchX64, [4]uint64{0x10, 1, 0, 0}, 1, "write"},
		{0x50, 22621, cpuctx.ArchARM64, [4]uint64{0x10, 1, 0, 0}, 1, "write"},
		{0x50, 22621, cpuctx.ArchARM64, [4]uint64{0x10, 8, 0, 0}, 1, "execute"},
		{0x50, 19041, cpuctx.ArchX64, [4]uint64{0x10, 0, 0, 4}, 3, "the address is not canonical"},
		{0x50, 19041, cpuctx.ArchX64, [4]uint64{0x10, 0, 0, 2}, 3, "no valid page table entry maps the address"},
		{0x0a, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 0, 0}, 1, "IRQL 2 (DISPATCH_LEVEL)"},
		{0x0a, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 0, 0}, 2, "read"},
		{0x0a, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 1, 0}, 2, "write"},
		{0x0a, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 8, 0}, 2, "execute"},
		{0xd1, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 0, 0}, 2, "read"},
		{0xd1, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 1, 0}, 2, "write"},
		{0xd1, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 2, 0}, 2, "execute"},
		{0xd1, 19041, cpuctx.ArchX64, [4]uint64{0x10, 2, 8, 0}, 2, "execute"},
		{0xd1, 19041, cpuctx.ArchX64, [4]uint64{0x10, 0, 0, 0}, 1, "IRQL 0 (PASSIVE_LEVEL)"},
		{0x1e, 19041, cpuctx.ArchX64, [4]uint64{0xc0000005, 0, 1, 0x20}, 2, "write"},
		{0x1e, 19041, cpuctx.ArchX64, [4]uint64{0xc0000005, 0, 0, 0x20}, 0, "STATUS_ACCESS_VIOLATION"},
		{0x7e, 19041, cpuctx.ArchX64, [4]uint64{0xffffffffc0000005, 0, 0, 0}, 0, "STATUS_ACCESS_VIOLATION"},
		{0x3b, 19041, cpuctx.ArchX64, [4]uint64{0xc0000094, 0, 0, 0}, 0, "STATUS_INTEGER_DIVIDE_BY_ZERO"},
		{0x139, 19041, cpuctx.ArchX64, [4]uint64{3, 0, 0, 0}, 0, "a LIST_ENTRY was corrupted (for example, removed twice)"},
		{0x133, 19041, cpuctx.ArchX64, [4]uint64{0, 0x501, 0x500, 0}, 0, "a single DPC or interrupt routine ran longer than its time allotment"},
		{0x1a, 19041, cpuctx.ArchX64, [4]uint64{0x41792, 0, 0, 0}, 0, "a corrupt page table entry was found"},
		{0x124, 19041, cpuctx.ArchX64, [4]uint64{0, 0, 0, 0}, 0, "machine check exception (processor, cache, bus or memory controller)"},
		{0x9f, 19041, cpuctx.ArchX64, [4]uint64{3, 0, 0, 0}, 0, "a device blocked a power IRP for too long (parameter 4 is the IRP)"},
		{0xc4, 19041, cpuctx.ArchX64, [4]uint64{0x62, 0, 0, 0}, 0, "the driver unloaded without freeing its pool allocations"},
		{0x7f, 19041, cpuctx.ArchX64, [4]uint64{8, 0, 0, 0}, 0, "double fault (almost always a kernel stack overflow)"},
	}
	for _, c := range cases {
		d := &dumpwriter.Triage{Header: dumpwriter.Header{Arch: c.arch, Build: c.build, Processors: 1, BugCheck: c.code, Params: c.params}}
		b, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		r := analyze.Analyze(open(t, b), analyze.Options{})
		if got := r.BugCheck.Meanings[c.index].Decoded; got != c.want {
			t.Errorf("%#x build %d %s P%d=%#x: decoded %q, want %q", c.code, c.build, c.arch, c.index+1, c.params[c.index], got, c.want)
		}
	}
}

// TestCorpusUnwind unwinds the corpus crash with the faulting driver's and
// KMDF's images from the corpus symbol store: the frames must be the ones
// independent tools report.
func TestCorpusUnwind(t *testing.T) {
	f, err := kdump.Open(corpus.Path(t, "dumps", "triage_x64.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	store := symstore.NewLocal(corpus.Path(t, "symstore"))
	defer store.Close()
	r := analyze.Analyze(f, analyze.Options{Images: store, Symbols: store, Versions: store})
	if c := r.Culprit; c.Company != "Microsoft Corporation" || c.Description == "" || c.FileVersion == "" {
		t.Errorf("culprit version info: %q %q %q", c.Company, c.Description, c.FileVersion)
	}
	want := []struct{ ip, sp, sym, fn string }{
		{"0xfffff8048b58334c", "0xffff850429892120", "amdppm.sys+0x334c", "amdppm!WriteIoMemRawEx+0x70"},
		{"0xfffff8048b58313f", "0xffff850429892150", "amdppm.sys+0x313f", "amdppm!WriteGenAddrEx+0x6b"},
		{"0xfffff8048b583234", "0xffff850429892180", "amdppm.sys+0x3234", "amdppm!WriteGenAddrMaybeHiddenEx+0x18"},
		{"0xfffff8048b5a0e8f", "0xffff8504298921b0", "amdppm.sys+0x20e8f", "amdppm!InitAcpiCpc+0x317"},
		{"0xfffff8048b5a83f6", "0xffff850429892210", "amdppm.sys+0x283f6", "amdppm!ProcLibDeviceStart+0x886"},
		{"0xfffff8048b59f852", "0xffff850429892340", "amdppm.sys+0x1f852", "amdppm!EvtDevicePrepareHardware+0xd2"},
	}
	if len(r.Frames) < len(want)+10 {
		t.Fatalf("%d frames (%s): %+v", len(r.Frames), r.FramesNote, r.Frames)
	}
	for i, w := range want {
		fr := r.Frames[i]
		if fr.IP != w.ip || fr.ChildSP != w.sp || fr.Symbol != w.sym || fr.Function != w.fn {
			t.Errorf("frame %d = %s sp %s %s %s, want %s sp %s %s %s", i, fr.IP, fr.ChildSP, fr.Symbol, fr.Function, w.ip, w.sp, w.sym, w.fn)
		}
	}
	// Then ten frames in KMDF, then the walk reaches ntoskrnl.exe, whose image is not in the store.
	for i := 6; i < 16; i++ {
		if r.Frames[i].Module != "Wdf01000.sys" {
			t.Errorf("frame %d = %s, want a Wdf01000.sys frame", i, r.Frames[i].Symbol)
		}
	}
	last := r.Frames[len(r.Frames)-1]
	if last.Module != "ntoskrnl.exe" || !strings.Contains(r.FramesNote, "no image for ntoskrnl.exe") {
		t.Errorf("last frame %s, note %q", last.Symbol, r.FramesNote)
	}
	if r.Culprit.Module != "amdppm.sys" {
		t.Errorf("culprit = %s", r.Culprit.Module)
	}
	if r.FaultingIP.Function != "amdppm!WriteIoMemRawEx+0x70" {
		t.Errorf("faulting function = %q", r.FaultingIP.Function)
	}
	// The bucket does not depend on whether symbols were found.
	if plain := analyze.Analyze(f, analyze.Options{}); plain.Bucket != r.Bucket {
		t.Errorf("bucket with symbols %q, without %q", r.Bucket, plain.Bucket)
	}
}

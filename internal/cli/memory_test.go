package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/paging"
)

// TestMemoryCommands reads and disassembles the corpus crash's faulting
// instruction through the module+offset syntax and a raw address.
func TestMemoryCommands(t *testing.T) {
	dump := corpus.Path(t, "dumps", "triage_x64.dmp")
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"read", dump, "amdppm.sys+0x334c", "4"}, "fffff804`8b58334c  43 89 14 01", 0},
		{[]string{"read", dump, "amdppm+334c", "4"}, "43 89 14 01", 0},
		{[]string{"read", dump, "fffff804`8b58334c", "4"}, "43 89 14 01", 0},
		{[]string{"read", dump, "0x10", "2"}, "?? ??", 0},
		{[]string{"disasm", dump, "0xfffff8048b58334c", "1"}, "amdppm.sys+0x334c        43891401             mov dword ptr [r9+r8],edx", 0},
		{[]string{"read", dump, "nosuch.sys+0x10"}, "", 1},
		{[]string{"read", dump, "zz"}, "", 1},
		{[]string{"read", dump, "0x1000", "0"}, "", 1},
		{[]string{"disasm", dump, "0x10"}, "", 1},
		{[]string{"ps", dump}, "", 1},
	} {
		code, out, errOut := run(c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d (want %d)\n%s%s", c.args[1:], code, c.code, out, errOut)
		}
	}
	_, out, _ := run("read", "--json", dump, "amdppm.sys+0x334c", "4")
	var r struct {
		Address string
		Length  int
		Lines   []memoryLine
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Address != "0xfffff8048b58334c" || r.Length != 4 || r.Lines[0].Hex != "43 89 14 01" {
		t.Errorf("json %+v %v", r, err)
	}
	_, _, errOut := run("ps", dump)
	if !strings.Contains(errOut, "small memory dump does not capture the process list") {
		t.Errorf("ps on a triage dump: %s", errOut)
	}
}

// TestKernelDumpCommands runs ps, pte, read, disasm and modules on the
// sample crash written as a complete memory dump.
func TestKernelDumpCommands(t *testing.T) {
	d, err := sample.Kernel(dumpwriter.LayoutBitmap)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "MEMORY.DMP")
	if err := os.WriteFile(dump, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"ps", dump}, []string{"PROCESS ffff8e0c`45e8f040\n    Cid: 0004    Peb: 0  ParentCid: 0000\n    DirBase: 0x1ad000  Image: System", "Cid: 03a4", "ParentCid: 02c8", "Image: svchost.exe"}},
		{[]string{"pte", dump, "0xffffc80a1c000000"}, []string{"PageFile", "paged out to page file 0 at offset 0x2d7f0000"}},
		{[]string{"pte", dump, "ffffc80a`1b2c4000"}, []string{"PTE    at", "NotMapped", "nothing is mapped at 0xffffc80a1b2c4000"}},
		{[]string{"pte", dump, "acmefilt.sys+0x1a40"}, []string{"Valid", "physical address 0x"}},
		{[]string{"disasm", dump, "acmefilt.sys+0x1a40", "2"}, []string{"fffff802`75a31a40  acmefilt.sys+0x1a40      891481               mov dword ptr [rcx+rax*4],edx", "acmefilt.sys+0x1a43      ffc0                 inc eax"}},
		{[]string{"read", dump, "ntoskrnl+0xc00b30", "4"}, []string{"fffff802`71600b30  4b 44 42 47", "KDBG"}},
		{[]string{"modules", dump}, []string{"acmefilt.sys", "Unloaded modules:", "WdBoot.sys"}},
	} {
		code, out, errOut := run(c.args...)
		for _, w := range c.want {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("%v: exit %d, missing %q\n%s%s", c.args[:1], code, w, out, errOut)
			}
		}
	}
	_, out, _ := run("ps", "--json", dump)
	var procs []processLine
	if err := json.Unmarshal([]byte(out), &procs); err != nil || len(procs) != len(sample.Processes) || procs[4].Name != "svchost.exe" || procs[4].PID != 0x3a4 {
		t.Errorf("ps --json: %v %+v", err, procs)
	}
	_, out, _ = run("pte", "--json", dump, "0xffffc80a1c000000")
	var p pteReport
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.State != "PageFile" || len(p.Entries) != 4 || p.Entries[3].Level != "PTE" {
		t.Errorf("pte --json: %v %+v", err, p)
	}
	if code, _, errOut := run("pte", corpus.Path(t, "dumps", "triage_x64.dmp"), "0x1000"); code != 1 || !strings.Contains(errOut, "holds no page tables") {
		t.Errorf("pte on a triage dump: %d %s", code, errOut)
	}
}

// writeSample writes a sample kernel dump to a temporary file.
func writeSample(t *testing.T, o sample.KernelOptions) string {
	t.Helper()
	d, err := sample.KernelWith(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "MEMORY.DMP")
	if err := os.WriteFile(dump, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dump
}

// TestKernelDumpCommandsArch runs ps, pte and modules on the sample crash
// written as a kernel dump of x86 (with and without PAE), x64 with 5-level
// paging and ARM64.
func TestKernelDumpCommandsArch(t *testing.T) {
	for _, c := range []struct {
		mode   paging.Mode
		system string // the System process as ps prints it
		dirBase,
		levels int
	}{
		{paging.X86PAE, "PROCESS c5e8f040\n    Cid: 0004    Peb: 0  ParentCid: 0000\n    DirBase: 0x1ad020  Image: System", 0x1ad020, 3},
		{paging.X86, "PROCESS c5e8f040\n    Cid: 0004    Peb: 0  ParentCid: 0000\n    DirBase: 0x1ad000  Image: System", 0x1ad000, 2},
		{paging.X64LA57, "PROCESS ffff8e0c`45e8f040\n    Cid: 0004    Peb: 0  ParentCid: 0000\n    DirBase: 0x1ad000  Image: System", 0x1ad000, 5},
		{paging.ARM64, "PROCESS ffff8e0c`45e8f040\n    Cid: 0004    Peb: 0  ParentCid: 0000\n    DirBase: 0x1ad000  Image: System", 0x1ad000, 4},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			A := func(a uint64) string { return fmt.Sprintf("%#x", sample.Addr(c.mode, a)) }
			dump := writeSample(t, sample.KernelOptions{Layout: dumpwriter.LayoutBitmap, Mode: c.mode})
			for _, cmd := range []struct {
				args []string
				want []string
			}{
				{[]string{"ps", dump}, []string{c.system, "Cid: 03a4", "ParentCid: 02c8", "Image: svchost.exe"}},
				{[]string{"pte", dump, A(sample.PagedOutAddress)}, []string{"(" + c.mode.String() + " paging", "PageFile", "paged out to page file 0 at offset 0x2d7f0000"}},
				{[]string{"pte", dump, A(sample.FaultAddress)}, []string{"NotMapped", "nothing is mapped at " + A(sample.FaultAddress)}},
				{[]string{"pte", dump, "acmefilt.sys+0x1a40"}, []string{"Valid", "physical address 0x"}},
				{[]string{"modules", dump}, []string{"acmefilt.sys", "ntoskrnl.exe", "Unloaded modules:", "WdBoot.sys"}},
			} {
				code, out, errOut := run(cmd.args...)
				for _, w := range cmd.want {
					if code != 0 || !strings.Contains(out, w) {
						t.Errorf("%v: exit %d, missing %q\n%s%s", cmd.args[:1], code, w, out, errOut)
					}
				}
			}
			_, out, _ := run("pte", "--json", dump, A(sample.PagedOutAddress))
			var p pteReport
			if err := json.Unmarshal([]byte(out), &p); err != nil || p.State != "PageFile" || len(p.Entries) != c.levels || p.Root != fmt.Sprintf("%#x", c.dirBase) {
				t.Errorf("pte --json: %v %+v", err, p)
			}
			_, out, _ = run("ps", "--json", dump)
			var procs []processLine
			if err := json.Unmarshal([]byte(out), &procs); err != nil || len(procs) != len(sample.Processes) || procs[0].Address != A(sample.SystemProcess) || procs[3].PID != 0x230 {
				t.Errorf("ps --json: %v %+v", err, procs)
			}
		})
	}
}

// TestReadPhysical reads physical memory with read --physical: the
// debugger data block's page through its translated address, a page the
// dump did not capture, and the refusal on a small dump.
func TestReadPhysical(t *testing.T) {
	for _, mode := range []paging.Mode{paging.X64, paging.X86PAE} {
		dump := writeSample(t, sample.KernelOptions{Layout: dumpwriter.LayoutBitmap, Mode: mode})
		f, err := kdump.Open(dump)
		if err != nil {
			t.Fatal(err)
		}
		pa, err := f.PageTables().Translate(sample.Addr(mode, sample.KdbgAddress) + 0x10)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			args []string
			want string
			code int
		}{
			{[]string{"read", "--physical", dump, fmt.Sprintf("%x", pa), "4"}, fmt.Sprintf("#%9x  4b 44 42 47", pa), 0},
			{[]string{"read", "--physical", dump, "0x10", "2"}, "#       10  ?? ??", 0},   // page 0 is not in the dump
			{[]string{"read", "--physical", dump, "0xffffffffffffff00", "2"}, "?? ??", 0}, // beyond any physical address
			{[]string{"read", "--physical", dump, "acmefilt.sys+0x1a40"}, "", 1},          // no symbols for physical addresses
			{[]string{"read", "--physical", smallDump(t), "0x1000", "4"}, "", 1},          // a small dump holds no physical memory
		} {
			code, out, errOut := run(c.args...)
			if code != c.code || !strings.Contains(out, c.want) {
				t.Errorf("%v %v: exit %d (want %d)\n%s%s", mode, c.args[1:], code, c.code, out, errOut)
			}
		}
		_, out, _ := run("read", "--json", "--physical", dump, fmt.Sprintf("%#x", pa), "4")
		var r struct {
			Address  string
			Physical bool
			Lines    []memoryLine
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Address != fmt.Sprintf("%#x", pa) || !r.Physical || r.Lines[0].Hex != "4b 44 42 47" {
			t.Errorf("json %+v %v", r, err)
		}
	}
	_, _, errOut := run("read", "--physical", smallDump(t), "0x1000", "4")
	if !strings.Contains(errOut, "holds no physical memory") {
		t.Errorf("read --physical on a small dump: %s", errOut)
	}
}

// smallDump writes the sample small dump to a temporary file.
func smallDump(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "small.dmp")
	if err := os.WriteFile(p, sample.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

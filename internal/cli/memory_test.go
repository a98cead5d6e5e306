package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/sample"
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

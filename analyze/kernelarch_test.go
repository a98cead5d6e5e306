package analyze_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/pdb"
)

// TestKernelDumpArchitectures analyses the sample crash written as a kernel
// dump of every machine bugcheck reads: x86 with and without PAE (32-bit
// structures), x64 with 5-level paging (which the header does not record)
// and ARM64. Each must give the small dump's verdict, the kernel's lists,
// and the PTE verdict of the faulting address.
func TestKernelDumpArchitectures(t *testing.T) {
	for _, c := range []struct {
		mode   paging.Mode
		layout dumpwriter.Layout
		inst   string
	}{
		{paging.X86PAE, dumpwriter.LayoutBitmap, "mov dword ptr [ecx+eax*4],edx"},
		{paging.X86, dumpwriter.LayoutFull, "mov dword ptr [ecx+eax*4],edx"},
		{paging.X64LA57, dumpwriter.LayoutBitmap, "mov dword ptr [rcx+rax*4],edx"},
		{paging.ARM64, dumpwriter.LayoutBitmap, "str w9, [x0,x8,lsl #2]"},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			A := func(a uint64) uint64 { return sample.Addr(c.mode, a) }
			d, err := sample.KernelWith(sample.KernelOptions{Layout: c.layout, Mode: c.mode})
			if err != nil {
				t.Fatal(err)
			}
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			f := open(t, b)
			if m := f.PageTables().Mode(); m != c.mode {
				t.Errorf("paging mode %v, want %v", m, c.mode)
			}
			r := analyze.Analyze(f, analyze.Options{})
			if r.Bucket != "0x50_W_acmefilt.sys!+0x1a40" || r.Culprit.Module != "acmefilt.sys" || r.Culprit.Confidence != "high" {
				t.Errorf("verdict %s %+v", r.Bucket, r.Culprit)
			}
			if len(r.Modules) != len(sample.Modules) || r.Modules[len(r.Modules)-1].Name != "acmefilt.sys" || r.Modules[0].Timestamp != "0x5f2b3a1c" {
				t.Errorf("%d modules: %+v", len(r.Modules), r.Modules)
			}
			if len(r.Unloaded) != 2 || r.Unloaded[0].Name != "WdBoot.sys" {
				t.Errorf("unloaded %+v", r.Unloaded)
			}
			if r.Process == nil || r.Process.Name != "System" || r.Process.ID != 4 || r.Process.Address != fmt.Sprintf("%#x", A(sample.SystemProcess)) {
				t.Errorf("process %+v", r.Process)
			}
			if r.Thread == nil || r.Thread.ID != sample.CrashThreadID || r.Thread.Address != fmt.Sprintf("%#x", A(sample.ThreadAddress)) {
				t.Errorf("thread %+v", r.Thread)
			}
			if p := r.BugCheck.Processor; p == nil || *p != sample.CrashProcessor {
				t.Errorf("processor %v", p)
			}
			if r.FaultingIP == nil || r.FaultingIP.Instruction != c.inst || r.FaultingIP.EffectiveAddress != fmt.Sprintf("%#x", A(sample.FaultAddress)) {
				t.Errorf("faulting instruction %+v", r.FaultingIP)
			}
			if r.Access == nil || r.Access.Address != fmt.Sprintf("%#x", A(sample.FaultAddress)) || r.Access.PTE == nil || r.Access.PTE.State != "NotMapped" || !strings.Contains(r.Access.PTE.Explanation, "nothing is mapped") {
				t.Errorf("access %+v", r.Access)
			}
			if len(r.Warnings) != 0 {
				t.Errorf("warnings %q", r.Warnings)
			}
		})
	}
}

// keySymbols gives only the variables that decode the sample's debugger
// data block; the structure layouts then come from the block itself.
type keySymbols struct{}

func (keySymbols) FieldOffset(st, path string) (uint64, error) { return 0, errors.New("no types") }
func (keySymbols) StructSize(name string) (uint64, error)      { return 0, errors.New("no types") }
func (keySymbols) GlobalRVA(name string) (uint32, error) {
	switch name {
	case "KiWaitNever":
		return sample.KiWaitNeverRVA, nil
	case "KiWaitAlways":
		return sample.KiWaitAlwaysRVA, nil
	case "KdpDataBlockEncoded":
		return sample.KdpDataBlockEncodedRVA, nil
	}
	return 0, errors.New("no such global")
}

// TestEncodedKernelDump analyses the sample kernel dump whose debugger data
// block is still encoded: without the kernel's symbols the verdict and the
// module list stand but the processors are not located; with them the
// block decodes.
func TestEncodedKernelDump(t *testing.T) {
	d, err := sample.KernelWith(sample.KernelOptions{Layout: dumpwriter.LayoutBitmap, EncodeKDBG: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, b)
	r := analyze.Analyze(f, analyze.Options{})
	if r.Bucket != "0x50_W_acmefilt.sys!+0x1a40" || len(r.Modules) != len(sample.Modules) || r.Thread != nil {
		t.Errorf("bucket %s, %d modules, thread %+v", r.Bucket, len(r.Modules), r.Thread)
	}
	if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, "may be encoded") {
		t.Errorf("warnings %q", r.Warnings)
	}
	k := analyze.KernelOfWith(f, keySymbols{})
	if k.KDBG == nil || k.KDBG.KiProcessorBlock != sample.ProcessorBlock {
		t.Fatalf("block %+v, warnings %q", k.KDBG, k.Warnings)
	}
	threads, err := k.CurrentThreads()
	if err != nil || len(threads) != 8 || threads[sample.CrashProcessor].Address != sample.ThreadAddress {
		t.Errorf("threads %+v, %v", threads, err)
	}
}

// TestPDBSymbols reads structure layouts and globals from a real PDB
// through the adapter ntkernel uses.
func TestPDBSymbols(t *testing.T) {
	p, err := pdb.Open(corpus.Path(t, "pdb", "exceptions-test.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := analyze.PDBSymbols(p)
	if off, err := s.FieldOffset("_LIST_ENTRY", "Blink"); err != nil || off != 8 {
		t.Errorf("_LIST_ENTRY.Blink at %#x, %v", off, err)
	}
	if n, err := s.StructSize("_EXCEPTION_RECORD"); err != nil || n != 0x98 {
		t.Errorf("_EXCEPTION_RECORD size %#x, %v", n, err)
	}
	for name, want := range map[string]uint32{"__security_cookie": 0x11008, "main": 0x1bb0} { // a global; a public only
		if rva, err := s.GlobalRVA(name); err != nil || rva != want {
			t.Errorf("%s at %#x, %v; want %#x", name, rva, err, want)
		}
	}
	if _, err := s.GlobalRVA("KiWaitNever"); err == nil {
		t.Error("a missing global was found")
	}
	if _, err := s.StructSize("_EPROCESS"); err == nil {
		t.Error("a missing structure was found")
	}
}

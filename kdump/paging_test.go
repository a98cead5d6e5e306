package kdump_test

import (
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/paging"
)

// TestPagingModes opens the sample kernel dump of every machine: x86 and
// ARM64 take their mode from the header; for x64 the header does not say
// whether the machine used 5-level paging, so the mode is the one through
// which the kernel's own data reads right.
func TestPagingModes(t *testing.T) {
	for _, c := range []struct {
		name   string
		o      sample.KernelOptions
		edit   func(*dumpwriter.MemoryDump)
		want   paging.Mode
		kdbgOK bool // the debugger data block reads through the chosen mode
	}{
		{"x64", sample.KernelOptions{Mode: paging.X64}, nil, paging.X64, true},
		{"la57", sample.KernelOptions{Mode: paging.X64LA57}, nil, paging.X64LA57, true},
		// An encoded block has no tag to find: the module list decides.
		{"la57 encoded", sample.KernelOptions{Mode: paging.X64LA57, EncodeKDBG: true}, nil, paging.X64LA57, true},
		// Nothing to check against: 4-level paging is kept.
		{"la57 without pointers", sample.KernelOptions{Mode: paging.X64LA57}, func(d *dumpwriter.MemoryDump) {
			d.KdDebuggerDataBlock, d.PsLoadedModuleList = 0, 0
		}, paging.X64, false},
		{"la57 bad list", sample.KernelOptions{Mode: paging.X64LA57, EncodeKDBG: true}, func(d *dumpwriter.MemoryDump) {
			d.PsLoadedModuleList = sample.ActiveProcessHead + 0x100
		}, paging.X64, false},
		{"x86 pae", sample.KernelOptions{Mode: paging.X86PAE}, nil, paging.X86PAE, true},
		{"x86", sample.KernelOptions{Mode: paging.X86}, nil, paging.X86, true},
		{"arm64", sample.KernelOptions{Mode: paging.ARM64}, nil, paging.ARM64, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.Layout = dumpwriter.LayoutBitmap
			d, err := sample.KernelWith(c.o)
			if err != nil {
				t.Fatal(err)
			}
			if c.edit != nil {
				c.edit(d)
			}
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			f, err := kdump.NewFile(strings.NewReader(string(b)), int64(len(b)), "MEMORY.DMP")
			if err != nil {
				t.Fatal(err)
			}
			pt := f.PageTables()
			if pt.Mode() != c.want || pt.Root() != d.DirectoryTableBase {
				t.Errorf("mode %v root %#x, want %v %#x", pt.Mode(), pt.Root(), c.want, d.DirectoryTableBase)
			}
			kdbg := make([]byte, 4)
			_, err = f.Memory().Read(sample.Addr(c.o.Mode, sample.KdbgAddress)+0x10, kdbg)
			if ok := err == nil && (string(kdbg) == "KDBG" || c.o.EncodeKDBG); ok != c.kdbgOK {
				t.Errorf("debugger data block %q, %v", kdbg, err)
			}
		})
	}
}

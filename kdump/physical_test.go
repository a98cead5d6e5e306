package kdump_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/physmem"
)

// stamp is the content the sample memory dumps give page pfn: its number,
// then a marker, so a read from the wrong page is caught.
func stamp(pfn uint64) []byte {
	b := make([]byte, 0x20)
	binary.LittleEndian.PutUint64(b, pfn)
	copy(b[8:], "physpage")
	b[0x1f] = byte(pfn)
	return b
}

// sampleRuns are the physical memory of the sample machine: a low run
// without page 0, a middle run and a high one above 4 GiB (for 64-bit and
// PAE).
func sampleRuns(high bool) []kdump.PhysicalMemoryRun {
	r := []kdump.PhysicalMemoryRun{{BasePage: 1, PageCount: 0x9e}, {BasePage: 0x100, PageCount: 0x300}}
	if high {
		r = append(r, kdump.PhysicalMemoryRun{BasePage: 0x100010, PageCount: 0x20})
	}
	return r
}

func sampleMemory(arch cpuctx.Arch, layout dumpwriter.Layout, dt kdump.DumpType, pae bool) *dumpwriter.MemoryDump {
	ctx := &cpuctx.Context{Arch: arch, Flags: cpuctx.Full(arch)}
	base := uint64(0xfffff80270a00000)
	if arch == cpuctx.ArchX86 {
		base = 0x82a00000
	}
	ctx.Set(map[cpuctx.Arch]string{cpuctx.ArchX64: "rip", cpuctx.ArchX86: "eip", cpuctx.ArchARM64: "pc"}[arch], base+0x1234)
	high := arch != cpuctx.ArchX86 || pae
	pages := map[uint64][]byte{}
	for _, pfn := range []uint64{1, 0x9e, 0x100, 0x101, 0x3ff} {
		pages[pfn] = stamp(pfn)
	}
	// A whole page of content: the page after it is stored next to it.
	full := bytes.Repeat([]byte{0xa5}, dumpwriter.PageSize)
	pages[0x200] = full
	if high {
		pages[0x10002f] = stamp(0x10002f)
	}
	return &dumpwriter.MemoryDump{
		Header: dumpwriter.Header{
			Arch: arch, Build: 19041, Processors: 8, BugCheck: 0x50,
			Params:              [4]uint64{base + 0x10, 0, base + 0x1234, 2},
			Time:                time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
			Uptime:              time.Hour,
			Context:             ctx,
			DirectoryTableBase:  0x1ad000,
			PsLoadedModuleList:  base + 0x2000,
			PsActiveProcessHead: base + 0x3000,
			KdDebuggerDataBlock: base + 0x4000,
		},
		PAE:      pae,
		Layout:   layout,
		DumpType: dt,
		Runs:     sampleRuns(high),
		Pages:    pages,
	}
}

func TestMemoryDumpRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		arch   cpuctx.Arch
		layout dumpwriter.Layout
		dt     kdump.DumpType
		pae    bool
		kind   physmem.Kind
		sig    string
		want   kdump.DumpType
	}{
		{"x64 full", cpuctx.ArchX64, dumpwriter.LayoutFull, 0, false, physmem.Full, "", kdump.DumpTypeFull},
		{"x64 bitmap full", cpuctx.ArchX64, dumpwriter.LayoutBitmap, 0, false, physmem.Bitmap, "FDMP", kdump.DumpTypeBitmapFull},
		{"x64 bitmap kernel", cpuctx.ArchX64, dumpwriter.LayoutBitmap, kdump.DumpTypeBitmapKernel, false, physmem.Bitmap, "SDMP", kdump.DumpTypeBitmapKernel},
		{"x64 automatic", cpuctx.ArchX64, dumpwriter.LayoutBitmap, kdump.DumpTypeAutomatic, false, physmem.Bitmap, "SDMP", kdump.DumpTypeAutomatic},
		{"arm64 bitmap kernel", cpuctx.ArchARM64, dumpwriter.LayoutBitmap, kdump.DumpTypeBitmapKernel, false, physmem.Bitmap, "SDMP", kdump.DumpTypeBitmapKernel},
		{"x86 full PAE", cpuctx.ArchX86, dumpwriter.LayoutFull, 0, true, physmem.Full, "", kdump.DumpTypeFull},
		{"x86 full", cpuctx.ArchX86, dumpwriter.LayoutFull, 0, false, physmem.Full, "", kdump.DumpTypeFull},
		{"x86 bitmap PAE", cpuctx.ArchX86, dumpwriter.LayoutBitmap, 0, true, physmem.Bitmap, "FDMP", kdump.DumpTypeBitmapFull},
		{"x86 bitmap", cpuctx.ArchX86, dumpwriter.LayoutBitmap, kdump.DumpTypeBitmapKernel, false, physmem.Bitmap, "SDMP", kdump.DumpTypeBitmapKernel},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := sampleMemory(c.arch, c.layout, c.dt, c.pae)
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			f, err := kdump.NewFile(bytes.NewReader(b), int64(len(b)), "mem.dmp")
			if err != nil {
				t.Fatal(err)
			}
			checkMemoryDump(t, f, d, c.kind, c.sig, c.want)
		})
	}
}

func checkMemoryDump(t *testing.T, f *kdump.File, d *dumpwriter.MemoryDump, kind physmem.Kind, sig string, dt kdump.DumpType) {
	t.Helper()
	h := f.Header
	is64 := d.Arch != cpuctx.ArchX86
	if h.Is64 != is64 || f.Arch != d.Arch || h.DumpType != dt || h.BugCheckCode != 0x50 || h.MinorVersion != 19041 ||
		h.NumberProcessors != 8 || h.DirectoryTableBase != 0x1ad000 || h.PsLoadedModuleList != d.PsLoadedModuleList ||
		h.PsActiveProcessHead != d.PsActiveProcessHead || h.KdDebuggerDataBlock != d.KdDebuggerDataBlock ||
		h.BugCheckParameters != d.Params || !h.SystemTime.Equal(d.Time) || h.SystemUpTime != time.Hour {
		t.Errorf("header = %+v", h)
	}
	if !is64 && h.PaeEnabled != d.PAE {
		t.Errorf("PaeEnabled = %v, want %v", h.PaeEnabled, d.PAE)
	}
	if c, err := f.Context(); err != nil || c.PC() != d.Params[2] {
		t.Errorf("context pc = %#x, %v", c.PC(), err)
	}
	if f.Triage != nil || len(f.Warnings) != 0 {
		t.Errorf("triage %v warnings %q", f.Triage, f.Warnings)
	}
	m := f.Physical()
	if m == nil {
		t.Fatal("no physical memory")
	}
	if m.Kind != kind || m.Signature != sig {
		t.Errorf("kind %v signature %q, want %v %q", m.Kind, m.Signature, kind, sig)
	}
	var total uint64
	for _, r := range d.Runs {
		total += r.PageCount
	}
	if m.PageCount() != total || m.ClaimedPages() != total {
		t.Errorf("pages %d claimed %d, want %d", m.PageCount(), m.ClaimedPages(), total)
	}
	var got []kdump.PhysicalMemoryRun
	for r := range m.Pages() {
		got = append(got, kdump.PhysicalMemoryRun{BasePage: r.PFN, PageCount: r.Count})
	}
	if !slices.Equal(got, d.Runs) {
		t.Errorf("Pages() = %x, want %x", got, d.Runs)
	}
	// Every page with contents reads back, at a page offset too.
	for pfn, want := range d.Pages {
		buf := make([]byte, len(want))
		if n, err := m.ReadAt(buf, int64(pfn*physmem.PageSize)); n != len(want) || err != nil || !bytes.Equal(buf, want) {
			t.Errorf("page %#x = %x (%d, %v)", pfn, buf[:min(len(buf), 16)], n, err)
		}
		b := make([]byte, 8)
		if _, err := m.ReadAt(b, int64(pfn*physmem.PageSize+8)); err != nil || string(b) != string(want[8:16]) {
			t.Errorf("page %#x+8 = %q, %v", pfn, b, err)
		}
	}
	// Across a page boundary: the end of page 0x100 and the start of 0x101.
	buf := make([]byte, 0x20)
	pa := int64(0x101000 - 0x10)
	if n, err := m.ReadAt(buf, pa); n != 0x20 || err != nil || !bytes.Equal(buf[0x10:], stamp(0x101)[:0x10]) {
		t.Errorf("read across 0x101000 = %x, %d, %v", buf, n, err)
	}
	// A captured page without contents is zeros.
	if n, err := m.ReadAt(buf, 0x150000); n != 0x20 || err != nil || !bytes.Equal(buf, make([]byte, 0x20)) {
		t.Errorf("zero page = %x, %d, %v", buf, n, err)
	}
	// A large read that spans the full page and several others.
	big := make([]byte, 3*physmem.PageSize)
	if n, err := m.ReadAt(big, 0x1ff800); n != len(big) || err != nil || big[0x800] != 0xa5 || big[0x17ff] != 0xa5 || big[0x1800] != 0 {
		t.Errorf("large read: %d, %v", n, err)
	}
	// Pages that are not in the dump, and a read running into one.
	for _, pa := range []uint64{0, 0xfff, 0x9f000, 0x400000, 0x100000000, 1 << 50} {
		_, err := m.ReadAt(buf[:8], int64(pa))
		var nd *physmem.NotInDumpError
		if !errors.As(err, &nd) || nd.PA != pa {
			t.Errorf("read at %#x: %v, want NotInDumpError", pa, err)
		}
	}
	n, err := m.ReadAt(buf, 0x3ff000+0xff0)
	var nd *physmem.NotInDumpError
	if n != 0x10 || !errors.As(err, &nd) || nd.PA != 0x400000 {
		t.Errorf("read into a missing page: %d, %v", n, err)
	}
}

// TestMemoryDumpOpen writes a sparse bitmap dump to disk and opens it the
// way the tools do, through the memory map.
func TestMemoryDumpOpen(t *testing.T) {
	for _, layout := range []dumpwriter.Layout{dumpwriter.LayoutBitmap, dumpwriter.LayoutFull} {
		d := sampleMemory(cpuctx.ArchX64, layout, 0, false)
		path := filepath.Join(t.TempDir(), "MEMORY.DMP")
		fh, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		size, err := d.WriteSparse(fh)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := d.Size(); size != want {
			t.Errorf("WriteSparse = %d bytes, Size %d", size, want)
		}
		// The sparse file is the streamed file, byte for byte.
		streamed, _ := d.Bytes()
		if onDisk, _ := os.ReadFile(path); !bytes.Equal(onDisk, streamed) {
			t.Errorf("sparse file (%d bytes) differs from the stream (%d bytes)", len(onDisk), len(streamed))
		}
		f, err := kdump.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		want := map[dumpwriter.Layout]physmem.Kind{dumpwriter.LayoutBitmap: physmem.Bitmap, dumpwriter.LayoutFull: physmem.Full}[layout]
		checkMemoryDump(t, f, d, want, map[physmem.Kind]string{physmem.Bitmap: "FDMP"}[want], map[physmem.Kind]kdump.DumpType{physmem.Bitmap: kdump.DumpTypeBitmapFull, physmem.Full: kdump.DumpTypeFull}[want])
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Physical().ReadAt(make([]byte, 8), 0x100000); err == nil {
			t.Error("read after Close succeeded")
		}
	}
}

func TestTriageHasNoPhysicalMemory(t *testing.T) {
	b, _ := sampleTriage(cpuctx.ArchX64).Bytes()
	f, err := kdump.NewFile(bytes.NewReader(b), int64(len(b)), "t.dmp")
	if err != nil || f.Physical() != nil {
		t.Fatalf("Physical() = %v, %v", f.Physical(), err)
	}
}

// TestPhysicalHostile corrupts generated memory dumps: structural damage is
// a FormatError naming the offset of the bad field.
func TestPhysicalHostile(t *testing.T) {
	bitmap, err := sampleMemory(cpuctx.ArchX64, dumpwriter.LayoutBitmap, 0, false).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	full, _ := sampleMemory(cpuctx.ArchX64, dumpwriter.LayoutFull, 0, false).Bytes()
	full32, _ := sampleMemory(cpuctx.ArchX86, dumpwriter.LayoutFull, 0, true).Bytes()
	p64 := func(src []byte, off int, v uint64) []byte {
		b := bytes.Clone(src)
		binary.LittleEndian.PutUint64(b[off:], v)
		return b
	}
	p32 := func(src []byte, off int, v uint32) []byte {
		b := bytes.Clone(src)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	const blk = 0x2000
	run := func(i int) int { return 0x88 + 16 + 16*i } // 64-bit PHYSICAL_MEMORY_RUN i
	cases := []struct {
		name    string
		data    []byte
		wantOff int64
		wantMsg string
	}{
		{"block cut", bitmap[:blk+0x10], blk, "file ends inside the bitmap dump block"},
		{"header only", bitmap[:blk], blk, "file ends inside the bitmap dump block"},
		{"bad signature", p32(bitmap, blk, 0x58585858), blk, `signature "XXXX"`},
		{"bad valid marker", p32(bitmap, blk+4, 0), blk + 4, "ValidDump"},
		{"bitmap larger than the file", p64(bitmap, blk+0x30, 1<<40), blk + 0x30, "runs past the end of the file"},
		{"bitmap of 2^64-1 bits", p64(bitmap, blk+0x30, 1<<64-1), blk + 0x30, "runs past the end of the file"},
		{"first page past EOF", p64(bitmap, blk+0x20, uint64(len(bitmap))+1), blk + 0x20, "past the end of the file"},
		{"first page offset 2^64-1", p64(bitmap, blk+0x20, 1<<64-1), blk + 0x20, "past the end of the file"},
		{"first page inside the bitmap", p64(bitmap, blk+0x20, blk+0x100), blk + 0x20, "inside the bitmap"},
		{"descriptor unwritten", p32(full, 0x88, 0x45474150), 0x88, "physical memory descriptor"},
		{"descriptor with too many runs", p32(full, 0x88, 1000), 0x88, "physical memory descriptor"},
		{"run past 2^64", p64(full, run(1), 0xfffffffffffff000), int64(run(1)), "past the 64-bit physical address space"},
		{"run count past 2^64", p64(full, run(0)+8, 1<<63), int64(run(0)), "past the 64-bit physical address space"},
		{"overlapping runs", p64(full, run(1), 0x50), int64(run(1)), "overlap"},
		{"overlapping runs 32-bit", p32(full32, 0x64+8+8*1, 0x50), 0x64 + 8 + 8, "overlap"},
		{"bitmap type without block", p32(full, 0xf98, uint32(kdump.DumpTypeBitmapKernel)), blk, "signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := kdump.NewFile(bytes.NewReader(c.data), int64(len(c.data)), "bad.dmp")
			var fe *kdump.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FormatError", err)
			}
			if fe.File != "bad.dmp" || fe.Offset != c.wantOff || !strings.Contains(fe.Msg, c.wantMsg) {
				t.Errorf("err = %v (offset %#x), want offset %#x and %q", err, fe.Offset, c.wantOff, c.wantMsg)
			}
		})
	}
}

// TestPhysicalWarnings covers damage that does not stop reading: a
// truncated file, counts that disagree, unknown bodies.
func TestPhysicalWarnings(t *testing.T) {
	bitmap, _ := sampleMemory(cpuctx.ArchX64, dumpwriter.LayoutBitmap, 0, false).Bytes()
	full, _ := sampleMemory(cpuctx.ArchX64, dumpwriter.LayoutFull, 0, false).Bytes()
	bitmapFirst := int(binary.LittleEndian.Uint64(bitmap[0x2020:]))
	noPAE := sampleMemory(cpuctx.ArchX86, dumpwriter.LayoutFull, 0, false)
	noPAE.Runs = sampleRuns(true)
	noPAEBytes, err := noPAE.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	automatic := sampleMemory(cpuctx.ArchX64, dumpwriter.LayoutFull, kdump.DumpTypeAutomatic, false)
	automaticBytes, _ := automatic.Bytes()
	// An automatic dump whose bitmap block claims more bits than the file
	// holds: the header is still read.
	autoBitmap, _ := sampleMemory(cpuctx.ArchX64, dumpwriter.LayoutBitmap, kdump.DumpTypeAutomatic, false).Bytes()
	patch := func(src []byte, off int, v uint64) []byte {
		b := bytes.Clone(src)
		binary.LittleEndian.PutUint64(b[off:], v)
		return b
	}
	cases := []struct {
		name     string
		data     []byte
		warning  string
		pages    uint64 // readable pages; 0 for no physical memory
		truncPFN uint64 // a page past the end of the file, or 0
	}{
		// 0x9e pages of the first run and 0x62 of the second: the
		// 0x100th stored page is PFN 0x100+0x62.
		{"bitmap truncated", bitmap[:bitmapFirst+0x100*physmem.PageSize+0x800], "truncated", 0x100, 0x162},
		{"full truncated", full[:0x2000+0x100*physmem.PageSize+1], "truncated", 0x100, 0x162},
		{"full header only", full[:0x2000], "truncated", 0, 1},
		{"bitmap page count", patch(bitmap, 0x2028, 7), "counts 7 pages but its bitmap has 958 bits set", 0x3be, 0},
		{"descriptor page count", patch(full, 0x88+8, 9), "counts 9 pages but its runs hold 958", 0x3be, 0},
		{"32-bit without PAE above 4 GiB", noPAEBytes, "without PAE", 0x3be, 0},
		{"automatic dump with another body", automaticBytes, "not read yet", 0, 0},
		{"automatic dump with a bad bitmap", patch(autoBitmap, 0x2030, 1<<40), "w.dmp: offset 0x2030: bitmap of 0x10000000000 bits", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := kdump.NewFile(bytes.NewReader(c.data), int64(len(c.data)), "w.dmp")
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], c.warning) {
				t.Errorf("warnings = %q, want %q", f.Warnings, c.warning)
			}
			m := f.Physical()
			if m == nil {
				if c.pages != 0 || c.truncPFN != 0 {
					t.Fatal("no physical memory")
				}
				return
			}
			var n uint64
			for r := range m.Pages() {
				n += r.Count
			}
			if m.PageCount() != c.pages || n != c.pages {
				t.Errorf("PageCount %d, Pages() %d, want %d", m.PageCount(), n, c.pages)
			}
			if c.truncPFN == 0 {
				return
			}
			pa := c.truncPFN*physmem.PageSize + 8
			_, err = m.ReadAt(make([]byte, 8), int64(pa))
			var te *physmem.TruncatedError
			if !errors.As(err, &te) || te.PA != pa || te.Size != int64(len(c.data)) || te.Offset+physmem.PageSize <= te.Size {
				t.Errorf("read of a page past the end: %v", err)
			}
			// The page before it still reads, and a read running into
			// the missing page stops at its start.
			buf := make([]byte, 0x10)
			if c.pages > 0 {
				got, err := m.ReadAt(buf, int64(c.truncPFN*physmem.PageSize-8))
				if got != 8 || !errors.As(err, &te) || te.PA != c.truncPFN*physmem.PageSize {
					t.Errorf("read into the missing page: %d, %v", got, err)
				}
			}
		})
	}
}

// TestMemoryDumpTruncatedEverywhere cuts memory dumps at many lengths: every
// cut gives a FormatError or a dump whose reads fail with typed errors.
func TestMemoryDumpTruncatedEverywhere(t *testing.T) {
	for _, layout := range []dumpwriter.Layout{dumpwriter.LayoutBitmap, dumpwriter.LayoutFull} {
		for _, arch := range []cpuctx.Arch{cpuctx.ArchX64, cpuctx.ArchX86} {
			good, _ := sampleMemory(arch, layout, 0, true).Bytes()
			for n := 0; n < len(good); n += 0x7ff3 {
				b := good[:n]
				f, err := kdump.NewFile(bytes.NewReader(b), int64(n), "cut.dmp")
				var fe *kdump.FormatError
				if err != nil {
					if !errors.As(err, &fe) {
						t.Fatalf("cut at %#x: %v is not a FormatError", n, err)
					}
					continue
				}
				readAll(t, f.Physical())
			}
		}
	}
}

// readAll reads every page the dump lists and one past each range; reads
// must succeed or fail with the typed errors.
func readAll(t *testing.T, m *physmem.Memory) {
	if m == nil {
		return
	}
	buf := make([]byte, 16)
	for r := range m.Pages() {
		for _, pfn := range []uint64{r.PFN, r.PFN + r.Count - 1, r.PFN + r.Count} {
			_, err := m.ReadAt(buf, int64(pfn*physmem.PageSize+physmem.PageSize-8))
			var nd *physmem.NotInDumpError
			var te *physmem.TruncatedError
			if err != nil && !errors.As(err, &nd) && !errors.As(err, &te) {
				t.Fatalf("read at page %#x: %v", pfn, err)
			}
		}
	}
}

package dumpwriter

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/kdump"
)

// PageSize is the size of a physical page.
const PageSize = 0x1000

// Layout selects how a memory dump stores its physical pages.
type Layout int

// Layouts of memory dumps.
const (
	// LayoutFull stores every page of the header's physical memory runs,
	// in the order of the runs (DumpType 1, complete memory dump).
	LayoutFull Layout = iota + 1
	// LayoutBitmap stores the pages whose bits are set in a bitmap, in PFN
	// order (DumpType 5 "FDMP" or 6 "SDMP").
	LayoutBitmap
)

// MemoryDump describes a complete (full) or bitmap kernel memory dump: the
// header fields of a crash and the physical pages it captured. Pages are
// given sparsely; every captured page without content is written as zeros,
// so a description of a 32 GB machine stays small.
type MemoryDump struct {
	Header
	PAE bool // 32-bit dumps: the PaeEnabled flag

	Layout   Layout
	DumpType kdump.DumpType // default DumpTypeFull or DumpTypeBitmapFull by Layout; bitmaps may use DumpTypeBitmapKernel

	// Runs are the physical pages captured: a full dump stores them in
	// this order; a bitmap dump marks them present. Nil means the pages of
	// Pages, merged into runs.
	Runs []kdump.PhysicalMemoryRun
	// BitmapSize is the number of bits of a bitmap dump's bitmap; 0 means
	// one past the highest captured page.
	BitmapSize uint64
	// Pages holds page contents by page frame number (at most PageSize
	// bytes each; the rest of the page is zero).
	Pages map[uint64][]byte
	// PageFunc, when set, gives the contents of captured pages not in
	// Pages; a nil result is a zero page.
	PageFunc func(pfn uint64) []byte
}

// memPlan is a checked memory dump layout.
type memPlan struct {
	d       *MemoryDump
	is64    bool
	machine uint32
	runs    []kdump.PhysicalMemoryRun // in file order
	index   []uint64                  // file index of each run's first page
	sorted  []int                     // run numbers by BasePage
	total   uint64                    // pages stored
	nbits   uint64
	first   int64 // file offset of the first page
	size    int64
}

func machineOf(a cpuctx.Arch) (uint32, error) {
	switch a {
	case cpuctx.ArchX64:
		return kdump.MachineAMD64, nil
	case cpuctx.ArchARM64:
		return kdump.MachineARM64, nil
	case cpuctx.ArchX86:
		return kdump.MachineI386, nil
	}
	return 0, errors.New("dumpwriter: unknown architecture")
}

func (d *MemoryDump) plan() (*memPlan, error) {
	machine, err := machineOf(d.Arch)
	if err != nil {
		return nil, err
	}
	p := &memPlan{d: d, is64: d.Arch != cpuctx.ArchX86, machine: machine}
	if d.Layout != LayoutFull && d.Layout != LayoutBitmap {
		return nil, errors.New("dumpwriter: memory dump without a layout")
	}
	runs := d.Runs
	if runs == nil {
		runs = mergePages(slices.Sorted(maps.Keys(d.Pages)))
	}
	const maxPFN = 1 << 52
	for _, r := range runs {
		switch {
		case r.PageCount == 0:
			continue
		case r.BasePage >= maxPFN || r.PageCount > maxPFN-r.BasePage:
			return nil, fmt.Errorf("dumpwriter: run %#x+%#x runs past the physical address space", r.BasePage, r.PageCount)
		case !p.is64 && r.BasePage+r.PageCount > 1<<32:
			return nil, fmt.Errorf("dumpwriter: run %#x+%#x does not fit a 32-bit dump", r.BasePage, r.PageCount)
		}
		p.runs = append(p.runs, r)
	}
	if d.Layout == LayoutBitmap {
		// A bitmap stores pages in PFN order whatever order the runs came in.
		slices.SortFunc(p.runs, func(a, b kdump.PhysicalMemoryRun) int { return cmp.Compare(a.BasePage, b.BasePage) })
	}
	p.sorted = make([]int, len(p.runs))
	for i := range p.sorted {
		p.sorted[i] = i
	}
	slices.SortFunc(p.sorted, func(a, b int) int { return cmp.Compare(p.runs[a].BasePage, p.runs[b].BasePage) })
	for i := 1; i < len(p.sorted); i++ {
		a, b := p.runs[p.sorted[i-1]], p.runs[p.sorted[i]]
		if a.BasePage+a.PageCount > b.BasePage {
			return nil, fmt.Errorf("dumpwriter: runs at pages %#x and %#x overlap", a.BasePage, b.BasePage)
		}
	}
	p.index = make([]uint64, len(p.runs))
	for i, r := range p.runs {
		p.index[i] = p.total
		p.total += r.PageCount
	}
	for pfn := range d.Pages {
		if _, ok := p.offset(pfn); !ok {
			return nil, fmt.Errorf("dumpwriter: page %#x has contents but is in no run", pfn)
		}
		if len(d.Pages[pfn]) > PageSize {
			return nil, fmt.Errorf("dumpwriter: page %#x has %d bytes", pfn, len(d.Pages[pfn]))
		}
	}
	hdr := int64(kdump.HeaderSize64)
	if !p.is64 {
		hdr = kdump.HeaderSize32
	}
	switch d.Layout {
	case LayoutFull:
		max := (700 - 16) / 16
		if !p.is64 {
			max = (700 - 8) / 8
		}
		if len(p.runs) > max {
			return nil, fmt.Errorf("dumpwriter: %d runs do not fit the header's physical memory descriptor (at most %d)", len(p.runs), max)
		}
		p.first = hdr
	case LayoutBitmap:
		if n := len(p.runs); n > 0 {
			p.nbits = p.runs[n-1].BasePage + p.runs[n-1].PageCount
		}
		if d.BitmapSize != 0 {
			if d.BitmapSize < p.nbits {
				return nil, fmt.Errorf("dumpwriter: bitmap of %d bits cannot hold page %#x", d.BitmapSize, p.nbits-1)
			}
			p.nbits = d.BitmapSize
		}
		end := hdr + 0x38 + int64((p.nbits+7)/8)
		p.first = (end + PageSize - 1) &^ (PageSize - 1)
	}
	if p.total > uint64(1<<63-1-p.first)/PageSize {
		return nil, errors.New("dumpwriter: the dump would be larger than 2^63 bytes")
	}
	p.size = p.first + int64(p.total)*PageSize
	return p, nil
}

// mergePages turns sorted page numbers into runs.
func mergePages(pfns []uint64) []kdump.PhysicalMemoryRun {
	var runs []kdump.PhysicalMemoryRun
	for _, pfn := range pfns {
		if n := len(runs); n > 0 && runs[n-1].BasePage+runs[n-1].PageCount == pfn {
			runs[n-1].PageCount++
			continue
		}
		runs = append(runs, kdump.PhysicalMemoryRun{BasePage: pfn, PageCount: 1})
	}
	return runs
}

// offset returns the file offset of page pfn.
func (p *memPlan) offset(pfn uint64) (int64, bool) {
	i, found := slices.BinarySearchFunc(p.sorted, pfn, func(r int, pfn uint64) int {
		switch run := p.runs[r]; {
		case pfn < run.BasePage:
			return 1
		case pfn >= run.BasePage+run.PageCount:
			return -1
		}
		return 0
	})
	if !found {
		return 0, false
	}
	r := p.sorted[i]
	return p.first + int64(p.index[r]+pfn-p.runs[r].BasePage)*PageSize, true
}

// head returns the bytes before the first page: the header and, for bitmap
// dumps, the bitmap block padded to a page boundary.
func (p *memPlan) head() []byte {
	d := p.d
	hdrSize := kdump.HeaderSize64
	if !p.is64 {
		hdrSize = kdump.HeaderSize32
	}
	w := &buf{b: make([]byte, p.first)}
	for i := 0; i+4 <= hdrSize; i += 4 {
		copy(w.b[i:], "PAGE")
	}
	dt := d.DumpType
	if dt == 0 {
		dt = kdump.DumpTypeFull
		if d.Layout == LayoutBitmap {
			dt = kdump.DumpTypeBitmapFull
		}
	}
	d.Header.write(w, headerExtra{machine: p.machine, pae: d.PAE, dumpType: dt, required: uint64(p.size), physMem: p.descriptor()})
	if d.Layout != LayoutBitmap {
		return w.b
	}
	at := hdrSize
	sig := "SDMP"
	if dt == kdump.DumpTypeBitmapFull {
		sig = "FDMP"
	}
	copy(w.b[at:], sig)
	copy(w.b[at+4:], "DUMP")
	w.u64(at+0x20, uint64(p.first))
	w.u64(at+0x28, p.total)
	w.u64(at+0x30, p.nbits)
	bm := w.b[at+0x38:]
	for _, r := range p.runs {
		for pfn := r.BasePage; pfn < r.BasePage+r.PageCount; pfn++ {
			bm[pfn/8] |= 1 << (pfn % 8)
		}
	}
	return w.b
}

// descriptor encodes the runs as the header's PHYSICAL_MEMORY_DESCRIPTOR,
// or returns nil (the filler stays) when they do not fit, as can happen in
// bitmap dumps.
func (p *memPlan) descriptor() []byte {
	w := &buf{b: make([]byte, 700)}
	hdr, size := 16, 16
	if !p.is64 {
		hdr, size = 8, 8
	}
	if hdr+size*len(p.runs) > len(w.b) {
		return nil
	}
	w.u32(0, uint32(len(p.runs)))
	if p.is64 {
		w.u32(4, 0)
		w.u64(8, p.total)
	} else {
		w.u32(4, uint32(p.total))
	}
	for i, r := range p.runs {
		o := hdr + i*size
		if p.is64 {
			w.u64(o, r.BasePage)
			w.u64(o+8, r.PageCount)
		} else {
			w.u32(o, uint32(r.BasePage))
			w.u32(o+4, uint32(r.PageCount))
		}
	}
	return w.b[:hdr+size*len(p.runs)]
}

// page returns the contents of a captured page, nil for a zero page.
func (d *MemoryDump) page(pfn uint64) []byte {
	if b, ok := d.Pages[pfn]; ok {
		return b
	}
	if d.PageFunc != nil {
		return d.PageFunc(pfn)
	}
	return nil
}

// Size returns the size of the dump file.
func (d *MemoryDump) Size() (int64, error) {
	p, err := d.plan()
	if err != nil {
		return 0, err
	}
	return p.size, nil
}

// WriteTo streams the dump to w: header, bitmap and every captured page,
// zero pages included. It implements io.WriterTo.
func (d *MemoryDump) WriteTo(w io.Writer) (int64, error) {
	p, err := d.plan()
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	cw.Write(p.head())
	zero := make([]byte, PageSize)
	for _, r := range p.runs {
		for pfn := r.BasePage; pfn < r.BasePage+r.PageCount && cw.err == nil; pfn++ {
			b := d.page(pfn)
			cw.Write(b)
			cw.Write(zero[len(b):])
		}
	}
	if cw.err == nil {
		cw.err = bw.Flush()
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(b []byte) (int, error) {
	if c.err != nil || len(b) == 0 {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
	return n, err
}

// Bytes returns the whole dump; for small dumps in tests.
func (d *MemoryDump) Bytes() ([]byte, error) {
	n, err := d.Size()
	if err != nil {
		return nil, err
	}
	if n > 1<<30 {
		return nil, fmt.Errorf("dumpwriter: a %d-byte dump is too large for Bytes; use WriteTo or WriteSparse", n)
	}
	b := &sliceWriter{b: make([]byte, 0, n)}
	if _, err := d.WriteTo(b); err != nil {
		return nil, err
	}
	return b.b, nil
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// SparseFile is a file that can be resized and written at offsets, such as
// an *os.File.
type SparseFile interface {
	io.WriterAt
	Truncate(size int64) error
}

// WriteSparse writes the dump to f without writing its zero pages: it
// empties f, sets its final size with Truncate, then writes the header, the
// bitmap and only the pages with contents. On file systems with sparse
// files the zero pages take no disk space, so a dump of a 32 GB machine is
// written in moments. It returns the size of the dump.
func (d *MemoryDump) WriteSparse(f SparseFile) (int64, error) {
	p, err := d.plan()
	if err != nil {
		return 0, err
	}
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	if err := f.Truncate(p.size); err != nil {
		return 0, err
	}
	if _, err := f.WriteAt(p.head(), 0); err != nil {
		return 0, err
	}
	put := func(pfn uint64, b []byte) error {
		if len(b) == 0 {
			return nil
		}
		off, _ := p.offset(pfn)
		_, err := f.WriteAt(b, off)
		return err
	}
	if d.PageFunc == nil {
		for _, pfn := range slices.Sorted(maps.Keys(d.Pages)) {
			if err := put(pfn, d.Pages[pfn]); err != nil {
				return 0, err
			}
		}
		return p.size, nil
	}
	for _, r := range p.runs {
		for pfn := r.BasePage; pfn < r.BasePage+r.PageCount; pfn++ {
			if err := put(pfn, d.page(pfn)); err != nil {
				return 0, err
			}
		}
	}
	return p.size, nil
}

// Package physmem reads the physical memory held by complete ("full") and
// bitmap Windows kernel crash dumps, as an io.ReaderAt over the physical
// address space: the offset of a read is a physical address.
//
// A full dump (DumpType 1) stores every page of the runs listed in the dump
// header's PHYSICAL_MEMORY_DESCRIPTOR, in the order of the runs, right after
// the header. A bitmap dump (DumpType 5, "FDMP"; DumpType 6, "SDMP"; also
// what automatic and active memory dumps write) follows the header with a
// block holding a bitmap of page frame numbers: the pages whose bits are set
// are stored in ascending order from the block's first-page offset.
//
// Windows does not document these layouts and no maintained Go reader
// exists; the field offsets are the ones open readers (volatility3,
// kdmp-parser) agree on. Page look-up is O(1) for bitmaps through a rank
// index (a count per 4096-bit superblock and one per 512-bit block: 96 KiB
// for the 2 MiB bitmap of a 64 GB machine), and O(log runs) for full dumps.
//
// Every count and offset in the file is hostile. Structural problems (a
// bitmap larger than the file, overlapping or overflowing runs) are
// *FormatError values from the constructors. Pages that the layout places
// past the end of the file (a truncated dump) are not an error at open: they
// are noted in Warnings and reading them gives a *TruncatedError. Reading a
// page the dump did not capture gives a *NotInDumpError.
package physmem

import (
	"fmt"
	"io"
	"iter"
	"math/bits"
	"sort"
)

// PageSize is the size of a physical page in every dump layout.
const PageSize = 0x1000

const (
	pageShift = 12
	// maxPFN bounds page frame numbers so that every physical address
	// fits in 64 bits.
	maxPFN = 1 << (64 - pageShift)
)

// Kind is the layout of the dump's physical memory.
type Kind uint8

// Layouts.
const (
	Full   Kind = 1 // runs from the header, pages in run order
	Bitmap Kind = 2 // bitmap of present pages, pages in PFN order
)

func (k Kind) String() string {
	switch k {
	case Full:
		return "full"
	case Bitmap:
		return "bitmap"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// NotInDumpError is returned when a read reaches a physical page that the
// dump did not capture.
type NotInDumpError struct {
	PA uint64 // the first physical address that is missing
}

func (e *NotInDumpError) Error() string {
	return fmt.Sprintf("physical address %#x is not in the dump", e.PA)
}

// TruncatedError is returned when a read reaches a page that the dump's
// layout places past the end of the file: the file was cut short.
type TruncatedError struct {
	PA     uint64 // the physical address being read
	Offset int64  // where its page would start in the file
	Size   int64  // the size of the file
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("physical address %#x: its page belongs at file offset %#x, past the end of the file (%#x bytes); the dump is truncated",
		e.PA, e.Offset, e.Size)
}

// FormatError reports a malformed physical memory layout.
type FormatError struct {
	Offset int64  // file offset of the bad field, or -1 when it is a run (see Run)
	Run    int    // index of the bad run in the header's list, or -1
	Msg    string // what is wrong
}

func (e *FormatError) Error() string {
	if e.Run >= 0 {
		return fmt.Sprintf("physical memory run %d: %s", e.Run, e.Msg)
	}
	return fmt.Sprintf("offset %#x: %s", e.Offset, e.Msg)
}

// Run is a run of physical pages, as a full dump's header lists them.
type Run struct {
	BasePage  uint64
	PageCount uint64
}

// Range is a range of present pages and where the first one is stored.
// The pages of a range are stored contiguously.
type Range struct {
	PFN    uint64 // first page frame number
	Count  uint64 // number of pages
	Offset int64  // file offset of the first page
}

// Memory is the physical memory of a dump. It implements io.ReaderAt over
// physical addresses and is safe for concurrent use.
type Memory struct {
	Kind      Kind
	Signature string   // "FDMP" or "SDMP" for bitmap dumps
	Warnings  []string // oddities that did not stop parsing

	r       io.ReaderAt
	size    int64
	first   int64  // file offset of the first stored page
	avail   uint64 // pages wholly inside the file
	claimed uint64 // pages the layout says are stored
	limit   uint64 // one past the highest PFN the layout covers

	runs []frun // full: sorted by BasePage

	words []uint64 // bitmap, bit n = PFN n
	nbits uint64
	super []uint64 // set bits before each 4096-bit superblock
	block []uint16 // set bits before each 512-bit block, within its superblock
}

// frun is a run of a full dump with the index of its first page in the file.
type frun struct {
	base, count, index uint64
}

func (m *Memory) warnf(format string, args ...any) {
	m.Warnings = append(m.Warnings, fmt.Sprintf(format, args...))
}

// NewFull describes a full dump of the given size read through r whose pages
// start at dataOffset and follow the runs in order.
func NewFull(r io.ReaderAt, size, dataOffset int64, runs []Run) (*Memory, error) {
	m := &Memory{Kind: Full, r: r, size: size, first: dataOffset}
	if dataOffset < 0 || dataOffset > size {
		return nil, &FormatError{Offset: dataOffset, Run: -1, Msg: fmt.Sprintf("page data would start at %#x, past the end of the file (%#x bytes)", dataOffset, size)}
	}
	var index uint64
	for i, run := range runs {
		if run.BasePage >= maxPFN || run.PageCount > maxPFN-run.BasePage {
			return nil, &FormatError{Offset: -1, Run: i, Msg: fmt.Sprintf("pages %#x+%#x run past the 64-bit physical address space", run.BasePage, run.PageCount)}
		}
		if run.PageCount == 0 {
			continue
		}
		m.runs = append(m.runs, frun{run.BasePage, run.PageCount, index})
		index += run.PageCount // runs that do not overlap hold under 2^52 pages in all; overlaps fail below
	}
	sort.SliceStable(m.runs, func(i, j int) bool { return m.runs[i].base < m.runs[j].base })
	for i := 1; i < len(m.runs); i++ {
		p, c := m.runs[i-1], m.runs[i]
		if p.base+p.count > c.base {
			return nil, &FormatError{Offset: -1, Run: runIndex(runs, c), Msg: fmt.Sprintf("pages %#x+%#x overlap the run at page %#x", c.base, c.count, p.base)}
		}
	}
	if n := len(m.runs); n > 0 {
		m.limit = m.runs[n-1].base + m.runs[n-1].count
	}
	m.claimed = index
	m.finish()
	return m, nil
}

// runIndex finds the position of a (non-empty) run in the header's list.
func runIndex(runs []Run, r frun) int {
	for i, x := range runs {
		if x.BasePage == r.base && x.PageCount == r.count {
			return i
		}
	}
	return -1
}

// Offsets inside the bitmap dump block that follows the header.
const (
	bmpSignature  = 0x00
	bmpValidDump  = 0x04
	bmpFirstPage  = 0x20 // file offset of the first stored page ("HeaderSize")
	bmpPages      = 0x28 // number of set bits
	bmpBitmapSize = 0x30 // number of bits
	bmpBitmap     = 0x38
	// BitmapHeaderSize is the size of the bitmap block before the bits.
	BitmapHeaderSize = bmpBitmap
)

// IsBitmapBlock reports whether b starts with the signature of a bitmap
// dump block ("SDMP" or "FDMP", then "DUMP").
func IsBitmapBlock(b []byte) bool {
	return len(b) >= 8 && (string(b[:4]) == "SDMP" || string(b[:4]) == "FDMP") && string(b[4:8]) == "DUMP"
}

// NewBitmap describes a bitmap dump of the given size read through r whose
// bitmap block starts at off (right after the dump header).
func NewBitmap(r io.ReaderAt, size, off int64) (*Memory, error) {
	m := &Memory{Kind: Bitmap, r: r, size: size}
	ferr := func(at int64, format string, args ...any) error {
		return &FormatError{Offset: off + at, Run: -1, Msg: fmt.Sprintf(format, args...)}
	}
	if off < 0 || off > size || size-off < bmpBitmap {
		return nil, ferr(0, "file ends inside the bitmap dump block (%#x bytes)", bmpBitmap)
	}
	hb := make([]byte, bmpBitmap)
	if _, err := r.ReadAt(hb, off); err != nil {
		return nil, fmt.Errorf("reading the bitmap dump block at %#x: %w", off, err)
	}
	sig := string(hb[:4])
	if sig != "SDMP" && sig != "FDMP" {
		return nil, ferr(bmpSignature, "bitmap dump block has signature %q, want \"SDMP\" or \"FDMP\"", printable(hb[:4]))
	}
	if string(hb[4:8]) != "DUMP" {
		return nil, ferr(bmpValidDump, "bitmap dump block has ValidDump %q, want \"DUMP\"", printable(hb[4:8]))
	}
	m.Signature = sig
	first, pages, nbits := le64(hb[bmpFirstPage:]), le64(hb[bmpPages:]), le64(hb[bmpBitmapSize:])
	nbytes := nbits/8 + min(nbits%8, 1)
	if nbytes > uint64(size-off-bmpBitmap) {
		return nil, ferr(bmpBitmapSize, "bitmap of %#x bits (%#x bytes) runs past the end of the file (%#x bytes)", nbits, nbytes, size)
	}
	end := off + bmpBitmap + int64(nbytes)
	switch {
	case first > uint64(size):
		return nil, ferr(bmpFirstPage, "first page offset %#x is past the end of the file (%#x bytes)", first, size)
	case first < uint64(end):
		return nil, ferr(bmpFirstPage, "first page offset %#x lies inside the bitmap, which ends at %#x", first, end)
	}
	m.first, m.nbits, m.limit = int64(first), nbits, nbits
	if err := m.loadBitmap(off + bmpBitmap); err != nil {
		return nil, err
	}
	if m.claimed != pages {
		m.warnf("the bitmap dump block counts %d pages but its bitmap has %d bits set; the bitmap is used", pages, m.claimed)
	}
	if nbits == 0 {
		m.warnf("the bitmap is empty: the dump holds no physical memory")
	}
	m.finish()
	return m, nil
}

// loadBitmap reads the bits and builds the rank index.
func (m *Memory) loadBitmap(at int64) error {
	nwords := (m.nbits + 63) / 64
	// Round up to whole superblocks so the index needs no bounds cases.
	m.words = make([]uint64, (nwords+63)/64*64)
	const chunk = 1 << 20 // a multiple of 8, so words never straddle chunks
	nbytes := (m.nbits + 7) / 8
	buf := make([]byte, min(chunk, nbytes))
	for done := uint64(0); done < nbytes; {
		n := min(uint64(len(buf)), nbytes-done)
		if _, err := m.r.ReadAt(buf[:n], at+int64(done)); err != nil && err != io.EOF {
			return fmt.Errorf("reading the bitmap at %#x: %w", at+int64(done), err)
		}
		b := buf[:n]
		w := done / 8
		for ; len(b) >= 8; b, w = b[8:], w+1 {
			m.words[w] = le64(b)
		}
		for i, c := range b {
			m.words[w] |= uint64(c) << (8 * i)
		}
		done += n
	}
	if r := m.nbits % 64; r != 0 {
		m.words[m.nbits/64] &= 1<<r - 1
	}
	m.super = make([]uint64, len(m.words)/64)
	m.block = make([]uint16, len(m.words)/8)
	var total uint64
	for s := range m.super {
		m.super[s] = total
		var in uint64
		for b := 0; b < 8; b++ {
			m.block[s*8+b] = uint16(in)
			for _, w := range m.words[s*64+b*8 : s*64+b*8+8] {
				in += uint64(bits.OnesCount64(w))
			}
		}
		total += in
	}
	m.claimed = total
	return nil
}

// finish computes how many pages the file really holds.
func (m *Memory) finish() {
	m.avail = uint64(m.size-m.first) / PageSize
	if m.claimed > m.avail {
		m.warnf("the dump's layout holds %d pages but the file has room for %d from offset %#x: the last %d pages are missing (truncated dump) and read as errors",
			m.claimed, m.avail, m.first, m.claimed-m.avail)
	}
}

// rank returns the number of set bits before bit i (i < len(words)*64).
func (m *Memory) rank(i uint64) uint64 {
	w := i / 64
	n := m.super[i/4096] + uint64(m.block[i/512])
	for _, x := range m.words[w&^7 : w] {
		n += uint64(bits.OnesCount64(x))
	}
	return n + uint64(bits.OnesCount64(m.words[w]&(1<<(i%64)-1)))
}

// index returns the position of page pfn among the stored pages.
func (m *Memory) index(pfn uint64) (uint64, bool) {
	if m.Kind == Bitmap {
		if pfn >= m.nbits || m.words[pfn/64]&(1<<(pfn%64)) == 0 {
			return 0, false
		}
		return m.rank(pfn), true
	}
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].base+m.runs[i].count > pfn })
	if i == len(m.runs) || m.runs[i].base > pfn {
		return 0, false
	}
	return m.runs[i].index + pfn - m.runs[i].base, true
}

// locate returns the file offset of physical address pa.
func (m *Memory) locate(pa uint64) (int64, error) {
	idx, ok := m.index(pa >> pageShift)
	if !ok {
		return 0, &NotInDumpError{PA: pa}
	}
	if idx >= m.avail {
		off := int64(1<<63 - 1) // saturated for absurd indexes
		if idx <= uint64(off-m.first)/PageSize {
			off = m.first + int64(idx)*PageSize
		}
		return 0, &TruncatedError{PA: pa, Offset: off, Size: m.size}
	}
	return m.first + int64(idx)*PageSize + int64(pa%PageSize), nil
}

// FileOffset returns where the byte at physical address pa is stored in the
// file, or a *NotInDumpError or *TruncatedError.
func (m *Memory) FileOffset(pa uint64) (int64, error) { return m.locate(pa) }

// Contains reports whether the page holding pa can be read.
func (m *Memory) Contains(pa uint64) bool {
	_, err := m.locate(pa)
	return err == nil
}

// ReadAt reads len(p) bytes from physical address pa. Reads may cross
// pages; a missing page ends the read with the bytes read before it and a
// *NotInDumpError or *TruncatedError naming the first address not read.
func (m *Memory) ReadAt(p []byte, pa int64) (int, error) {
	if pa < 0 {
		return 0, &NotInDumpError{PA: uint64(pa)}
	}
	n := 0
	for n < len(p) {
		a := uint64(pa) + uint64(n)
		off, err := m.locate(a)
		if err != nil {
			return n, err
		}
		// Extend the read over the following pages while they are stored
		// right after this one.
		span := PageSize - int(a%PageSize)
		for span < len(p)-n {
			next, err := m.locate(a + uint64(span))
			if err != nil || next != off+int64(span) {
				break
			}
			span += PageSize
		}
		k := min(span, len(p)-n)
		got, err := m.r.ReadAt(p[n:n+k], off)
		n += got
		if got < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("reading physical address %#x at file offset %#x: %w", a, off, err)
		}
	}
	return n, nil
}

// PageCount returns the number of pages that can be read.
func (m *Memory) PageCount() uint64 { return min(m.claimed, m.avail) }

// ClaimedPages returns the number of pages the layout says the dump holds,
// including any that a truncated file lacks.
func (m *Memory) ClaimedPages() uint64 { return m.claimed }

// Limit returns one past the highest physical address the layout covers:
// for a bitmap, the end of the bitmap's range; for a full dump, the end of
// the highest run.
func (m *Memory) Limit() uint64 {
	if m.limit >= maxPFN {
		return 1<<64 - 1
	}
	return m.limit * PageSize
}

// Pages iterates over the ranges of pages that can be read, in ascending
// physical order. Pages missing from a truncated file are left out.
func (m *Memory) Pages() iter.Seq[Range] {
	return func(yield func(Range) bool) {
		emit := func(pfn, count, idx uint64) bool {
			if idx >= m.avail {
				return true
			}
			count = min(count, m.avail-idx)
			return yield(Range{PFN: pfn, Count: count, Offset: m.first + int64(idx)*PageSize})
		}
		if m.Kind == Full {
			for _, r := range m.runs {
				if !emit(r.base, r.count, r.index) {
					return
				}
			}
			return
		}
		var idx uint64
		var start, count uint64
		for w, x := range m.words {
			if x == 0 {
				continue
			}
			for x != 0 {
				b := uint64(bits.TrailingZeros64(x))
				pfn := uint64(w)*64 + b
				ones := uint64(bits.TrailingZeros64(^(x >> b)))
				if count > 0 && start+count == pfn {
					count += ones
				} else {
					if count > 0 && !emit(start, count, idx) {
						return
					}
					idx += count
					start, count = pfn, ones
				}
				if b+ones >= 64 {
					break
				}
				x &^= (1<<ones - 1) << b
			}
		}
		if count > 0 {
			emit(start, count, idx)
		}
	}
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

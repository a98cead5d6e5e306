// Package ptbuild builds page tables of every paging mode the paging package
// reads in an in-memory physical memory image: 4 KiB and large mappings, and
// non-present entries of each Windows software PTE kind. Tests use it to make
// synthetic address spaces, and the dump writer to write full and bitmap
// dumps of a synthetic machine with real page tables.
package ptbuild

import (
	"encoding/binary"
	"fmt"

	"github.com/bugcheck/bugcheck/paging"
)

// Layout chooses how software PTEs are encoded.
type Layout struct {
	// Build is the Windows build; 0 means a recent one (PageFileLow in bits
	// 12..15, SwizzleBit used). Below 17134 PageFileLow is in bits 1..4.
	Build uint32
	// InvalidPTEMask, when not 0, is XORed into transition and page file
	// entries, which then have SwizzleBit clear, like Windows' L1TF
	// mitigation does. When 0 the SwizzleBit is set (entry not swizzled).
	InvalidPTEMask uint64
}

func (l Layout) modern() bool { return l.Build == 0 || l.Build >= 17134 }

// Builder writes page tables for one address space into a Memory. Table
// pages are taken from consecutive page frames starting at the frame given
// to New; the caller picks the physical pages that data maps to.
type Builder struct {
	mode   paging.Mode
	mem    *Memory
	root   uint64 // physical address of the root table
	next   uint64 // next free PFN for tables
	layout Layout
}

// New returns a Builder for mode that allocates its tables, root first, from
// page frame tablePFN upwards in mem. The x86 PAE root (the 4-entry PDPT) is
// placed 0x20 bytes into its page, as CR3 only needs 32-byte alignment.
func New(mode paging.Mode, mem *Memory, tablePFN uint64, layout Layout) (*Builder, error) {
	if mode.Levels() == 0 {
		return nil, fmt.Errorf("ptbuild: unknown paging mode %v", mode)
	}
	b := &Builder{mode: mode, mem: mem, next: tablePFN, layout: layout}
	b.root = b.alloc()
	if mode == paging.X86PAE {
		b.root += 0x20
	}
	return b, nil
}

// Mode returns the paging mode.
func (b *Builder) Mode() paging.Mode { return b.mode }

// Memory returns the memory image.
func (b *Builder) Memory() *Memory { return b.mem }

// Root returns the value for the root register (CR3, DTB, TTBR1).
func (b *Builder) Root() uint64 { return b.root }

// NextPFN returns the first page frame the builder has not used for tables.
func (b *Builder) NextPFN() uint64 { return b.next }

func (b *Builder) alloc() uint64 {
	pfn := b.next
	b.next++
	b.mem.AddPage(pfn)
	return pfn << 12
}

func (b *Builder) entrySize() uint64 { return uint64(b.mode.EntrySize()) }

func (b *Builder) arm() bool { return b.mode == paging.ARM64 || b.mode == paging.ARM64LPA2 }

// armOA places an output address in a descriptor; with LPA2 bits 51:50 go
// to descriptor bits 9:8.
func (b *Builder) armOA(pa uint64) uint64 {
	if b.mode == paging.ARM64LPA2 {
		return pa&0x0003_FFFF_FFFF_F000 | (pa>>50&3)<<8
	}
	return pa
}

func (b *Builder) read(addr uint64) uint64 {
	var buf [8]byte
	es := b.entrySize()
	if _, err := b.mem.ReadAt(buf[:es], int64(addr)); err != nil {
		return 0
	}
	if es == 4 {
		return uint64(binary.LittleEndian.Uint32(buf[:4]))
	}
	return binary.LittleEndian.Uint64(buf[:])
}

func (b *Builder) write(addr, v uint64) {
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], v)
	b.mem.WriteAt(buf[:b.entrySize()], int64(addr))
}

func (b *Builder) index(va uint64, level int) uint64 {
	shift, bits := b.mode.IndexShift(level)
	return va >> shift & (1<<bits - 1)
}

// tableFlags are the bits of an entry pointing at a lower table.
func (b *Builder) tableFlags() uint64 {
	switch b.mode {
	case paging.ARM64, paging.ARM64LPA2:
		return 0x3 // valid, table
	case paging.X86PAE:
		return 0x1 // PDPTEs take no other bits; lower tables get RW below
	}
	return 0x3 // present, writable
}

// EntryAddr returns the physical address of va's entry at table level (0 =
// root), creating the tables above it as needed. It fails when a large page
// or non-present entry above is in the way.
func (b *Builder) EntryAddr(va uint64, level int) (uint64, error) {
	if level < 0 || level >= b.mode.Levels() {
		return 0, fmt.Errorf("ptbuild: %v has no table level %d", b.mode, level)
	}
	table := b.root
	for l := 0; l < level; l++ {
		addr := table + b.index(va, l)*b.entrySize()
		e := b.read(addr)
		switch {
		case e == 0:
			next := b.alloc()
			flags := b.tableFlags()
			if b.mode == paging.X86PAE && l > 0 {
				flags = 0x3
			}
			if b.arm() {
				next = b.armOA(next)
			}
			b.write(addr, next|flags)
			table = b.tableAddr(next | flags)
		case e&1 == 0:
			return 0, fmt.Errorf("ptbuild: %v entry %#x at level %d for %#x is not present", b.mode, e, l, va)
		case b.isLeaf(e, l):
			return 0, fmt.Errorf("ptbuild: a large page at level %d maps %#x", l, va)
		default:
			table = b.tableAddr(e)
		}
	}
	return table + b.index(va, level)*b.entrySize(), nil
}

func (b *Builder) isLeaf(e uint64, level int) bool {
	if b.mode.LargePageSize(level) == 0 {
		return false
	}
	if b.arm() {
		return e&3 == 1
	}
	return e&0x80 != 0
}

func (b *Builder) tableAddr(e uint64) uint64 {
	switch b.mode {
	case paging.X86:
		return e & 0xFFFF_F000
	case paging.ARM64:
		return e & 0x0000_FFFF_FFFF_F000
	case paging.ARM64LPA2:
		return e&0x0003_FFFF_FFFF_F000 | (e>>8&3)<<50
	}
	return e & 0x000F_FFFF_FFFF_F000
}

// SetEntry writes a raw entry value at va's table level, creating the
// tables above. Use it for hostile tables (loops, reserved bits) and for
// entries the helpers do not make.
func (b *Builder) SetEntry(va uint64, level int, value uint64) error {
	addr, err := b.EntryAddr(va, level)
	if err != nil {
		return err
	}
	b.write(addr, value)
	return nil
}

// TableAddr returns the physical address of the table at level that va's
// walk uses, creating the tables as needed.
func (b *Builder) TableAddr(va uint64, level int) (uint64, error) {
	addr, err := b.EntryAddr(va, level)
	if err != nil {
		return 0, err
	}
	if level == 0 {
		return b.root, nil
	}
	return addr &^ 0xFFF, nil
}

// Map maps the page of size bytes at va to physical address pa: 4 KiB, or a
// large page the mode supports (x64: 2 MiB, 1 GiB; PAE: 2 MiB; x86: 4 MiB;
// ARM64: 2 MiB, 1 GiB blocks, and 512 GiB with LPA2). The page is present, writable and
// kernel-only; it does not create the data page in memory.
func (b *Builder) Map(va, pa, size uint64) error { return b.MapFlags(va, pa, size, 0) }

// MapFlags is Map with extra bits ORed into the leaf entry (e.g. 0x4 for a
// user page or 1<<63 for no-execute on x64).
func (b *Builder) MapFlags(va, pa, size, flags uint64) error {
	last := b.mode.Levels() - 1
	level := -1
	for l := 0; l <= last; l++ {
		if b.mode.LargePageSize(l) == size && (l == last || size != 4096) {
			level = l
			break
		}
	}
	if level < 0 {
		return fmt.Errorf("ptbuild: %v cannot map a %#x-byte page", b.mode, size)
	}
	if va%size != 0 || pa%size != 0 {
		return fmt.Errorf("ptbuild: %#x -> %#x is not aligned to %#x", va, pa, size)
	}
	var e uint64
	switch {
	case b.arm() && level == last:
		e = b.armOA(pa) | 0x3 | 1<<10 // page, AF
	case b.arm():
		e = b.armOA(pa) | 0x1 | 1<<10 // block, AF
	case b.mode == paging.X86 && level != last:
		e = pa&0xFFC0_0000 | (pa>>32&0xFF)<<13 | 0x63 | 0x80 // PSE-36
	default:
		e = pa | 0x63 // present, writable, accessed, dirty
		if level != last {
			e |= 0x80
		}
	}
	addr, err := b.EntryAddr(va, level)
	if err != nil {
		return err
	}
	if old := b.read(addr); level != last && old&1 != 0 && !b.isLeaf(old, level) {
		return fmt.Errorf("ptbuild: a page table already maps part of the %#x-byte page at %#x", size, va)
	}
	b.write(addr, e|flags)
	return nil
}

// Software PTE encoders. Each returns the value of a non-present entry in
// the builder's mode and layout.

func (b *Builder) swizzle(v uint64) uint64 {
	if b.mode == paging.X86 || !b.layout.modern() {
		return v
	}
	if b.layout.InvalidPTEMask != 0 {
		return v ^ b.layout.InvalidPTEMask
	}
	return v | 1<<4
}

// Transition returns a transition entry for physical page pfn.
func (b *Builder) Transition(pfn uint64, prot paging.Protection) uint64 {
	v := pfn<<12 | uint64(prot&0x1F)<<5 | 1<<11
	if b.mode == paging.X86 {
		return v & 0xFFFF_FFFF
	}
	return b.swizzle(v)
}

// Prototype returns an entry pointing at the prototype PTE at protoAddr.
func (b *Builder) Prototype(protoAddr uint64, prot paging.Protection) uint64 {
	p := uint64(prot&0x1F) << 5
	switch b.mode {
	case paging.X86:
		// Address bits 10..30 go to bits 11..31, bits 2..9 to bits 1..8.
		return (protoAddr&0x7FFF_FC00)<<1 | (protoAddr&0x3FC)>>1 | 1<<10
	case paging.X86PAE:
		return protoAddr<<32 | 1<<10 | p
	}
	return (protoAddr&0xFFFF_FFFF_FFFF)<<16 | 1<<10 | p
}

// PrototypeVAD returns a prototype entry that defers to the VAD
// (MI_PTE_LOOKUP_NEEDED).
func (b *Builder) PrototypeVAD(prot paging.Protection) uint64 {
	p := uint64(prot&0x1F) << 5
	switch b.mode {
	case paging.X86:
		return 0xFFFF_F000 | 1<<10
	case paging.X86PAE:
		return 0xFFFF_FFFF<<32 | 1<<10 | p
	}
	return 0xFFFF_FFFF_0000<<16 | 1<<10 | p
}

// PageFile returns an entry for a page in page file file (0..15) at byte
// offset off (a multiple of 4096).
func (b *Builder) PageFile(file uint8, off uint64, prot paging.Protection) uint64 {
	p := uint64(prot&0x1F) << 5
	if b.mode == paging.X86 {
		return (off>>12&0xF_FFFF)<<12 | uint64(file&0xF)<<1 | p
	}
	v := (off>>12)<<32 | p
	if b.layout.modern() {
		v |= uint64(file&0xF) << 12
	} else {
		v |= uint64(file&0xF) << 1
	}
	return b.swizzle(v)
}

// DemandZero returns a committed, never touched entry with protection prot;
// with prot ProtDecommit or ProtNoAccess it is a decommitted or no-access
// page instead.
func (b *Builder) DemandZero(prot paging.Protection) uint64 {
	v := uint64(prot&0x1F) << 5
	if b.mode == paging.X86 || !b.layout.modern() {
		return v
	}
	return v | 1<<4
}

// SetPTE writes a last-level entry for va (any of the encoders' values).
func (b *Builder) SetPTE(va, value uint64) error {
	return b.SetEntry(va, b.mode.Levels()-1, value)
}

package paging

import "fmt"

// Mode is a CPU paging mode.
type Mode int

// Paging modes.
const (
	X64       Mode = iota + 1 // x64, 4-level paging (48-bit virtual addresses)
	X64LA57                   // x64, 5-level paging (57-bit virtual addresses)
	X86PAE                    // x86 with PAE: 3 levels, 64-bit entries
	X86                       // x86 without PAE: 2 levels, 32-bit entries
	ARM64                     // ARM64, 4 KiB granule, 48-bit virtual addresses
	ARM64LPA2                 // ARM64, 4 KiB granule, 52-bit virtual and physical addresses (FEAT_LPA2, TCR_EL1.DS=1)
)

var modeNames = map[Mode]string{
	X64:       "x64",
	X64LA57:   "x64-la57",
	X86PAE:    "x86-pae",
	X86:       "x86",
	ARM64:     "arm64",
	ARM64LPA2: "arm64-lpa2",
}

func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Levels returns the number of table levels a walk in mode m visits at most,
// or 0 for an unknown mode.
func (m Mode) Levels() int {
	if g := geometryOf(m); g != nil {
		return len(g.levels)
	}
	return 0
}

// EntrySize returns the size in bytes of one page table entry in mode m.
func (m Mode) EntrySize() int {
	if g := geometryOf(m); g != nil {
		return g.entrySize
	}
	return 0
}

// IndexShift returns, for table level (0 = root), the bit position of the
// lowest virtual address bit that indexes it, and the number of index bits.
func (m Mode) IndexShift(level int) (shift, bits uint) {
	g := geometryOf(m)
	if g == nil || level < 0 || level >= len(g.levels) {
		return 0, 0
	}
	return g.levels[level].shift, g.levels[level].bits
}

// LevelName returns the name of the entries of table level (0 = root) as
// WinDbg prints them, e.g. "PXE", "PPE", "PDE", "PTE" for x64.
func (m Mode) LevelName(level int) string {
	g := geometryOf(m)
	if g == nil || level < 0 || level >= len(g.levels) {
		return ""
	}
	return g.levels[level].name
}

// LargePageSize returns the size of the page an entry of table level maps
// when it is a leaf (large page or block), or 0 if the level cannot map one.
// The last level always maps 4 KiB pages.
func (m Mode) LargePageSize(level int) uint64 {
	g := geometryOf(m)
	if g == nil || level < 0 || level >= len(g.levels) {
		return 0
	}
	if level == len(g.levels)-1 {
		return 4096
	}
	if g.levels[level].large {
		return 1 << g.levels[level].shift
	}
	return 0
}

// RootTable returns the physical address of the root table that the root
// register value (CR3, DTB or TTBR) designates: the register's flag and
// PCID/ASID bits are dropped.
func (m Mode) RootTable(root uint64) uint64 {
	switch m {
	case X64, X64LA57:
		return root & 0x000F_FFFF_FFFF_F000
	case X86PAE:
		return root & 0xFFFF_FFE0 // PAE CR3 holds a 32-byte aligned PDPT
	case X86:
		return root & 0xFFFF_F000
	case ARM64:
		return root & 0x0000_FFFF_FFFF_F000 // BADDR; ASID in 63:48, CnP in bit 0
	case ARM64LPA2:
		// The 16-entry level -1 table is 128 bytes; BADDR[51:48] sits in
		// TTBR bits 5:2.
		return root&0x0000_FFFF_FFFF_FF80 | (root>>2&0xF)<<48
	}
	return 0
}

type level struct {
	shift uint   // lowest VA bit of the index
	bits  uint   // index width
	name  string // WinDbg's name for the entries
	large bool   // the level can map a large page / block
}

type geometry struct {
	levels    []level
	entrySize int
	vaBits    uint // implemented virtual address bits (sign-extended above)
	selfMap   int  // the level whose tables may point at themselves (Windows' self-map)
	arm       bool
}

var geometries = map[Mode]*geometry{
	X64: {
		levels:    []level{{39, 9, "PXE", false}, {30, 9, "PPE", true}, {21, 9, "PDE", true}, {12, 9, "PTE", false}},
		entrySize: 8, vaBits: 48, selfMap: 0,
	},
	X64LA57: {
		levels:    []level{{48, 9, "PML5E", false}, {39, 9, "PXE", false}, {30, 9, "PPE", true}, {21, 9, "PDE", true}, {12, 9, "PTE", false}},
		entrySize: 8, vaBits: 57, selfMap: 0,
	},
	X86PAE: {
		levels:    []level{{30, 2, "PDPTE", false}, {21, 9, "PDE", true}, {12, 9, "PTE", false}},
		entrySize: 8, vaBits: 32, selfMap: 1, // PTE_BASE 0xC0000000: the fourth PD maps all four
	},
	X86: {
		levels:    []level{{22, 10, "PDE", true}, {12, 10, "PTE", false}},
		entrySize: 4, vaBits: 32, selfMap: 0,
	},
	ARM64: {
		levels:    []level{{39, 9, "PXE", false}, {30, 9, "PPE", true}, {21, 9, "PDE", true}, {12, 9, "PTE", false}},
		entrySize: 8, vaBits: 48, selfMap: 0, arm: true,
	},
	ARM64LPA2: {
		levels:    []level{{48, 4, "L-1", false}, {39, 9, "PXE", true}, {30, 9, "PPE", true}, {21, 9, "PDE", true}, {12, 9, "PTE", false}},
		entrySize: 8, vaBits: 52, selfMap: 0, arm: true,
	},
}

func geometryOf(m Mode) *geometry { return geometries[m] }

// canonical reports whether va is a well-formed address for the geometry:
// 32-bit modes take addresses below 4 GiB, 64-bit modes sign-extended ones.
func (g *geometry) canonical(va uint64) bool {
	if g.vaBits == 32 {
		return va>>32 == 0
	}
	if g.arm {
		// TTBR0 or TTBR1 is chosen by the top bits, which must all be equal;
		// bit 47 itself is an index bit.
		top := va >> g.vaBits
		return top == 0 || top == 1<<(64-g.vaBits)-1
	}
	top := int64(va) >> (g.vaBits - 1)
	return top == 0 || top == -1
}

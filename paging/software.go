package paging

import (
	"fmt"
	"strings"
)

// Options tune how entries are decoded. The zero value suits a current
// Windows 10/11 kernel on a CPU whose L1TF mask is not known.
type Options struct {
	// Build is the Windows build number (from the dump header); 0 means a
	// recent one. Before build 17134 (version 1803) PageFileLow sat in bits
	// 1..4 of a software PTE and no entry was swizzled; from 17134 on it is in
	// bits 12..15.
	Build uint32

	// InvalidPTEMask is nt!MiState.Hardware.InvalidPteMask when the caller
	// knows it: the bits the L1TF mitigation sets in non-present entries whose
	// SwizzleBit is clear. When it is 0, transition frames have bits 45 and up
	// dropped (the bits the mitigation has been seen to set) and page file
	// offsets are shown as stored.
	InvalidPTEMask uint64

	// PhysAddrBits is the CPU's MAXPHYADDR. Address bits at or above it in a
	// present entry are reserved and make the entry invalid. 0 means the
	// architectural maximum (52 for x64, PAE and ARM64 with LPA2, 48 for
	// ARM64).
	PhysAddrBits uint

	// NoPrototype stops Translate and Walk from reading the prototype PTE a
	// Prototype entry points to; by default they read it (through the same
	// page tables) and use its page when it is in RAM.
	NoPrototype bool
}

// Protection is a Windows memory manager protection code (MM_READONLY,
// MM_READWRITE, ...), the 5-bit Protection field of a software PTE.
type Protection uint8

// Protection codes and modifier bits.
const (
	ProtZeroAccess   Protection = 0
	ProtReadOnly     Protection = 1
	ProtExecute      Protection = 2
	ProtExecuteRead  Protection = 3
	ProtReadWrite    Protection = 4
	ProtWriteCopy    Protection = 5
	ProtExecRW       Protection = 6
	ProtExecWC       Protection = 7
	ProtNoCache      Protection = 0x08
	ProtGuard        Protection = 0x10
	ProtDecommit     Protection = 0x10 // guard bit with zero access: decommitted
	ProtNoAccess     Protection = 0x18 // guard and no-cache bits with zero access
	ProtKStackOutswp Protection = 0x1F // marks an outswapped kernel stack
)

var protNames = [8]string{"NoAccess", "ReadOnly", "Execute", "ExecuteRead", "ReadWrite", "WriteCopy", "ExecuteReadWrite", "ExecuteWriteCopy"}

// String names the protection like WinDbg does ("ReadWrite",
// "NoCache ReadOnly", "Decommitted", ...).
func (p Protection) String() string {
	p &= 0x1F
	switch p {
	case ProtZeroAccess:
		return "ZeroAccess"
	case ProtDecommit:
		return "Decommitted"
	case ProtNoAccess:
		return "NoAccess"
	case ProtKStackOutswp:
		return "KernelStackOutswapped"
	}
	base := protNames[p&7]
	switch p & 0x18 {
	case ProtNoCache:
		return "NoCache " + base
	case ProtGuard:
		return "Guard " + base
	case ProtNoCache | ProtGuard:
		return "WriteCombine " + base
	}
	return base
}

// Accessible reports whether the protection allows any access at all.
func (p Protection) Accessible() bool {
	p &= 0x1F
	return p&7 != 0 && p != ProtKStackOutswp
}

// Writable reports whether the protection allows writes.
func (p Protection) Writable() bool { return p.Accessible() && p&4 != 0 }

// Software is a decoded non-present page table entry.
type Software struct {
	State      State      // Transition, Prototype, PageFile, DemandZero, NoAccess or NotMapped
	Protection Protection // the entry's protection code

	PFN uint64 // Transition: the physical page still holding the data

	PageFile       uint8  // PageFile: page file number (PageFileLow)
	PageFileOffset uint64 // PageFile: byte offset in that page file (PageFileHigh * 4096)

	ProtoAddr uint64 // Prototype: virtual address of the prototype PTE
	VADLookup bool   // Prototype: no address; the VAD describes the page (MI_PTE_LOOKUP_NEEDED)

	// Swizzled is set when the entry's SwizzleBit is clear on a build that
	// swizzles, i.e. the L1TF mitigation changed its high bits; Unswizzled
	// says whether PFN/PageFileOffset had that undone (exactly with
	// Options.InvalidPTEMask, or by dropping bits 45 and up of a frame).
	Swizzled   bool
	Unswizzled bool
}

// Bit positions shared by every Windows software PTE format.
const (
	bitPrototype  = 1 << 10
	bitTransition = 1 << 11
	bitSwizzle    = 1 << 4
	buildPFLow12  = 17134 // Windows 10 1803 moved PageFileLow to bits 12..15
	vadLookupX64  = 0xFFFF_FFFF_0000
	vadLookupPAE  = 0xFFFF_FFFF
	l1tfHeuristic = 45 // lowest PFN bit the L1TF mitigation sets in transition PTEs
)

// DecodeSoftware decodes a non-present entry of mode m (bit 0 clear) as one
// of Windows' software PTE formats. A zero entry is NotMapped.
func DecodeSoftware(m Mode, pte uint64, opt Options) Software {
	if m == X86 {
		pte &= 0xFFFF_FFFF
	}
	s := Software{Protection: Protection(pte>>5) & 0x1F}
	if pte == 0 {
		s.State = NotMapped
		return s
	}
	modern := opt.Build == 0 || opt.Build >= buildPFLow12
	swizzled := modern && m != X86 && pte&bitSwizzle == 0
	switch {
	case pte&bitPrototype != 0:
		s.State = Prototype
		s.ProtoAddr, s.VADLookup = protoAddress(m, pte)
		if m == X86 {
			s.Protection = 0 // those bits hold address bits without PAE
		}
	case pte&bitTransition != 0:
		s.State = Transition
		s.PFN, s.Swizzled, s.Unswizzled = transitionFrame(m, pte, swizzled, opt)
	default:
		var high uint64
		if m == X86 {
			high = pte >> 12 & 0xF_FFFF
			s.PageFile = uint8(pte >> 1 & 0xF)
		} else {
			high = pte >> 32
			if modern {
				s.PageFile = uint8(pte >> 12 & 0xF)
			} else {
				s.PageFile = uint8(pte >> 1 & 0xF)
			}
			if swizzled && high != 0 {
				s.Swizzled = true
				if opt.InvalidPTEMask != 0 {
					high ^= opt.InvalidPTEMask >> 32
					s.Unswizzled = true
				}
			}
		}
		switch {
		case high != 0:
			s.State = PageFile
			s.PageFileOffset = high << 12
		case s.Protection == ProtZeroAccess:
			// Nothing committed: bookkeeping bits only (e.g. a page
			// directory's count of used entries).
			s.State = NotMapped
		case !s.Protection.Accessible():
			s.State = NoAccess
		default:
			s.State = DemandZero
		}
	}
	return s
}

func protoAddress(m Mode, pte uint64) (addr uint64, vad bool) {
	switch m {
	case X86PAE:
		if hi := pte >> 32; hi != vadLookupPAE {
			return hi, false
		}
		return 0, true
	case X86:
		// _MMPTE_PROTOTYPE without PAE scatters the address: bits 11..31 hold
		// address bits 10..30, bits 1..8 hold bits 2..9, and the prototype
		// PTEs live in the upper 2 GiB.
		if pte&0xFFFF_F000 == 0xFFFF_F000 { // MI_PTE_LOOKUP_NEEDED
			return 0, true
		}
		return 0x8000_0000 | (pte>>1)&0x7FFF_FC00 | (pte<<1)&0x3FC, false
	}
	// ProtoAddress: 48 bits, sign-extended (also with LA57, so prototype
	// PTEs must live in the top 128 TiB).
	field := pte >> 16
	if field == vadLookupX64 {
		return 0, true
	}
	if field&(1<<47) != 0 {
		field |= 0xFFFF_0000_0000_0000
	}
	return field, false
}

func transitionFrame(m Mode, pte uint64, swizzled bool, opt Options) (pfn uint64, sw, unsw bool) {
	var mask uint64
	switch m {
	case X86:
		return (pte & 0xFFFF_F000) >> 12, false, false
	case X86PAE:
		mask = 0x0000_003F_FFFF_F000 // Windows keeps 26 PFN bits on PAE
	default:
		mask = 0x000F_FFFF_FFFF_F000
	}
	if swizzled {
		sw = true
		switch {
		case opt.InvalidPTEMask != 0:
			pte ^= opt.InvalidPTEMask
			unsw = true
		case m != X86PAE && pte&mask>>l1tfHeuristic != 0:
			pte &= 1<<l1tfHeuristic - 1
			unsw = true
		}
	} else if m != X86PAE && opt.InvalidPTEMask == 0 && pte&mask>>l1tfHeuristic != 0 {
		// No machine in a dump has RAM at 32 TiB: such a frame carries the
		// mitigation's bit even where no swizzle bit says so (older builds
		// patched in 2018).
		pte &= 1<<l1tfHeuristic - 1
		sw, unsw = true, true
	}
	return (pte & mask) >> 12, sw, unsw
}

// String describes the entry in one line, e.g. "PageFile: 0 offset
// 0x1234000, protection ReadWrite".
func (s Software) String() string {
	var b strings.Builder
	b.WriteString(s.State.String())
	switch s.State {
	case Transition:
		fmt.Fprintf(&b, ": PFN %#x", s.PFN)
	case Prototype:
		if s.VADLookup {
			b.WriteString(": VAD")
		} else {
			fmt.Fprintf(&b, ": prototype PTE at %#x", s.ProtoAddr)
		}
	case PageFile:
		fmt.Fprintf(&b, ": page file %d offset %#x", s.PageFile, s.PageFileOffset)
	}
	if s.State != NotMapped {
		fmt.Fprintf(&b, ", protection %#x %s", uint8(s.Protection), s.Protection)
	}
	return b.String()
}

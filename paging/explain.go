package paging

import (
	"errors"
	"fmt"
	"strings"
)

// raisedIRQL is what touching a page that is not valid does at raised IRQL,
// where the memory manager may not run.
const raisedIRQL = "code at raised IRQL (DISPATCH_LEVEL or above) touching it causes bug check 0xD1 (DRIVER_IRQL_NOT_LESS_OR_EQUAL; 0xA when the code is Windows' own); below DISPATCH_LEVEL"

// Explain says in plain language what the walk found and what touching the
// address does, e.g. "the page is paged out to page file 0 at offset
// 0x1234000: code at raised IRQL (DISPATCH_LEVEL or above) touching it
// causes bug check 0xD1 ...". A pte command prints it under the entries.
func (w *Walk) Explain() string {
	leafName := "entry"
	var leafVal uint64
	if l, ok := w.Leaf(); ok {
		leafName, leafVal = l.Name, l.Value
	}
	va := fmt.Sprintf("%#x", w.VA)
	var b strings.Builder
	switch w.State {
	case Valid, LargePage:
		fmt.Fprintf(&b, "%s is mapped to physical address %#x", va, w.PA)
		if w.State == LargePage {
			fmt.Fprintf(&b, " in a %s large page starting at %#x", sizeName(w.PageSize), w.PA&^(w.PageSize-1))
		} else {
			fmt.Fprintf(&b, " (PFN %#x)", w.PA>>12)
		}
		fmt.Fprintf(&b, "; %s, %s, %s", pick(w.Writable, "writable", "read-only"),
			pick(w.User, "user-accessible", "kernel-only"), pick(w.Executable, "executable", "no-execute"))
		b.WriteString(": the page is in memory and touching it cannot page-fault (unless the access breaks those rights)")
	case Transition:
		fmt.Fprintf(&b, "the page is not mapped but still in RAM, in transition on the standby or modified list, at physical page %#x (%s protection %s)", w.Software.PFN<<12, leafName, w.Software.Protection)
		b.WriteString(swizzleNote(w.Software))
		fmt.Fprintf(&b, ": %s the memory manager maps it back without disk I/O (a soft fault)", raisedIRQL)
	case Prototype:
		w.explainProto(&b)
	case PageFile:
		fmt.Fprintf(&b, "the page is paged out to page file %d at offset %#x", w.Software.PageFile, w.Software.PageFileOffset)
		if l := w.levelOfLeaf(); l >= 0 && l < len(w.Entries) && !w.isLast(l) {
			fmt.Fprintf(&b, " (this is the page table itself, the %s)", leafName)
		}
		b.WriteString(swizzleNote(w.Software))
		fmt.Fprintf(&b, ": %s Windows reads it back in, and a failed read is bug check 0x7A (KERNEL_DATA_INPAGE_ERROR)", raisedIRQL)
		b.WriteString(guardNote(w.Software.Protection))
	case DemandZero:
		fmt.Fprintf(&b, "the page is committed (protection %s) but was never touched (demand-zero): the first access gets a zero-filled page; %s the memory manager supplies that page", w.Software.Protection, raisedIRQL)
		b.WriteString(guardNote(w.Software.Protection))
	case NoAccess:
		switch w.Software.Protection & 0x1F {
		case ProtDecommit:
			fmt.Fprintf(&b, "the page at %s was decommitted (freed): any access is a use-after-free; in kernel mode it is bug check 0x50 (PAGE_FAULT_IN_NONPAGED_AREA; 0xD1 or 0xA at raised IRQL)", va)
		case ProtKStackOutswp:
			fmt.Fprintf(&b, "the page belongs to a kernel stack that was swapped out: only its own thread may use it once it is back; any other access is bug check 0x50")
		default:
			fmt.Fprintf(&b, "the page at %s allows no access (protection %s): any access faults; in kernel mode it is bug check 0x50 (PAGE_FAULT_IN_NONPAGED_AREA; 0xD1 or 0xA at raised IRQL)", va, w.Software.Protection)
		}
	case NotMapped:
		l := w.levelOfLeaf()
		fmt.Fprintf(&b, "nothing is mapped at %s: its %s is %#x", va, leafName, leafVal)
		if l >= 0 && !w.isLast(l) {
			shift, _ := w.Mode.IndexShift(l)
			fmt.Fprintf(&b, ", so the whole %s region around it has no page table", sizeName(1<<shift))
		}
		b.WriteString(". Kernel code touching it causes bug check 0x50 (PAGE_FAULT_IN_NONPAGED_AREA; 0xD1 or 0xA at raised IRQL): a wild, stale or freed pointer, or memory never allocated; for a user-mode address the process's VAD decides whether the memory is reserved or committed")
	case Invalid:
		switch {
		case errors.Is(w.Err, ErrNonCanonical):
			fmt.Fprintf(&b, "%s is not a valid %s address (the upper bits must be a sign extension, or zero on x86): the CPU raises a general-protection fault rather than a page fault; the pointer is corrupt", va, w.Mode)
		case errors.Is(w.Err, ErrLoop):
			fmt.Fprintf(&b, "the page tables loop: the %s %#x points back at a table above it, which no real mapping does; the page tables (or the root %#x) are corrupt", leafName, leafVal, w.Root)
		case errors.Is(w.Err, ErrReservedBits):
			fmt.Fprintf(&b, "the %s %#x has reserved bits set: the CPU raises a reserved-bit page fault (bug check 0x50 with the RSVD bit in the error code); the page tables are corrupt, often overwritten by a stray write", leafName, leafVal)
		case errors.Is(w.Err, ErrBadMode):
			fmt.Fprintf(&b, "unknown paging mode %s", w.Mode)
		default:
			fmt.Fprintf(&b, "the walk for %s failed: %v", va, w.Err)
		}
	case Missing:
		var te *tableError
		if errors.As(w.Err, &te) {
			if len(w.Entries) == 1 {
				fmt.Fprintf(&b, "the root page table at physical %#x (root register %#x) is not in the dump: the DTB is wrong or the dump does not hold page tables (small dumps never do)", te.Addr&^0xFFF, w.Root)
			} else {
				fmt.Fprintf(&b, "the page table holding the %s, at physical %#x, is not in the dump, so the walk cannot finish (%v)", leafName, te.Addr&^0xFFF, te.Err)
			}
		} else {
			fmt.Fprintf(&b, "the walk for %s needs memory the dump does not hold: %v", va, w.Err)
		}
	default:
		fmt.Fprintf(&b, "no walk for %s", va)
	}
	if w.TablesInTransition && w.State != Transition {
		b.WriteString(" (a page table on the way was itself in transition and was read from RAM)")
	}
	return b.String()
}

func (w *Walk) explainProto(b *strings.Builder) {
	s := w.Software
	if s.VADLookup {
		fmt.Fprintf(b, "the PTE (protection %s) says the page belongs to a section whose prototype PTE must be found through the process's VAD: the page was mapped but never touched through this address; %s the memory manager resolves it", s.Protection, raisedIRQL)
		return
	}
	fmt.Fprintf(b, "the page belongs to a shared section (a mapped file, image or pagefile-backed section); its real PTE is the prototype PTE at %#x", s.ProtoAddr)
	if p := w.Proto; p != nil {
		switch p.State {
		case Valid:
			fmt.Fprintf(b, ", which maps physical %#x", w.PA)
		case Transition:
			fmt.Fprintf(b, ", which is in transition at physical %#x (still in RAM)", w.PA)
		case PageFile:
			fmt.Fprintf(b, ", which says it is paged out to page file %d at offset %#x", p.Software.PageFile, p.Software.PageFileOffset)
		case DemandZero:
			b.WriteString(", which says it is demand-zero")
		case Prototype:
			fmt.Fprintf(b, ", which says the data is still in the mapped file (subsection at %#x)", p.Software.ProtoAddr)
		case Missing, Invalid:
			fmt.Fprintf(b, ", which could not be read (%v)", p.Err)
		default:
			fmt.Fprintf(b, ", which is %s", p.State)
		}
	}
	fmt.Fprintf(b, ": %s the memory manager resolves it", raisedIRQL)
}

func swizzleNote(s Software) string {
	switch {
	case s.Swizzled && s.Unswizzled:
		return " (its address bits were inverted by the L1TF mitigation and have been restored)"
	case s.Swizzled:
		return " (the L1TF mitigation changed its address bits and the kernel's InvalidPteMask is unknown, so the value is as stored)"
	}
	return ""
}

func guardNote(p Protection) string {
	if p&0x18 == ProtGuard && p&7 != 0 {
		return "; it is a guard page: the first access raises STATUS_GUARD_PAGE_VIOLATION"
	}
	return ""
}

func (w *Walk) levelOfLeaf() int {
	if l, ok := w.Leaf(); ok {
		return l.Level
	}
	return -1
}

func (w *Walk) isLast(level int) bool { return level == w.Mode.Levels()-1 }

func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

func sizeName(n uint64) string {
	switch {
	case n >= 1<<40 && n%(1<<40) == 0:
		return fmt.Sprintf("%d TiB", n>>40)
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// String formats the walk like WinDbg's !pte: one line per entry, then the
// explanation.
func (w *Walk) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "VA %#x (%s, root %#x)\n", w.VA, w.Mode, w.Root)
	for _, e := range w.Entries {
		fmt.Fprintf(&b, "%-5s at %#x (table %#x [%#x]) contains %#016x  %s\n", e.Name, e.Addr, e.Table, e.Index, e.Value, e.State)
	}
	if w.State != Valid && w.State != LargePage && w.State != Missing && w.State != Invalid && w.State != 0 {
		fmt.Fprintf(&b, "not valid: %s\n", w.Software)
	}
	b.WriteString(w.Explain())
	b.WriteByte('\n')
	return b.String()
}

package paging_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
)

// Known values, built by hand from the documented bit layouts of
// _MMPTE_SOFTWARE, _MMPTE_TRANSITION and _MMPTE_PROTOTYPE (Windows Internals,
// the public symbols' type information): Valid bit 0, SwizzleBit 4,
// Protection 5..9, Prototype 10, Transition 11, PageFileLow 12..15 (1..4
// before build 17134), PageFileHigh 32..63 (12..31 without PAE), PFN from bit
// 12, ProtoAddress 16..63 on x64 and 32..63 on PAE.
func TestDecodeSoftwareKnownValues(t *testing.T) {
	tests := []struct {
		name string
		mode paging.Mode
		opt  paging.Options
		pte  uint64
		want paging.Software
	}{
		{"x64 VAD prototype (WinDbg: Proto: VAD, Protect: 1 - Readonly)", paging.X64, paging.Options{}, 0xFFFFFFFF00000420,
			paging.Software{State: paging.Prototype, Protection: paging.ProtReadOnly, VADLookup: true}},
		{"x64 prototype PTE in paged pool", paging.X64, paging.Options{}, 0xC000123456700400 | 3<<5,
			paging.Software{State: paging.Prototype, Protection: paging.ProtExecuteRead, ProtoAddr: 0xFFFFC00012345670}},
		{"x64 page file 0 offset 0x1234000, ReadWrite, not swizzled", paging.X64, paging.Options{}, 0x0000123400000090,
			paging.Software{State: paging.PageFile, Protection: paging.ProtReadWrite, PageFileOffset: 0x1234000}},
		{"x64 page file 2 (PageFileLow at 12..15)", paging.X64, paging.Options{}, 0x0000123400002090,
			paging.Software{State: paging.PageFile, Protection: paging.ProtReadWrite, PageFile: 2, PageFileOffset: 0x1234000}},
		{"x64 swizzled page file, mask unknown: as stored", paging.X64, paging.Options{}, 0x0000323400000080,
			paging.Software{State: paging.PageFile, Protection: paging.ProtReadWrite, PageFileOffset: 0x3234000, Swizzled: true}},
		{"x64 swizzled page file, InvalidPteMask bit 45", paging.X64, paging.Options{InvalidPTEMask: 1 << 45}, 0x0000323400000080,
			paging.Software{State: paging.PageFile, Protection: paging.ProtReadWrite, PageFileOffset: 0x1234000, Swizzled: true, Unswizzled: true}},
		{"Windows 7 page file 1 (PageFileLow at 1..4)", paging.X64, paging.Options{Build: 7601}, 0x0000123400000082,
			paging.Software{State: paging.PageFile, Protection: paging.ProtReadWrite, PageFile: 1, PageFileOffset: 0x1234000}},
		{"x64 transition PFN 0x123456", paging.X64, paging.Options{}, 0x0000000123456890,
			paging.Software{State: paging.Transition, Protection: paging.ProtReadWrite, PFN: 0x123456}},
		{"x64 transition with the L1TF bit 45 set", paging.X64, paging.Options{}, 0x0000200123456880,
			paging.Software{State: paging.Transition, Protection: paging.ProtReadWrite, PFN: 0x123456, Swizzled: true, Unswizzled: true}},
		{"x64 transition, InvalidPteMask known", paging.X64, paging.Options{InvalidPTEMask: 0x0000_7000_0000_0000}, 0x0000700123456880,
			paging.Software{State: paging.Transition, Protection: paging.ProtReadWrite, PFN: 0x123456, Swizzled: true, Unswizzled: true}},
		{"demand zero ReadWrite", paging.X64, paging.Options{}, 0x80,
			paging.Software{State: paging.DemandZero, Protection: paging.ProtReadWrite}},
		{"guard page ReadWrite", paging.X64, paging.Options{}, 0x14 << 5,
			paging.Software{State: paging.DemandZero, Protection: paging.ProtGuard | paging.ProtReadWrite}},
		{"decommitted", paging.X64, paging.Options{}, 0x10 << 5,
			paging.Software{State: paging.NoAccess, Protection: paging.ProtDecommit}},
		{"no access", paging.X64, paging.Options{}, 0x18 << 5,
			paging.Software{State: paging.NoAccess, Protection: paging.ProtNoAccess}},
		{"outswapped kernel stack", paging.X64, paging.Options{}, 0x1F << 5,
			paging.Software{State: paging.NoAccess, Protection: paging.ProtKStackOutswp}},
		{"zero", paging.X64, paging.Options{}, 0, paging.Software{State: paging.NotMapped}},
		{"bookkeeping only (UsedPageTableEntries)", paging.X64, paging.Options{}, 0x1230000, paging.Software{State: paging.NotMapped}},
		{"PAE page file 0 offset 0x1234000", paging.X86PAE, paging.Options{}, 0x0000123400000090,
			paging.Software{State: paging.PageFile, Protection: paging.ProtReadWrite, PageFileOffset: 0x1234000}},
		{"PAE prototype", paging.X86PAE, paging.Options{}, 0x8123456000000400 | 1<<5,
			paging.Software{State: paging.Prototype, Protection: paging.ProtReadOnly, ProtoAddr: 0x81234560}},
		{"PAE transition (26-bit PFN)", paging.X86PAE, paging.Options{}, 0x0000003123456890,
			paging.Software{State: paging.Transition, Protection: paging.ProtReadWrite, PFN: 0x3123456}},
		{"x86 page file 1 offset 0x1234000", paging.X86, paging.Options{}, 0x01234082,
			paging.Software{State: paging.PageFile, Protection: paging.ProtReadWrite, PageFile: 1, PageFileOffset: 0x1234000}},
		{"x86 transition PFN 0x12345", paging.X86, paging.Options{}, 0x12345880,
			paging.Software{State: paging.Transition, Protection: paging.ProtReadWrite, PFN: 0x12345}},
		{"x86 prototype at 0xE1234564 scattered", paging.X86, paging.Options{}, (0x61234400)<<1 | 0x164>>1 | 0x400,
			paging.Software{State: paging.Prototype, ProtoAddr: 0xE1234564}},
		{"ARM64 page file like x64", paging.ARM64, paging.Options{}, 0x0000123400001090,
			paging.Software{State: paging.PageFile, Protection: paging.ProtReadWrite, PageFile: 1, PageFileOffset: 0x1234000}},
	}
	for _, tc := range tests {
		got := paging.DecodeSoftware(tc.mode, tc.pte, tc.opt)
		if got != tc.want {
			t.Errorf("%s: DecodeSoftware(%v, %#x) =\n  %+v\nwant\n  %+v", tc.name, tc.mode, tc.pte, got, tc.want)
		}
	}
}

func TestProtectionString(t *testing.T) {
	for p, want := range map[paging.Protection]string{
		0: "ZeroAccess", 1: "ReadOnly", 4: "ReadWrite", 6: "ExecuteReadWrite",
		0x0C: "NoCache ReadWrite", 0x14: "Guard ReadWrite", 0x1C: "WriteCombine ReadWrite",
		0x10: "Decommitted", 0x18: "NoAccess", 0x1F: "KernelStackOutswapped",
	} {
		if got := p.String(); got != want {
			t.Errorf("Protection(%#x) = %q, want %q", uint8(p), got, want)
		}
	}
}

// TestSoftwareWalks sets each kind of non-present PTE with ptbuild in every
// mode and checks the walk's verdict, what Translate does and what Explain
// tells the reader.
func TestSoftwareWalks(t *testing.T) {
	modes := []struct {
		mode paging.Mode
		base uint64
	}{
		{paging.X64, 0xFFFF_D000_0000_0000},
		{paging.X64LA57, 0xFF7F_D000_0000_0000},
		{paging.X86PAE, 0x9000_0000},
		{paging.X86, 0x9000_0000},
		{paging.ARM64, 0xFFFF_D000_0000_0000},
	}
	for _, m := range modes {
		t.Run(m.mode.String(), func(t *testing.T) {
			b := newBuilder(t, m.mode, ptbuild.Layout{})
			va := func(i uint64) uint64 { return m.base + i<<12 }
			protoPage := va(100) // holds prototype PTEs
			if m.mode == paging.X64LA57 {
				// ProtoAddress has 48 bits: prototype PTEs sit in the top 128 TiB.
				protoPage = 0xFFFF_D000_0006_4000
			}
			mustMap(t, b, protoPage, 0x70000, 4096)
			es := uint64(m.mode.EntrySize())
			// Prototype PTE 0 is valid (frame 0x71), 1 is in transition.
			pte0 := uint64(0x71000 | 0x63)
			if m.mode == paging.ARM64 {
				pte0 = 0x71000 | 0x403
			}
			writeEntry(b, 0x70000, pte0, es)
			writeEntry(b, 0x70000+es, b.Transition(0x72, paging.ProtReadOnly), es)
			writeEntry(b, 0x70000+2*es, b.PageFile(3, 0x5000, paging.ProtReadOnly), es)
			cases := []struct {
				pte       uint64
				state     paging.State
				pa        uint64 // want Translate to succeed when not 0
				explain   string
				protoWant paging.State
			}{
				{b.Transition(0x1234, paging.ProtReadWrite), paging.Transition, 0x1234123, "standby or modified list", 0},
				{b.PageFile(0, 0x1234000, paging.ProtReadWrite), paging.PageFile, 0, "page file 0 at offset 0x1234000: code at raised IRQL", 0},
				{b.DemandZero(paging.ProtReadWrite), paging.DemandZero, 0, "demand-zero", 0},
				{b.DemandZero(paging.ProtDecommit), paging.NoAccess, 0, "decommitted", 0},
				{b.DemandZero(paging.ProtNoAccess), paging.NoAccess, 0, "allows no access", 0},
				{b.DemandZero(paging.ProtGuard | paging.ProtReadWrite), paging.DemandZero, 0, "guard page", 0},
				{b.PrototypeVAD(paging.ProtReadOnly), paging.Prototype, 0, "VAD", 0},
				{b.Prototype(protoPage, paging.ProtReadOnly), paging.Prototype, 0x71123, "which maps physical 0x71123", paging.Valid},
				{b.Prototype(protoPage+es, paging.ProtReadOnly), paging.Prototype, 0x72123, "in transition at physical 0x72123", paging.Transition},
				{b.Prototype(protoPage+2*es, paging.ProtReadOnly), paging.Prototype, 0, "page file 3 at offset 0x5000", paging.PageFile},
			}
			for i, c := range cases {
				mustSetPTE(t, b, va(uint64(i)), c.pte)
			}
			tr := paging.New(m.mode, b.Root(), b.Memory())
			for i, c := range cases {
				v := va(uint64(i)) + 0x123
				w := tr.Walk(v)
				if w.State != c.state {
					t.Errorf("case %d (%#x): state %v, want %v", i, c.pte, w.State, c.state)
					continue
				}
				if leaf, _ := w.Leaf(); leaf.Value != c.pte || leaf.Level != m.mode.Levels()-1 {
					t.Errorf("case %d: leaf %+v", i, leaf)
				}
				if !strings.Contains(w.Explain(), c.explain) {
					t.Errorf("case %d: Explain() = %q, want it to mention %q", i, w.Explain(), c.explain)
				}
				if c.protoWant != 0 && (w.Proto == nil || w.Proto.State != c.protoWant) {
					t.Errorf("case %d: proto %+v, want %v", i, w.Proto, c.protoWant)
				}
				pa, err := tr.Translate(v)
				if c.pa != 0 {
					if err != nil || pa != c.pa {
						t.Errorf("case %d: Translate = %#x, %v; want %#x", i, pa, err, c.pa)
					}
					continue
				}
				var pe *paging.Error
				if !errors.As(err, &pe) || pe.State != c.state || pe.Entry != c.pte {
					t.Errorf("case %d: Translate error %v, want state %v", i, err, c.state)
				}
			}
		})
	}
}

func writeEntry(b *ptbuild.Builder, pa, v, size uint64) {
	var buf [8]byte
	for i := range buf {
		buf[i] = byte(v >> (8 * i))
	}
	b.Memory().WriteAt(buf[:size], int64(pa))
}

func TestSwizzledBuilder(t *testing.T) {
	// A machine with InvalidPteMask 1<<45: the builder swizzles, the
	// translator with the same mask restores exactly.
	mask := uint64(1) << 45
	b := newBuilder(t, paging.X64, ptbuild.Layout{InvalidPTEMask: mask})
	mustSetPTE(t, b, 0x10000, b.PageFile(1, 0x7654000, paging.ProtReadWrite))
	mustSetPTE(t, b, 0x11000, b.Transition(0x4321, paging.ProtReadWrite))
	tr := paging.NewWithOptions(paging.X64, b.Root(), b.Memory(), paging.Options{InvalidPTEMask: mask})
	w := tr.Walk(0x10000)
	if w.State != paging.PageFile || w.Software.PageFileOffset != 0x7654000 || w.Software.PageFile != 1 || !w.Software.Unswizzled {
		t.Errorf("page file: %+v", w.Software)
	}
	if pa, err := tr.Translate(0x11008); err != nil || pa != 0x4321008 {
		t.Errorf("transition: %#x, %v", pa, err)
	}
	// Without the mask, the transition frame is still recovered (bit 45
	// dropped) and the page file offset is reported as stored.
	tr = paging.New(paging.X64, b.Root(), b.Memory())
	if pa, err := tr.Translate(0x11008); err != nil || pa != 0x4321008 {
		t.Errorf("transition, mask unknown: %#x, %v", pa, err)
	}
	w = tr.Walk(0x10000)
	if w.Software.PageFileOffset != 0x7654000^mask>>20 || w.Software.Unswizzled || !strings.Contains(w.Explain(), "InvalidPteMask is unknown") {
		t.Errorf("page file, mask unknown: %+v %s", w.Software, w.Explain())
	}
	// Windows 7 layout: PageFileLow in bits 1..4.
	b7 := newBuilder(t, paging.X64, ptbuild.Layout{Build: 7601})
	mustSetPTE(t, b7, 0x10000, b7.PageFile(5, 0x2000, paging.ProtReadOnly))
	w = paging.NewWithOptions(paging.X64, b7.Root(), b7.Memory(), paging.Options{Build: 7601}).Walk(0x10000)
	if w.Software.PageFile != 5 || w.Software.PageFileOffset != 0x2000 {
		t.Errorf("Windows 7 page file: %+v", w.Software)
	}
}

func TestUpperLevelSoftware(t *testing.T) {
	b := newBuilder(t, paging.X64, ptbuild.Layout{})
	va := uint64(0xFFFF_E000_0020_0000)
	mustMap(t, b, va, 0x9000, 4096)
	ptAddr, _ := b.TableAddr(va, 3)
	// The page table is paged out but still in RAM: the PDE is a
	// transition entry, and the walk goes on through it.
	if err := b.SetEntry(va, 2, b.Transition(ptAddr>>12, paging.ProtReadWrite)); err != nil {
		t.Fatal(err)
	}
	// The next 2 MiB: its page table is in the page file.
	if err := b.SetEntry(va+2<<20, 2, b.PageFile(0, 0x88000, paging.ProtReadWrite)); err != nil {
		t.Fatal(err)
	}
	tr := paging.New(paging.X64, b.Root(), b.Memory())
	w := tr.Walk(va + 8)
	if w.State != paging.Valid || w.PA != 0x9008 || !w.TablesInTransition || w.Entries[2].State != paging.Transition {
		t.Errorf("walk through transition PDE: %v %#x %v", w.State, w.PA, w.TablesInTransition)
	}
	w = tr.Walk(va + 2<<20)
	if w.State != paging.PageFile || len(w.Entries) != 3 || !strings.Contains(w.Explain(), "the page table itself, the PDE") {
		t.Errorf("paged-out page table: %v %d %s", w.State, len(w.Entries), w.Explain())
	}
}

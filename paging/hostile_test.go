package paging_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
)

func TestSelfMap(t *testing.T) {
	// Windows maps the page tables through one root entry pointing at the
	// root itself (index 0x1ED on x64 before randomisation: PXE_BASE
	// 0xFFFFF6FB7DBED000). Walking through it is legitimate.
	const self = 0x1ED
	b := newBuilder(t, paging.X64, ptbuild.Layout{})
	va := uint64(0xFFFFF800_12345000)
	mustMap(t, b, va, 0x7654000, 4096)
	if err := b.SetEntry(0xFFFF_0000_0000_0000|self<<39, 0, b.Root()|0x63); err != nil {
		t.Fatal(err)
	}
	tr := paging.New(paging.X64, b.Root(), b.Memory())
	sx := func(idx ...uint64) uint64 {
		v := uint64(0)
		for _, i := range idx {
			v = v<<9 | i
		}
		return 0xFFFF_0000_0000_0000 | v<<12
	}
	// PXE_BASE: the root table itself.
	if pa, err := tr.Translate(sx(self, self, self, self)); err != nil || pa != b.Root() {
		t.Fatalf("PXE_BASE -> %#x, %v; want root %#x", pa, err, b.Root())
	}
	// The PTE of va, read through PTE_BASE.
	vpn := va >> 12 & (1<<36 - 1)
	pteVA := 0xFFFF_0000_0000_0000 | self<<39 | vpn<<3
	var buf [8]byte
	if _, err := tr.ReadAt(buf[:], pteVA); err != nil {
		t.Fatalf("reading PTE through self-map: %v", err)
	}
	if got := uint64(buf[0]) | uint64(buf[1])<<8 | uint64(buf[2])<<16 | uint64(buf[3])<<24; got != 0x7654063 {
		t.Fatalf("PTE via self-map = %#x, want 0x7654063", got)
	}
}

func TestSelfMapPAE(t *testing.T) {
	// 32-bit Windows with PAE: PTE_BASE 0xC0000000, the fourth page
	// directory's first four entries point at all four page directories,
	// its own included.
	b := newBuilder(t, paging.X86PAE, ptbuild.Layout{})
	mustMap(t, b, 0x8000_1000, 0x5000, 4096)
	for i := uint64(0); i < 4; i++ {
		pd, err := b.TableAddr(i<<30, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.SetEntry(0xC000_0000+i<<21, 1, pd|3); err != nil {
			t.Fatal(err)
		}
	}
	tr := paging.New(paging.X86PAE, b.Root(), b.Memory())
	var buf [8]byte
	pteVA := uint64(0xC000_0000 + 0x80001*8)
	if n, err := tr.ReadAt(buf[:], pteVA); n != 8 || err != nil || buf[0] != 0x63 || buf[1] != 0x50 {
		t.Fatalf("PTE via PAE self-map: %d %v % x", n, err, buf)
	}
	// PDE_BASE 0xC0600000: the page directories themselves.
	pd3, _ := b.TableAddr(0xC000_0000, 1)
	if pa, err := tr.Translate(0xC060_3000); err != nil || pa != pd3 {
		t.Fatalf("PD3 via self-map = %#x, %v; want %#x", pa, err, pd3)
	}
}

func TestHostileTables(t *testing.T) {
	const va = uint64(0xFFFFF800_12345000)
	tests := []struct {
		name    string
		mode    paging.Mode
		opt     paging.Options
		va      uint64
		prepare func(t *testing.T, b *ptbuild.Builder)
		state   paging.State
		err     error // errors.Is target
		explain string
	}{
		{"PDPT entry pointing back at the root", paging.X64, paging.Options{}, va, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(va, 1, b.Root()|3)
		}, paging.Invalid, paging.ErrLoop, "page tables loop"},
		{"page directory pointing at itself", paging.X64, paging.Options{}, va, func(t *testing.T, b *ptbuild.Builder) {
			pd, _ := b.TableAddr(va, 2)
			b.SetEntry(va, 2, pd|3)
		}, paging.Invalid, paging.ErrLoop, "page tables loop"},
		{"transition PDE pointing at the root", paging.X64, paging.Options{}, va, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(va, 2, b.Transition(b.Root()>>12, paging.ProtReadWrite))
		}, paging.Invalid, paging.ErrLoop, "page tables loop"},
		{"PAE PD pointing at the PDPT's page", paging.X86PAE, paging.Options{}, 0x8000_0000, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(0x8000_0000, 1, b.Root()&^0xFFF|3)
		}, paging.Invalid, paging.ErrLoop, "page tables loop"},
		{"2 MiB page with reserved bit 13", paging.X64, paging.Options{}, va, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(va, 2, 0x4000_0000|1<<13|0xE3)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"PS bit in a PML4E", paging.X64, paging.Options{}, va, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(va, 0, 0x4000_0000|0x83)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"address above MAXPHYADDR 39", paging.X64, paging.Options{PhysAddrBits: 39}, va, func(t *testing.T, b *ptbuild.Builder) {
			b.SetPTE(va, 1<<40|0x1000|0x63)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"PAE PDPTE with the RW bit", paging.X86PAE, paging.Options{}, 0x8000_0000, func(t *testing.T, b *ptbuild.Builder) {
			b.Map(0x8000_0000, 0x5000, 4096)
			pd, _ := b.TableAddr(0x8000_0000, 1)
			b.SetEntry(0x8000_0000, 0, pd|3)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"PAE PTE with bit 62", paging.X86PAE, paging.Options{}, 0x8000_0000, func(t *testing.T, b *ptbuild.Builder) {
			b.SetPTE(0x8000_0000, 1<<62|0x5063)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"x86 4 MiB page with bit 21", paging.X86, paging.Options{}, 0x8000_0000, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(0x8000_0000, 0, 0x40_0000|1<<21|0xE3)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"ARM64 level-3 descriptor of type 0b01", paging.ARM64, paging.Options{}, 0xFFFF_8000_0000_0000, func(t *testing.T, b *ptbuild.Builder) {
			b.SetPTE(0xFFFF_8000_0000_0000, 0x5000|0x401)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"ARM64 block at level 0", paging.ARM64, paging.Options{}, 0xFFFF_8000_0000_0000, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(0xFFFF_8000_0000_0000, 0, 0x401)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"ARM64 LPA2 block at level -1", paging.ARM64LPA2, paging.Options{}, 0xFFF8_0000_0000_0000, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(0xFFF8_0000_0000_0000, 0, 0x401)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"ARM64 LPA2 address above MAXPHYADDR 48", paging.ARM64LPA2, paging.Options{PhysAddrBits: 48}, 0xFFF8_0000_0000_0000, func(t *testing.T, b *ptbuild.Builder) {
			b.SetPTE(0xFFF8_0000_0000_0000, 0x5000|1<<8|0x403)
		}, paging.Invalid, paging.ErrReservedBits, "reserved bits"},
		{"non-canonical ARM64 LPA2 address", paging.ARM64LPA2, paging.Options{}, 0xFF00_0000_0000_0000, nil, paging.Invalid, paging.ErrNonCanonical, "not a valid arm64-lpa2 address"},
		{"table pointing past physical memory", paging.X64, paging.Options{}, va, func(t *testing.T, b *ptbuild.Builder) {
			b.SetEntry(va, 2, 0xF_0000_0000|3)
		}, paging.Missing, &ptbuild.MissingError{}, "at physical 0xf00000000, is not in the dump"},
		{"table page dropped from the dump", paging.X64, paging.Options{}, va, func(t *testing.T, b *ptbuild.Builder) {
			b.Map(va, 0x5000, 4096)
			pt, _ := b.TableAddr(va, 3)
			b.Memory().RemovePage(pt >> 12)
		}, paging.Missing, &ptbuild.MissingError{}, "is not in the dump"},
		{"non-canonical x64 address", paging.X64, paging.Options{}, 0x0000_8000_0000_0000, nil, paging.Invalid, paging.ErrNonCanonical, "not a valid x64 address"},
		{"non-canonical LA57 address", paging.X64LA57, paging.Options{}, 0x0100_0000_0000_0000, nil, paging.Invalid, paging.ErrNonCanonical, "general-protection"},
		{"x86 address above 4 GiB", paging.X86, paging.Options{}, 1 << 32, nil, paging.Invalid, paging.ErrNonCanonical, "not a valid x86 address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(t, tc.mode, ptbuild.Layout{})
			if tc.prepare != nil {
				tc.prepare(t, b)
			}
			tr := paging.NewWithOptions(tc.mode, b.Root(), b.Memory(), tc.opt)
			w := tr.Walk(tc.va)
			if w.State != tc.state {
				t.Fatalf("state %v (err %v), want %v", w.State, w.Err, tc.state)
			}
			if !matches(w.Err, tc.err) {
				t.Errorf("Walk.Err = %v, want %v", w.Err, tc.err)
			}
			if !strings.Contains(w.Explain(), tc.explain) {
				t.Errorf("Explain() = %q, want %q in it", w.Explain(), tc.explain)
			}
			_, err := tr.Translate(tc.va)
			var pe *paging.Error
			if !errors.As(err, &pe) || pe.State != tc.state || !matches(err, tc.err) {
				t.Errorf("Translate error %v", err)
			}
		})
	}
}

func matches(err, target error) bool {
	if me, ok := target.(*ptbuild.MissingError); ok {
		_ = me
		var got *ptbuild.MissingError
		return errors.As(err, &got)
	}
	return errors.Is(err, target)
}

func TestRootOutsideMemory(t *testing.T) {
	for _, mode := range []paging.Mode{paging.X64, paging.X64LA57, paging.X86PAE, paging.X86, paging.ARM64, paging.ARM64LPA2} {
		tr := paging.New(mode, 0x7_0000_0000&0xFFFF_F000|0x7000_0000, &ptbuild.Memory{})
		w := tr.Walk(0x1000)
		var me *ptbuild.MissingError
		if w.State != paging.Missing || len(w.Entries) != 1 || !errors.As(w.Err, &me) || !strings.Contains(w.Explain(), "root page table") {
			t.Errorf("%v: %v %d %v %s", mode, w.State, len(w.Entries), w.Err, w.Explain())
		}
	}
	w := paging.New(paging.Mode(99), 0, &ptbuild.Memory{}).Walk(0)
	if w.State != paging.Invalid || !errors.Is(w.Err, paging.ErrBadMode) {
		t.Errorf("bad mode: %v %v", w.State, w.Err)
	}
}

func TestPrototypeLoop(t *testing.T) {
	// The prototype PTE's page is itself described by a prototype PTE that
	// points at the same prototype PTE: an endless chain.
	b := newBuilder(t, paging.X64, ptbuild.Layout{})
	va := uint64(0x7FF0_0000_0000)
	proto := uint64(0xFFFF_C000_0000_0040)
	mustSetPTE(t, b, va, b.Prototype(proto, paging.ProtReadOnly))
	mustSetPTE(t, b, proto&^0xFFF, b.Prototype(proto, paging.ProtReadWrite))
	tr := paging.New(paging.X64, b.Root(), b.Memory())
	w := tr.Walk(va)
	if w.State != paging.Prototype || w.Proto == nil || w.Proto.State != paging.Missing || !errors.Is(w.Proto.Err, paging.ErrLoop) {
		t.Fatalf("walk %v proto %+v", w.State, w.Proto)
	}
	if _, err := tr.Translate(va); !errors.Is(err, paging.ErrLoop) {
		t.Fatalf("Translate error %v, want ErrLoop", err)
	}
	// With NoPrototype the chain is not followed at all.
	tr = paging.NewWithOptions(paging.X64, b.Root(), b.Memory(), paging.Options{NoPrototype: true})
	if w := tr.Walk(va); w.Proto != nil || w.Software.ProtoAddr != proto {
		t.Fatalf("NoPrototype walk: %+v", w.Proto)
	}
}

func TestWalkString(t *testing.T) {
	b := newBuilder(t, paging.X64, ptbuild.Layout{})
	mustSetPTE(t, b, 0xFFFFF800_12345000, b.PageFile(0, 0x1234000, paging.ProtReadWrite))
	w := paging.New(paging.X64, b.Root(), b.Memory()).Walk(0xFFFFF800_12345000)
	s := w.String()
	for _, want := range []string{"PXE", "PPE", "PDE", "PTE", "contains 0x0000123400000090", "not valid: PageFile: page file 0 offset 0x1234000, protection 0x4 ReadWrite", "bug check 0xD1"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
}

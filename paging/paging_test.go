package paging_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
)

func newBuilder(t testing.TB, mode paging.Mode, layout ptbuild.Layout) *ptbuild.Builder {
	t.Helper()
	b, err := ptbuild.New(mode, &ptbuild.Memory{}, 0x100, layout)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustMap(t testing.TB, b *ptbuild.Builder, va, pa, size uint64) {
	t.Helper()
	if err := b.Map(va, pa, size); err != nil {
		t.Fatalf("Map(%#x, %#x, %#x): %v", va, pa, size, err)
	}
}

func mustSetPTE(t testing.TB, b *ptbuild.Builder, va, v uint64) {
	t.Helper()
	if err := b.SetPTE(va, v); err != nil {
		t.Fatalf("SetPTE(%#x, %#x): %v", va, v, err)
	}
}

type mapping struct {
	va, pa, size uint64
}

func TestTranslateModes(t *testing.T) {
	tests := []struct {
		mode  paging.Mode
		maps  []mapping
		names []string
	}{
		{paging.X64, []mapping{
			{0xFFFFF800_12345000, 0x7654000, 4096},
			{0xFFFFF800_40000000, 0x4000_0000, 2 << 20},
			{0xFFFF8000_00000000, 0x1_0000_0000, 1 << 30},
			{0x0000_7FF6_1234_0000, 0x2_3456_7000, 4096},
		}, []string{"PXE", "PPE", "PDE", "PTE"}},
		{paging.X64LA57, []mapping{
			{0xFF11_2233_4455_6000, 0x7654000, 4096},
			{0xFF11_2233_4460_0000, 0x4000_0000, 2 << 20},
			{0xFF00_0000_4000_0000, 0x1_0000_0000, 1 << 30},
		}, []string{"PML5E", "PXE", "PPE", "PDE", "PTE"}},
		{paging.X86PAE, []mapping{
			{0x8012_3000, 0x1234_5000, 4096},
			{0x8060_0000, 0x3_0020_0000, 2 << 20}, // above 4 GiB: PAE's point
			{0x0040_1000, 0xF_FFFF_F000, 4096},
		}, []string{"PDPTE", "PDE", "PTE"}},
		{paging.X86, []mapping{
			{0x8012_3000, 0x1234_5000, 4096},
			{0x8080_0000, 0x0040_0000, 4 << 20},
			{0x80C0_0000, 0x2_0040_0000, 4 << 20}, // PSE-36
		}, []string{"PDE", "PTE"}},
		{paging.ARM64, []mapping{
			{0xFFFF_8000_1234_5000, 0x8765_4000, 4096},
			{0xFFFF_8000_4020_0000, 0x4000_0000, 2 << 20},
			{0xFFFF_8001_0000_0000, 0x1_0000_0000, 1 << 30},
		}, []string{"PXE", "PPE", "PDE", "PTE"}},
		{paging.ARM64LPA2, []mapping{
			{0xFFF1_2345_6789_A000, 0x000C_1234_5678_9000, 4096}, // OA[51:50] in bits 9:8
			{0xFFF1_2345_6800_0000, 0x0004_0000_0020_0000, 2 << 20},
			{0xFFF0_0000_4000_0000, 0x1_0000_0000, 1 << 30},
			{0xFFF8_0000_0000_0000, 0x0008_0000_0000_0000, 512 << 30}, // level 0 block
		}, []string{"L-1", "PXE", "PPE", "PDE", "PTE"}},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			b := newBuilder(t, tc.mode, ptbuild.Layout{})
			for _, m := range tc.maps {
				mustMap(t, b, m.va, m.pa, m.size)
			}
			tr := paging.New(tc.mode, b.Root(), b.Memory())
			for _, m := range tc.maps {
				for _, off := range []uint64{0, 0x123, m.size - 8} {
					pa, err := tr.Translate(m.va + off)
					if err != nil || pa != m.pa+off {
						t.Errorf("Translate(%#x) = %#x, %v; want %#x", m.va+off, pa, err, m.pa+off)
					}
				}
				w := tr.Walk(m.va + 0x10)
				wantState, wantLen := paging.Valid, len(tc.names)
				if m.size != 4096 {
					wantState = paging.LargePage
					for l := range tc.names {
						if tc.mode.LargePageSize(l) == m.size {
							wantLen = l + 1
						}
					}
				}
				if w.State != wantState || w.PageSize != m.size || w.PA != m.pa+0x10 || len(w.Entries) != wantLen {
					t.Errorf("Walk(%#x): state %v size %#x pa %#x entries %d; want %v %#x %#x %d",
						m.va, w.State, w.PageSize, w.PA, len(w.Entries), wantState, m.size, m.pa+0x10, wantLen)
				}
				for i, e := range w.Entries {
					if e.Name != tc.names[i] || e.Level != i {
						t.Errorf("entry %d: %s level %d, want %s", i, e.Name, e.Level, tc.names[i])
					}
				}
				if !w.Writable || w.User || !w.Executable {
					t.Errorf("Walk(%#x) rights w=%v u=%v x=%v, want kernel RWX", m.va, w.Writable, w.User, w.Executable)
				}
				if !strings.Contains(w.Explain(), "is mapped to physical address") {
					t.Errorf("Explain: %s", w.Explain())
				}
			}
			// An address nobody mapped, next to the first mapping.
			w := tr.Walk(tc.maps[0].va + 0x1000)
			if w.State != paging.NotMapped {
				t.Errorf("unmapped neighbour: %v", w.State)
			}
			var pe *paging.Error
			if _, err := tr.Translate(tc.maps[0].va + 0x1000); !errors.As(err, &pe) || pe.State != paging.NotMapped || pe.Level != tc.names[len(tc.names)-1] {
				t.Errorf("unmapped neighbour error: %v", err)
			}
		})
	}
}

func TestRootRegisterFlags(t *testing.T) {
	b := newBuilder(t, paging.X64, ptbuild.Layout{})
	mustMap(t, b, 0xFFFFF800_00001000, 0x5000, 4096)
	// PCID in bits 0..11 and the no-flush bit 63 are not part of the address.
	tr := paging.New(paging.X64, b.Root()|0x123|1<<63, b.Memory())
	if pa, err := tr.Translate(0xFFFFF800_00001234); err != nil || pa != 0x5234 {
		t.Fatalf("Translate = %#x, %v", pa, err)
	}
	pb := newBuilder(t, paging.X86PAE, ptbuild.Layout{})
	if pb.Root()&0xFFF != 0x20 {
		t.Fatalf("PAE root %#x not 32 bytes into its page", pb.Root())
	}
	mustMap(t, pb, 0xC000_0000, 0x9000, 4096)
	tr = paging.New(paging.X86PAE, pb.Root(), pb.Memory())
	w := tr.Walk(0xC000_0008)
	if w.PA != 0x9008 || w.Entries[0].Addr != pb.Root()+3*8 {
		t.Fatalf("PAE walk pa %#x, PDPTE at %#x (root %#x)", w.PA, w.Entries[0].Addr, pb.Root())
	}
	ab := newBuilder(t, paging.ARM64, ptbuild.Layout{})
	mustMap(t, ab, 0xFFFF_0000_0000_0000, 0x7000, 4096)
	// ASID in 63:48 and CnP in bit 0 of TTBR1.
	tr = paging.New(paging.ARM64, ab.Root()|0x00AB_0000_0000_0000|1, ab.Memory())
	if pa, err := tr.Translate(0xFFFF_0000_0000_0010); err != nil || pa != 0x7010 {
		t.Fatalf("ARM64 Translate = %#x, %v", pa, err)
	}
}

func TestRights(t *testing.T) {
	b := newBuilder(t, paging.X64, ptbuild.Layout{})
	if err := b.MapFlags(0x1000, 0x2000, 4096, 0x4|1<<63); err != nil {
		t.Fatal(err)
	}
	// The user bit must be set at every level for a user page.
	for l := 0; l < 3; l++ {
		ta, _ := b.EntryAddr(0x1000, l)
		var e [8]byte
		b.Memory().ReadAt(e[:], int64(ta))
		e[0] |= 4
		b.Memory().WriteAt(e[:], int64(ta))
	}
	w := paging.New(paging.X64, b.Root(), b.Memory()).Walk(0x1000)
	if !w.User || w.Executable || !w.Writable {
		t.Fatalf("rights: user %v exec %v write %v", w.User, w.Executable, w.Writable)
	}
	if !strings.Contains(w.Explain(), "user-accessible, no-execute") {
		t.Errorf("Explain: %s", w.Explain())
	}
}

func TestReadAt(t *testing.T) {
	for _, mode := range []paging.Mode{paging.X64, paging.X64LA57, paging.X86PAE, paging.X86, paging.ARM64, paging.ARM64LPA2} {
		t.Run(mode.String(), func(t *testing.T) {
			b := newBuilder(t, mode, ptbuild.Layout{})
			va := uint64(0x8000_0000)
			if mode == paging.X64 || mode == paging.ARM64 || mode == paging.ARM64LPA2 {
				va = 0xFFFF_A000_0000_0000
			} else if mode == paging.X64LA57 {
				va = 0xFF80_0000_0000_0000
			}
			// Two virtually adjacent pages in physically distant frames.
			mustMap(t, b, va, 0x30000, 4096)
			mustMap(t, b, va+0x1000, 0x10000, 4096)
			mem := b.Memory()
			mem.WriteAt(bytes.Repeat([]byte{0xAA}, 4096), 0x30000)
			mem.WriteAt(bytes.Repeat([]byte{0xBB}, 4096), 0x10000)
			mustMap(t, b, va+0x2000, 0x50000, 4096) // frame 0x50 is not in memory
			tr := paging.New(mode, b.Root(), mem)
			buf := make([]byte, 16)
			n, err := tr.ReadAt(buf, va+0xFF8)
			want := append(bytes.Repeat([]byte{0xAA}, 8), bytes.Repeat([]byte{0xBB}, 8)...)
			if n != 16 || err != nil || !bytes.Equal(buf, want) {
				t.Fatalf("ReadAt across pages = %d, %v, % x", n, err, buf)
			}
			// The io.ReaderAt view takes the address as an int64.
			n, err = tr.ReaderAt().ReadAt(buf[:4], int64(va+0x1000))
			if n != 4 || err != nil || buf[0] != 0xBB {
				t.Fatalf("ReaderAt = %d, %v", n, err)
			}
			// A mapped page whose frame the dump lacks: Missing, and the
			// memory's own error is still reachable.
			n, err = tr.ReadAt(buf, va+0x1FF8)
			var pe *paging.Error
			var me *ptbuild.MissingError
			if n != 8 || !errors.As(err, &pe) || pe.State != paging.Missing || pe.VA != va+0x2000 || !errors.As(err, &me) || me.Addr != 0x50000 {
				t.Fatalf("ReadAt into missing frame = %d, %v", n, err)
			}
			// Unmapped page after it.
			n, err = tr.ReadAt(buf, va+0x3FF8)
			if n != 0 || !errors.As(err, &pe) || pe.State != paging.NotMapped {
				t.Fatalf("ReadAt unmapped = %d, %v", n, err)
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	b := newBuilder(t, paging.X64, ptbuild.Layout{})
	for i := uint64(0); i < 64; i++ {
		mustMap(t, b, 0xFFFF_C000_0000_0000+i<<12, 0x1000000+(i%8)<<12, 4096)
	}
	for i := uint64(0); i < 8; i++ {
		b.Memory().WriteAt([]byte{byte(i)}, int64(0x1000000+i<<12))
	}
	tr := paging.New(paging.X64, b.Root(), b.Memory())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [1]byte
			for i := uint64(0); i < 512; i++ {
				p := (i + uint64(g)*7) % 64
				if _, err := tr.ReadAt(buf[:], 0xFFFF_C000_0000_0000+p<<12); err != nil || buf[0] != byte(p%8) {
					t.Errorf("page %d: %v %d", p, err, buf[0])
					return
				}
			}
		}()
	}
	wg.Wait()
}

package paging_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
)

// flatImage lays the builder's pages out as one byte slice indexed by
// physical address (the pages are all low).
func flatImage(b *ptbuild.Builder) []byte {
	pfns := b.Memory().PFNs()
	img := make([]byte, (pfns[len(pfns)-1]+1)*4096)
	for _, pfn := range pfns {
		copy(img[pfn*4096:], b.Memory().Page(pfn))
	}
	return img
}

// FuzzTranslate walks arbitrary page table bytes: it must never hang or
// panic, and what Walk and Translate say must agree.
func FuzzTranslate(f *testing.F) {
	modes := []paging.Mode{paging.X64, paging.X64LA57, paging.X86PAE, paging.X86, paging.ARM64, paging.ARM64LPA2}
	for i, mode := range modes {
		b, err := ptbuild.New(mode, &ptbuild.Memory{}, 1, ptbuild.Layout{})
		if err != nil {
			f.Fatal(err)
		}
		va := uint64(0x8000_1000)
		b.Map(va, 0x3000, 4096)
		b.SetPTE(va+0x1000, b.Transition(2, paging.ProtReadWrite))
		b.SetPTE(va+0x2000, b.Prototype(va+8, paging.ProtReadOnly))
		b.SetPTE(va+0x3000, b.PageFile(1, 0x5000, paging.ProtReadWrite))
		b.Memory().AddPage(3)
		f.Add(flatImage(b), uint8(i), b.Root(), va+0x2010)
	}
	f.Fuzz(func(t *testing.T, img []byte, m uint8, root, va uint64) {
		mode := modes[int(m)%len(modes)]
		phys := bytes.NewReader(img)
		tr := paging.New(mode, root, phys)
		w := tr.Walk(va)
		_ = w.Explain()
		_ = w.String()
		if len(w.Entries) > mode.Levels() {
			t.Fatalf("%d entries for %d levels", len(w.Entries), mode.Levels())
		}
		pa, err := tr.Translate(va)
		if (err == nil) != w.Resolved() || (err == nil && pa != w.PA) {
			t.Fatalf("Translate = %#x, %v; Walk %v %#x", pa, err, w.State, w.PA)
		}
		var buf [16]byte
		tr.ReadAt(buf[:], va)
		if len(img) >= 8 {
			s := paging.DecodeSoftware(mode, binary.LittleEndian.Uint64(img), paging.Options{})
			if s.State == 0 || s.String() == "" {
				t.Fatalf("no state for %#x", binary.LittleEndian.Uint64(img))
			}
		}
	})
}

package physmem

import (
	"bytes"
	"errors"
	"math/bits"
	"testing"
)

// FuzzBitmap parses hostile bitmap blocks (at offset 0x2000, after a zero
// header) and checks the rank index and the range iteration against plain
// counting.
func FuzzBitmap(f *testing.F) {
	for _, n := range []uint64{1, 64, 100, 700} {
		b, _ := bitmapDump(n, func(pfn uint64) bool { return bits.OnesCount64(pfn)%2 == 0 })
		f.Add(b[0x2000:])
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		data := append(make([]byte, 0x2000), block...)
		m, err := NewBitmap(bytes.NewReader(data), int64(len(data)), 0x2000)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a FormatError: %v", err)
			}
			return
		}
		var set uint64
		for pfn := range min(m.nbits, 1<<14) {
			idx, ok := m.index(pfn)
			present := m.words[pfn/64]&(1<<(pfn%64)) != 0
			if ok != present || (ok && idx != set) {
				t.Fatalf("index(%#x) = %d, %v; want %d, %v", pfn, idx, ok, set, present)
			}
			if present {
				set++
			}
		}
		var n uint64
		buf := make([]byte, 8)
		for r := range m.Pages() {
			n += r.Count
			if _, err := m.ReadAt(buf, int64(r.PFN*PageSize)); err != nil {
				t.Fatalf("first page of %+v: %v", r, err)
			}
		}
		if n != m.PageCount() || m.PageCount() > m.ClaimedPages() {
			t.Fatalf("Pages() %d, PageCount %d, ClaimedPages %d", n, m.PageCount(), m.ClaimedPages())
		}
	})
}

package physmem

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// bitmapDump lays out a bitmap block at 0x2000 and the pages it marks,
// each stamped with its PFN at offset 8.
func bitmapDump(nbits uint64, set func(pfn uint64) bool) ([]byte, []uint64) {
	const off = 0x2000
	bm := make([]byte, (nbits+7)/8)
	var present []uint64
	for pfn := uint64(0); pfn < nbits; pfn++ {
		if set(pfn) {
			bm[pfn/8] |= 1 << (pfn % 8)
			present = append(present, pfn)
		}
	}
	first := (off + BitmapHeaderSize + len(bm) + PageSize - 1) &^ (PageSize - 1)
	b := make([]byte, first+len(present)*PageSize)
	copy(b[off:], "SDMPDUMP")
	le := binary.LittleEndian
	le.PutUint64(b[off+0x20:], uint64(first))
	le.PutUint64(b[off+0x28:], uint64(len(present)))
	le.PutUint64(b[off+0x30:], nbits)
	copy(b[off+BitmapHeaderSize:], bm)
	for i, pfn := range present {
		le.PutUint64(b[first+i*PageSize+8:], pfn)
	}
	return b, present
}

// TestRankMatchesCount checks the rank index against counting, for random
// bitmaps of varying density and sizes that end inside words, blocks and
// superblocks.
func TestRankMatchesCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		nbits   uint64
		density float64
	}{{1, 1}, {63, 0.5}, {64, 1}, {513, 0.3}, {4096, 1}, {4097, 0.9}, {20000, 0.05}, {70001, 0.5}, {100000, 0}} {
		b, present := bitmapDump(c.nbits, func(uint64) bool { return rng.Float64() < c.density })
		m, err := NewBitmap(bytes.NewReader(b), int64(len(b)), 0x2000)
		if err != nil {
			t.Fatal(err)
		}
		if m.ClaimedPages() != uint64(len(present)) || len(m.Warnings) != 0 {
			t.Fatalf("%d bits: claimed %d, want %d; warnings %q", c.nbits, m.ClaimedPages(), len(present), m.Warnings)
		}
		next := 0
		for pfn := uint64(0); pfn < c.nbits+70; pfn++ {
			idx, ok := m.index(pfn)
			isSet := next < len(present) && present[next] == pfn
			if ok != isSet || (ok && idx != uint64(next)) {
				t.Fatalf("%d bits: index(%#x) = %d, %v; want %d, %v", c.nbits, pfn, idx, ok, next, isSet)
			}
			if isSet {
				next++
			}
		}
		// Pages() gives maximal runs covering exactly the set bits.
		var got []uint64
		var prevEnd uint64
		for r := range m.Pages() {
			if r.Count == 0 || (len(got) > 0 && r.PFN == prevEnd) {
				t.Fatalf("%d bits: range %+v is empty or not maximal", c.nbits, r)
			}
			if want := int64(len(got))*PageSize + m.first; r.Offset != want {
				t.Fatalf("range %+v: offset, want %#x", r, want)
			}
			for i := range r.Count {
				got = append(got, r.PFN+i)
			}
			prevEnd = r.PFN + r.Count
		}
		if len(got) != len(present) || (len(got) > 0 && got[len(got)-1] != present[len(present)-1]) {
			t.Fatalf("%d bits: Pages() lists %d pages, want %d", c.nbits, len(got), len(present))
		}
		// Every page reads back its own stamp.
		buf := make([]byte, 8)
		for _, pfn := range present {
			if _, err := m.ReadAt(buf, int64(pfn*PageSize+8)); err != nil || binary.LittleEndian.Uint64(buf) != pfn {
				t.Fatalf("page %#x reads %x, %v", pfn, buf, err)
			}
		}
	}
}

// TestFullRunOrder checks that full dumps store pages in the order of the
// header's runs, not in physical order.
func TestFullRunOrder(t *testing.T) {
	runs := []Run{{BasePage: 0x100, PageCount: 2}, {BasePage: 0, PageCount: 0}, {BasePage: 0x10, PageCount: 3}}
	order := []uint64{0x100, 0x101, 0x10, 0x11, 0x12}
	b := make([]byte, 0x1000+len(order)*PageSize)
	for i, pfn := range order {
		binary.LittleEndian.PutUint64(b[0x1000+i*PageSize:], pfn)
	}
	m, err := NewFull(bytes.NewReader(b), int64(len(b)), 0x1000, runs)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	for i, pfn := range order {
		off, err := m.FileOffset(pfn * PageSize)
		if err != nil || off != int64(0x1000+i*PageSize) {
			t.Errorf("FileOffset(page %#x) = %#x, %v", pfn, off, err)
		}
		if _, err := m.ReadAt(buf, int64(pfn*PageSize)); err != nil || binary.LittleEndian.Uint64(buf) != pfn {
			t.Errorf("page %#x reads %x, %v", pfn, buf, err)
		}
	}
	var got []Range
	for r := range m.Pages() {
		got = append(got, r)
	}
	want := []Range{{PFN: 0x10, Count: 3, Offset: 0x3000}, {PFN: 0x100, Count: 2, Offset: 0x1000}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Pages() = %+v, want %+v", got, want)
	}
	if m.Limit() != 0x102000 || m.PageCount() != 5 {
		t.Errorf("Limit %#x PageCount %d", m.Limit(), m.PageCount())
	}
	// Runs that are adjacent in memory but apart in the file are not read
	// as one: the read crosses from page 0x12 into 0x13, which is missing.
	_, err = m.ReadAt(make([]byte, 16), 0x12ff8)
	var nd *NotInDumpError
	if !errors.As(err, &nd) || nd.PA != 0x13000 {
		t.Errorf("read past run end: %v", err)
	}
}

func TestNewFullErrors(t *testing.T) {
	b := make([]byte, 0x3000)
	for _, c := range []struct {
		name string
		data int64
		runs []Run
		run  int
		msg  string
	}{
		{"data past EOF", 0x4000, nil, -1, "past the end of the file"},
		{"base past 2^52", 0x1000, []Run{{BasePage: 1 << 52, PageCount: 1}}, 0, "64-bit physical address space"},
		{"count wraps", 0x1000, []Run{{BasePage: 1, PageCount: 1<<64 - 1}}, 0, "64-bit physical address space"},
		{"overlap", 0x1000, []Run{{BasePage: 10, PageCount: 5}, {BasePage: 0, PageCount: 1}, {BasePage: 14, PageCount: 1}}, 2, "overlap"},
	} {
		_, err := NewFull(bytes.NewReader(b), int64(len(b)), c.data, c.runs)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Run != c.run || !strings.Contains(fe.Msg, c.msg) {
			t.Errorf("%s: %v (run %d), want run %d and %q", c.name, err, fe.Run, c.run, c.msg)
		}
	}
}

// TestConcurrentReads reads from many goroutines at once (run with -race).
func TestConcurrentReads(t *testing.T) {
	b, present := bitmapDump(5000, func(pfn uint64) bool { return pfn%3 != 0 })
	m, err := NewBitmap(bytes.NewReader(b), int64(len(b)), 0x2000)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			buf := make([]byte, 8)
			for i := g; i < len(present); i += 4 {
				if _, err := m.ReadAt(buf, int64(present[i]*PageSize+8)); err != nil || binary.LittleEndian.Uint64(buf) != present[i] {
					done <- errors.New("bad read")
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

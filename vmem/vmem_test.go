package vmem

import (
	"bytes"
	"errors"
	"testing"
)

func TestSpace(t *testing.T) {
	src := bytes.NewReader([]byte("0123456789abcdefghijklmnopqrstuvwxyz"))
	s := New([]Region{
		{Addr: 0x1000, Size: 10, Src: src, Off: 0, Kind: "a"},       // "0123456789"
		{Addr: 0x100a, Size: 6, Src: src, Off: 10, Kind: "b"},       // "abcdef", adjacent
		{Addr: 0x1008, Size: 4, Src: src, Off: 20, Kind: "overlap"}, // overlaps a and b
		{Addr: 0x2000, Size: 4, Src: src, Off: 30, Kind: "c"},       // "uvwx"
		{Addr: 0x3000, Size: 0, Src: src, Kind: "empty"},
		{Addr: 0x4000, Size: 4, Src: nil, Kind: "no source"},
	})
	cases := []struct {
		addr    uint64
		n       int
		want    string
		missing uint64 // 0: no error expected
	}{
		{0x1000, 4, "0123", 0},
		{0x1008, 6, "89mncd", 0}, // a keeps its bytes, then the overlap (it starts lower than b), then b
		{0x2000, 4, "uvwx", 0},
		{0x2002, 4, "wx", 0x2004},
		{0x0fff, 2, "", 0x0fff},
		{0x3000, 1, "", 0x3000},
		{0x4000, 1, "", 0x4000},
	}
	for _, c := range cases {
		p := make([]byte, c.n)
		n, err := s.Read(c.addr, p)
		if string(p[:n]) != c.want {
			t.Errorf("Read(%#x, %d) = %q, want %q", c.addr, c.n, p[:n], c.want)
		}
		if c.missing == 0 && err != nil || c.missing != 0 && !IsNotPresent(err) {
			t.Errorf("Read(%#x) error %v", c.addr, err)
		}
		var np *NotPresentError
		if c.missing != 0 && (!errorsAs(err, &np) || np.Addr != c.missing) {
			t.Errorf("Read(%#x) missing address = %v, want %#x", c.addr, err, c.missing)
		}
	}
	if s.Overlaps() != 2 || len(s.Regions()) != 4 || s.Captured() != 10+2+4+4 {
		t.Errorf("overlaps %d regions %d captured %d", s.Overlaps(), len(s.Regions()), s.Captured())
	}
	if v, err := s.Uint32(0x2000); err != nil || v != 0x78777675 {
		t.Errorf("Uint32 = %#x %v", v, err)
	}
	if _, ok := s.RegionOf(0x100b); !ok || !s.Contains(0x100f) || s.Contains(0x1010) {
		t.Error("RegionOf/Contains")
	}
}

func TestWrapAround(t *testing.T) {
	src := bytes.NewReader(make([]byte, 16))
	s := New([]Region{{Addr: ^uint64(0) - 3, Size: 16, Src: src}})
	p := make([]byte, 8)
	n, err := s.Read(^uint64(0)-3, p)
	if n != 3 || !IsNotPresent(err) { // End saturates: the very last byte of the address space is not addressable
		t.Errorf("read across the top of the address space: n=%d err=%v", n, err)
	}
}

func TestShortSource(t *testing.T) {
	s := New([]Region{{Addr: 0x1000, Size: 100, Src: bytes.NewReader([]byte("abc")), Kind: "lying"}})
	if _, err := s.Bytes(0x1000, 10); err == nil || IsNotPresent(err) {
		t.Errorf("short source: %v", err)
	}
}

func errorsAs(err error, np **NotPresentError) bool {
	e, ok := err.(*NotPresentError)
	if ok {
		*np = e
	}
	return ok
}

// window is a backing that holds the bytes i&0xff for [lo, hi).
type window struct{ lo, hi uint64 }

func (w window) Read(addr uint64, p []byte) (int, error) {
	for i := range p {
		a := addr + uint64(i)
		if a < w.lo || a >= w.hi {
			return i, errors.New("page not in dump")
		}
		p[i] = byte(a)
	}
	return len(p), nil
}

func TestBacking(t *testing.T) {
	region := bytes.Repeat([]byte{0xee}, 0x10)
	s := New([]Region{{Addr: 0x1008, Size: 0x10, Src: bytes.NewReader(region), Kind: "stack"}}).WithBacking(window{0x1000, 0x2000})
	b := make([]byte, 0x20)
	n, err := s.Read(0x1000, b)
	if err != nil || n != 0x20 {
		t.Fatal(n, err)
	}
	// The region's bytes stand in front of the backing's.
	if b[7] != 0x07 || b[8] != 0xee || b[0x17] != 0xee || b[0x18] != 0x18 {
		t.Errorf("% x", b)
	}
	n, err = s.Read(0x1ff0, b)
	if n != 0x10 || err == nil || err.Error() != "page not in dump" {
		t.Errorf("read across the backing's end: %d, %v", n, err)
	}
	if !s.Contains(0x1800) || s.Contains(0x2000) || !s.Contains(0x1010) {
		t.Error("Contains disagrees with Read")
	}
	if s.Captured() != 0x10 || len(s.Regions()) != 1 {
		t.Error("the backing changed the region statistics")
	}
}

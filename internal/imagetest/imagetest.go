// Package imagetest lays PE images out in a sparse test address space as
// the Windows loader maps them, for tests that read images from a dump's
// memory.
package imagetest

import (
	"debug/pe"
	"errors"
	"os"
	"testing"
)

// Pages is a sparse address space of 4 KiB pages.
type Pages map[uint64][]byte

// ErrNotPresent is returned for addresses no page holds.
var ErrNotPresent = errors.New("not in the dump")

// Read reads p at addr, as far as pages are present.
func (m Pages) Read(addr uint64, p []byte) (int, error) {
	for n := 0; n < len(p); {
		pg, ok := m[(addr+uint64(n))&^0xfff]
		if !ok {
			return n, ErrNotPresent
		}
		n += copy(p[n:], pg[(addr+uint64(n))&0xfff:])
	}
	return len(p), nil
}

// Write stores b at addr, creating pages as needed.
func (m Pages) Write(addr uint64, b []byte) {
	for n := 0; n < len(b); {
		a := addr + uint64(n)
		if m[a&^0xfff] == nil {
			m[a&^0xfff] = make([]byte, 0x1000)
		}
		n += copy(m[a&^0xfff][a&0xfff:], b[n:])
	}
}

// Load maps the image file at path to base: its headers, then each
// section's raw data at its RVA, zero-filled up to its virtual size.
func (m Pages) Load(t testing.TB, path string, base uint64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m.Write(base, raw[:min(len(raw), 0x400)])
	for _, s := range f.Sections {
		n := min(s.Size, s.VirtualSize)
		if int(s.Offset)+int(n) > len(raw) {
			t.Fatalf("%s: section %s runs past the file", path, s.Name)
		}
		m.Write(base+uint64(s.VirtualAddress), raw[s.Offset:s.Offset+n])
		if s.VirtualSize > n {
			m.Write(base+uint64(s.VirtualAddress)+uint64(n), make([]byte, s.VirtualSize-n))
		}
	}
}

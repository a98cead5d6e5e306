package ptbuild

import (
	"fmt"
	"slices"
)

// PageSize is the size of the pages Memory holds.
const PageSize = 4096

// Memory is a sparse physical memory image made of 4 KiB pages. Reading a
// page that was never written fails with a *MissingError, like a dump that
// did not capture the page. The zero value is empty and ready to use.
type Memory struct {
	pages map[uint64]*[PageSize]byte
}

// MissingError reports a read of physical memory the image does not hold.
type MissingError struct {
	Addr uint64 // first physical address not held
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("physical address %#x is not in memory", e.Addr)
}

// ReadAt reads physical memory at off.
func (m *Memory) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &MissingError{Addr: uint64(off)}
	}
	n := 0
	for n < len(p) {
		a := uint64(off) + uint64(n)
		pg := m.pages[a/PageSize]
		if pg == nil {
			return n, &MissingError{Addr: a}
		}
		n += copy(p[n:], pg[a%PageSize:])
	}
	return n, nil
}

// WriteAt writes physical memory at off, adding the pages it touches.
func (m *Memory) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("ptbuild: negative physical address %#x", off)
	}
	n := 0
	for n < len(p) {
		a := uint64(off) + uint64(n)
		n += copy(m.page(a / PageSize)[a%PageSize:], p[n:])
	}
	return n, nil
}

// page returns the page at pfn, adding a zeroed one if needed.
func (m *Memory) page(pfn uint64) *[PageSize]byte {
	if m.pages == nil {
		m.pages = make(map[uint64]*[PageSize]byte)
	}
	pg := m.pages[pfn]
	if pg == nil {
		pg = new([PageSize]byte)
		m.pages[pfn] = pg
	}
	return pg
}

// AddPage adds a zeroed page at pfn if it is not there yet.
func (m *Memory) AddPage(pfn uint64) { m.page(pfn) }

// RemovePage drops the page at pfn, so reads of it fail.
func (m *Memory) RemovePage(pfn uint64) { delete(m.pages, pfn) }

// PFNs returns the page frame numbers of the pages held, ascending.
func (m *Memory) PFNs() []uint64 {
	pfns := make([]uint64, 0, len(m.pages))
	for pfn := range m.pages {
		pfns = append(pfns, pfn)
	}
	slices.Sort(pfns)
	return pfns
}

// Page returns the 4 KiB page at pfn (not a copy), or nil if not held.
func (m *Memory) Page(pfn uint64) []byte {
	if pg := m.pages[pfn]; pg != nil {
		return pg[:]
	}
	return nil
}

// Len returns the number of pages held.
func (m *Memory) Len() int { return len(m.pages) }

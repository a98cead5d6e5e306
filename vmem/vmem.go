// Package vmem is a sparse view of a virtual address space assembled from
// the pieces a crash dump captured: stacks, data blocks, code pages. Code
// above the file formats reads kernel addresses through it without caring
// where the bytes came from.
package vmem

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
)

// NotPresentError says that an address was not captured by the dump. It is
// a normal result for sparse dumps, not a sign of corruption.
type NotPresentError struct {
	Addr uint64
}

func (e *NotPresentError) Error() string {
	return fmt.Sprintf("address %#x is not in the dump", e.Addr)
}

// IsNotPresent reports whether err says an address was not captured.
func IsNotPresent(err error) bool {
	var np *NotPresentError
	return errors.As(err, &np)
}

// Region is a run of captured virtual memory backed by a byte range of a
// source (usually the dump file).
type Region struct {
	Addr uint64      // first virtual address
	Size uint64      // length in bytes
	Src  io.ReaderAt // where the bytes are
	Off  int64       // offset of the first byte in Src
	Kind string      // what captured it: "stack", "data block", "debugger data", ...
}

// End returns the first address past the region. It saturates at 2^64-1,
// so the last byte of the address space is never part of a region.
func (r Region) End() uint64 {
	if r.Addr+r.Size < r.Addr {
		return ^uint64(0)
	}
	return r.Addr + r.Size
}

// Space is a read-only, sparse virtual address space. It is safe for
// concurrent use once built.
type Space struct {
	regions  []Region // sorted by Addr, non-overlapping
	overlaps int
	backing  Reader // reads what no region holds; nil for none
}

// Reader reads virtual memory by address: a page-table walk over a dump's
// physical memory is one. It returns how many bytes it read and, when short,
// why.
type Reader interface {
	Read(addr uint64, p []byte) (int, error)
}

// WithBacking returns a copy of s that reads the addresses none of its
// regions holds from b: bigger dumps translate every kernel address through
// the page tables, while the regions keep what the dump stores by virtual
// address (a triage copy of the stack, say) in front of it.
func (s *Space) WithBacking(b Reader) *Space {
	c := *s
	c.backing = b
	return &c
}

// New builds a Space from regions. Where regions overlap, the one that
// starts lower keeps the shared bytes (ties go to the earlier in the list),
// and the overlap is counted; see Overlaps.
func New(regions []Region) *Space {
	// Sort indices, not regions: a Region holds an interface, and moving it
	// around costs write barriers.
	idx := make([]int32, 0, len(regions))
	for i, r := range regions {
		if r.Size > 0 && r.Src != nil {
			idx = append(idx, int32(i))
		}
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := cmp.Compare(regions[a].Addr, regions[b].Addr); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	rs := make([]Region, len(idx))
	for i, j := range idx {
		rs[i] = regions[j]
	}
	s := &Space{regions: make([]Region, 0, len(rs))}
	var covEnd uint64
	covered := false
	for _, r := range rs {
		if covered && r.Addr < covEnd {
			s.overlaps++
			if r.End() <= covEnd {
				continue
			}
			cut := covEnd - r.Addr
			r.Addr += cut
			r.Off += int64(cut)
			r.Size -= cut
		}
		s.regions = append(s.regions, r)
		covEnd, covered = r.End(), true
	}
	return s
}

// Regions returns the captured regions in address order.
func (s *Space) Regions() []Region { return s.regions }

// Overlaps returns how many regions overlapped others when the Space was built.
func (s *Space) Overlaps() int { return s.overlaps }

// find returns the index of the region holding addr, or -1.
func (s *Space) find(addr uint64) int {
	i := sort.Search(len(s.regions), func(i int) bool { return s.regions[i].End() > addr })
	if i < len(s.regions) && s.regions[i].Addr <= addr {
		return i
	}
	return -1
}

// Contains reports whether addr was captured.
func (s *Space) Contains(addr uint64) bool {
	if s.find(addr) >= 0 {
		return true
	}
	if s.backing == nil {
		return false
	}
	var b [1]byte
	n, _ := s.backing.Read(addr, b[:])
	return n == 1
}

// RegionOf returns the region holding addr.
func (s *Space) RegionOf(addr uint64) (Region, bool) {
	if i := s.find(addr); i >= 0 {
		return s.regions[i], true
	}
	return Region{}, false
}

// Read fills p with the bytes at addr. It returns the number of bytes read;
// when fewer than len(p) were captured, err is a *NotPresentError naming the
// first missing address.
func (s *Space) Read(addr uint64, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		a := addr + uint64(n)
		if a < addr { // wrapped past the top of the address space
			return n, &NotPresentError{Addr: a}
		}
		i := s.find(a)
		if i < 0 && s.backing != nil {
			m, err := s.readBacking(a, p[n:])
			n += m
			if err != nil {
				return n, err
			}
			continue
		}
		if i < 0 {
			return n, &NotPresentError{Addr: a}
		}
		r := s.regions[i]
		avail := r.End() - a
		chunk := p[n:]
		if uint64(len(chunk)) > avail {
			chunk = chunk[:avail]
		}
		m, err := r.Src.ReadAt(chunk, r.Off+int64(a-r.Addr))
		n += m
		if m < len(chunk) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("reading %#x (%s): %w", a, r.Kind, err)
		}
	}
	return n, nil
}

// readBacking reads from the backing up to the next region.
func (s *Space) readBacking(a uint64, p []byte) (int, error) {
	j := sort.Search(len(s.regions), func(i int) bool { return s.regions[i].Addr > a })
	if j < len(s.regions) && uint64(len(p)) > s.regions[j].Addr-a {
		p = p[:s.regions[j].Addr-a]
	}
	m, err := s.backing.Read(a, p)
	if m < len(p) {
		if err == nil {
			err = &NotPresentError{Addr: a + uint64(m)}
		}
		return m, err
	}
	return m, nil
}

// Bytes returns n bytes at addr, or an error if any is missing.
func (s *Space) Bytes(addr uint64, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := s.Read(addr, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Uint64 reads a little-endian 64-bit value.
func (s *Space) Uint64(addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := s.Read(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// Uint32 reads a little-endian 32-bit value.
func (s *Space) Uint32(addr uint64) (uint32, error) {
	var b [4]byte
	if _, err := s.Read(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// Pointer reads a pointer of size bytes (4 or 8).
func (s *Space) Pointer(addr uint64, size int) (uint64, error) {
	if size == 4 {
		v, err := s.Uint32(addr)
		return uint64(v), err
	}
	return s.Uint64(addr)
}

// Captured returns the number of captured bytes.
func (s *Space) Captured() uint64 {
	var t uint64
	for _, r := range s.regions {
		t += r.Size
	}
	return t
}

package peimage

import (
	"encoding/binary"
	"fmt"
	"io"
)

// VirtualMemory reads an address space, such as the kernel memory of a
// complete or kernel dump.
type VirtualMemory interface {
	Read(addr uint64, p []byte) (int, error)
}

// maxHeaders bounds the headers read from memory (SizeOfHeaders is
// normally one page).
const maxHeaders = 64 << 10

// NewMemoryImage parses the image a loader mapped at base: the headers at
// base and each section at base plus its RVA. Bigger crash dumps hold the
// drivers' images this way, so their unwind data, CodeView record and
// version resource can be read without the image file. Parts the dump did
// not capture (paged-out or discarded sections) fail when read, not here.
func NewMemoryImage(mem VirtualMemory, base uint64, name string) (*File, error) {
	m, err := newMappedImage(mem, base, name)
	if err != nil {
		return nil, err
	}
	return NewFile(m, name)
}

// mappedImage presents an image mapped in memory in its file layout, the
// layout debug/pe reads: file offsets inside a section's raw data are
// translated to the section's virtual address.
type mappedImage struct {
	mem      VirtualMemory
	base     uint64
	name     string
	headers  uint32 // SizeOfHeaders
	sections []mappedSection
}

type mappedSection struct {
	raw, rawSize, rva, virtSize uint32
}

func newMappedImage(mem VirtualMemory, base uint64, name string) (*mappedImage, error) {
	fail := func(format string, args ...any) (*mappedImage, error) {
		return nil, &FormatError{File: name, Msg: fmt.Sprintf("image in memory at %#x: ", base) + fmt.Sprintf(format, args...)}
	}
	dos := make([]byte, 0x40)
	if n, err := mem.Read(base, dos); n < len(dos) {
		return fail("headers not in the dump (%v)", err)
	}
	if dos[0] != 'M' || dos[1] != 'Z' {
		return fail("no MZ signature")
	}
	le := binary.LittleEndian
	lfanew := le.Uint32(dos[0x3c:])
	if lfanew > maxHeaders-0x108 {
		return fail("PE header offset %#x is implausible", lfanew)
	}
	nt := make([]byte, 0x18+0x5c)
	if n, err := mem.Read(base+uint64(lfanew), nt); n < len(nt) {
		return fail("PE header not in the dump (%v)", err)
	}
	if string(nt[:4]) != "PE\x00\x00" {
		return fail("no PE signature at %#x", lfanew)
	}
	nsec := uint32(le.Uint16(nt[6:]))
	optSize := uint32(le.Uint16(nt[20:]))
	headers := le.Uint32(nt[0x18+0x3c:]) // SizeOfHeaders sits at the same offset in PE32 and PE32+
	secTable := lfanew + 0x18 + optSize
	if nsec > 96 || headers > maxHeaders || secTable+nsec*40 > maxHeaders {
		return fail("%d sections, %#x bytes of headers: implausible", nsec, headers)
	}
	tab := make([]byte, nsec*40)
	if n, err := mem.Read(base+uint64(secTable), tab); n < len(tab) {
		return fail("section table not in the dump (%v)", err)
	}
	m := &mappedImage{mem: mem, base: base, name: name, headers: max(headers, secTable+nsec*40)}
	for i := uint32(0); i < nsec; i++ {
		s := tab[i*40:]
		m.sections = append(m.sections, mappedSection{virtSize: le.Uint32(s[8:]), rva: le.Uint32(s[12:]), rawSize: le.Uint32(s[16:]), raw: le.Uint32(s[20:])})
	}
	return m, nil
}

// ReadAt reads the image's file bytes at off from where the loader put
// them. Bytes of a section's raw data beyond its virtual size were never
// loaded and read as zero, as the loader leaves them.
func (m *mappedImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset", m.name)
	}
	n := 0
	for n < len(p) {
		o := uint64(off) + uint64(n)
		va, avail, ok := m.locate(o)
		if !ok {
			if n > 0 {
				return n, io.ErrUnexpectedEOF
			}
			return 0, io.EOF
		}
		chunk := p[n : n+int(min(uint64(len(p)-n), avail))]
		if va == ^uint64(0) {
			clear(chunk) // raw data past the virtual size
			n += len(chunk)
			continue
		}
		k, err := m.mem.Read(va, chunk)
		n += k
		if k < len(chunk) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("%s: file offset %#x (address %#x): %w", m.name, o+uint64(k), va+uint64(k), err)
		}
	}
	return n, nil
}

// locate maps a file offset to its virtual address and the bytes that
// follow contiguously; va is all ones for raw bytes past a section's
// virtual size.
func (m *mappedImage) locate(off uint64) (va, avail uint64, ok bool) {
	if off < uint64(m.headers) {
		return m.base + off, uint64(m.headers) - off, true
	}
	for _, s := range m.sections {
		if s.rawSize == 0 || off < uint64(s.raw) || off >= uint64(s.raw)+uint64(s.rawSize) {
			continue
		}
		in := off - uint64(s.raw)
		if s.virtSize != 0 && in >= uint64(s.virtSize) {
			return ^uint64(0), uint64(s.raw) + uint64(s.rawSize) - off, true
		}
		end := uint64(s.rawSize)
		if s.virtSize != 0 {
			end = min(end, uint64(s.virtSize))
		}
		return m.base + uint64(s.rva) + in, end - in, true
	}
	return 0, 0, false
}

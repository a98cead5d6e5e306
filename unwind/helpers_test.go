package unwind

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/bugcheck/bugcheck/peimage"
)

// testMem is sparse memory made of regions.
type testMem struct{ regions []*region }

type region struct {
	base uint64
	b    []byte
}

func (m *testMem) add(base uint64, size int) *region {
	r := &region{base, make([]byte, size)}
	m.regions = append(m.regions, r)
	return r
}

func (m *testMem) Bytes(addr uint64, n int) ([]byte, error) {
	for _, r := range m.regions {
		if addr >= r.base && addr-r.base+uint64(n) <= uint64(len(r.b)) {
			return r.b[addr-r.base : addr-r.base+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("%#x bytes at %#x not captured", n, addr)
}

func (m *testMem) put(addr uint64, b []byte) {
	dst, err := m.Bytes(addr, len(b))
	if err != nil {
		panic(err)
	}
	copy(dst, b)
}

func (m *testMem) put64(addr uint64, vs ...uint64) {
	for i, v := range vs {
		m.put(addr+8*uint64(i), binary.LittleEndian.AppendUint64(nil, v))
	}
}

func (m *testMem) put32(addr uint64, vs ...uint32) {
	for i, v := range vs {
		m.put(addr+4*uint64(i), binary.LittleEndian.AppendUint32(nil, v))
	}
}

// testMods is a module list.
type testMods []Module

func (ms testMods) ModuleAt(addr uint64) (Module, bool) {
	for _, m := range ms {
		if addr >= m.Base && addr-m.Base < uint64(m.Size) {
			return m, true
		}
	}
	return Module{}, false
}

// testImages maps module names to images.
type testImages map[string]*peimage.File

func (im testImages) Image(name string, _, _ uint32) (*peimage.File, error) {
	if f, ok := im[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("%s not found", name)
}

// section builds the single section of a synthetic image, mapped at RVA
// 0x1000: the exception table at its start, anything else at chosen offsets.
type section struct{ data []byte }

func newSection() *section { return &section{make([]byte, 0x1000)} }

func (s *section) at(rva uint32, b ...byte) { copy(s.data[rva-0x1000:], b) }

func (s *section) words(rva uint32, ws ...uint32) {
	for i, w := range ws {
		binary.LittleEndian.PutUint32(s.data[rva-0x1000+4*uint32(i):], w)
	}
}

// image builds a PE image of machine around s, its exception directory
// covering the first excSize bytes.
func (s *section) image(t testing.TB, machine uint16, excSize uint32) *peimage.File {
	t.Helper()
	const sectRVA, fileOff = 0x1000, 0x400
	var oh pe.OptionalHeader64
	oh.Magic = 0x20b
	oh.ImageBase = 0x140000000
	oh.SectionAlignment, oh.FileAlignment = 0x1000, 0x200
	oh.SizeOfImage = sectRVA + uint32(len(s.data)+0xfff)&^0xfff
	oh.SizeOfHeaders = fileOff
	oh.NumberOfRvaAndSizes = 16
	oh.DataDirectory[peimage.DirException] = pe.DataDirectory{VirtualAddress: sectRVA, Size: excSize}
	fh := pe.FileHeader{Machine: machine, NumberOfSections: 1, SizeOfOptionalHeader: uint16(binary.Size(oh)), Characteristics: 0x22}
	sh := pe.SectionHeader32{VirtualSize: uint32(len(s.data)), VirtualAddress: sectRVA, SizeOfRawData: uint32(len(s.data)), PointerToRawData: fileOff, Characteristics: 0x60000020}
	copy(sh.Name[:], ".text")
	var b bytes.Buffer
	b.Write([]byte("MZ"))
	b.Write(make([]byte, 0x3a))
	binary.Write(&b, binary.LittleEndian, uint32(0x40))
	b.Write([]byte("PE\x00\x00"))
	binary.Write(&b, binary.LittleEndian, fh)
	binary.Write(&b, binary.LittleEndian, oh)
	binary.Write(&b, binary.LittleEndian, sh)
	b.Write(make([]byte, fileOff-b.Len()))
	b.Write(s.data)
	f, err := peimage.NewFile(bytes.NewReader(b.Bytes()), "test.sys")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// wantFrame is an expected frame: stack pointer, instruction pointer, method.
type wantFrame struct {
	sp, ip uint64
	method string
}

func checkFrames(t *testing.T, name string, res Result, want []wantFrame, reason Stop) {
	t.Helper()
	ok := len(res.Frames) == len(want) && res.Reason == reason
	for i := 0; ok && i < len(want); i++ {
		f := res.Frames[i]
		ok = f.SP == want[i].sp && f.IP == want[i].ip && f.Method == want[i].method && f.Number == i
	}
	if !ok {
		t.Errorf("%s: stopped (%s) %s", name, res.Reason, res.Stopped)
		for i, f := range res.Frames {
			t.Errorf("  got  %d: sp %#x ip %#x %s", i, f.SP, f.IP, f.Method)
		}
		for i, w := range want {
			t.Errorf("  want %d: sp %#x ip %#x %s", i, w.sp, w.ip, w.method)
		}
		t.Errorf("  want stop %s", reason)
	}
}

package peimage

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

// testImage builds a PE image of the given machine whose single section,
// at RVA 0x1000, holds data; the exception directory covers [excOff,
// excOff+excSize) of the section.
func testImage(machine uint16, data []byte, excOff, excSize uint32) []byte {
	const sectRVA, fileOff = 0x1000, 0x400
	vsize := uint32(len(data))
	if vsize == 0 {
		vsize = 1
	}
	var oh pe.OptionalHeader64
	oh.Magic = 0x20b
	oh.ImageBase = 0x140000000
	oh.SectionAlignment, oh.FileAlignment = 0x1000, 0x200
	oh.SizeOfImage = sectRVA + (vsize+0xfff)&^0xfff
	oh.SizeOfHeaders = fileOff
	oh.NumberOfRvaAndSizes = 16
	if excSize != 0 {
		oh.DataDirectory[DirException] = pe.DataDirectory{VirtualAddress: sectRVA + excOff, Size: excSize}
	}
	fh := pe.FileHeader{Machine: machine, NumberOfSections: 1, SizeOfOptionalHeader: uint16(binary.Size(oh)), Characteristics: 0x22}
	sh := pe.SectionHeader32{VirtualSize: vsize, VirtualAddress: sectRVA, SizeOfRawData: uint32(len(data)), PointerToRawData: fileOff, Characteristics: 0x60000020}
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
	b.Write(data)
	return b.Bytes()
}

func openTestImage(t testing.TB, machine uint16, data []byte, excOff, excSize uint32) *File {
	t.Helper()
	f, err := NewFile(bytes.NewReader(testImage(machine, data, excOff, excSize)), "test.sys")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestExceptionsTestUnwind decodes every .pdata entry of a real MSVC x64
// executable and its unwind info; the counts are what llvm-readobj
// --unwind reports for the entries the exception directory declares.
func TestExceptionsTestUnwind(t *testing.T) {
	f, err := Open(corpus.Path(t, "pdb", "exceptions-test.exe"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fns, err := f.RuntimeFunctions()
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 0xad4/12 { // ExceptionTableSize 0xAD4
		t.Errorf("%d runtime functions, want 231", len(fns))
	}
	ops := map[uint8]int{}
	chained := 0
	for _, rf := range fns {
		chain, err := f.UnwindChain(rf)
		if err != nil {
			t.Fatalf("%+v: %v", rf, err)
		}
		for _, c := range chain[0].Codes {
			ops[c.Op]++
		}
		if len(chain) > 1 {
			chained++
			// The parent a chained record names is itself an entry of the table.
			parent := chain[0].Chained
			if got, ok := LookupFunction(fns, parent.Begin); !ok || got != *parent {
				t.Errorf("%+v: chained parent %+v is not in the table (%+v)", rf, parent, got)
			}
			if last := chain[len(chain)-1]; last.Flags&UnwFlagChainInfo != 0 {
				t.Errorf("%+v: the chain does not end at a primary record", rf)
			}
		}
	}
	want := map[uint8]int{UwopPushNonvol: 170, UwopAllocLarge: 12, UwopAllocSmall: 172, UwopSaveNonvol: 27}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("op %d: %d codes, want %d", op, ops[op], n)
		}
	}
	if chained != 14 {
		t.Errorf("%d chained entries, want 14", chained)
	}
	// One record in full: the chained fragment at 0x4ebf saves rbx at 0x1f0
	// and continues with the function at 0x4e60.
	rf, ok := LookupFunction(fns, 0x4ec0)
	if !ok || rf.Begin != 0x4ebf || rf.End != 0x4f98 {
		t.Fatalf("lookup 0x4ec0 = %+v", rf)
	}
	chain, _ := f.UnwindChain(rf)
	if u := chain[0]; u.SizeOfProlog != 8 || len(u.Codes) != 1 || u.Codes[0] != (UnwindCode{CodeOffset: 8, Op: UwopSaveNonvol, Info: 3, Operand: 0x1f0 / 8}) ||
		*u.Chained != (RuntimeFunction{0x4e60, 0x4ebf, 0xfba4}) {
		t.Errorf("0x4ebf unwind info %+v chained %+v", u, u.Chained)
	}
}

// x64Info encodes an UNWIND_INFO.
func x64Info(flags, prolog, frame uint8, slots []uint16, chained *RuntimeFunction) []byte {
	b := []byte{1 | flags<<3, prolog, byte(len(slots)), frame}
	for _, s := range slots {
		b = binary.LittleEndian.AppendUint16(b, s)
	}
	if len(slots)%2 == 1 {
		b = append(b, 0, 0)
	}
	if chained != nil {
		b = binary.LittleEndian.AppendUint32(b, chained.Begin)
		b = binary.LittleEndian.AppendUint32(b, chained.End)
		b = binary.LittleEndian.AppendUint32(b, chained.UnwindInfo)
	}
	return b
}

func TestUnwindChainHostile(t *testing.T) {
	// Section layout: .pdata at 0, unwind infos from 0x100.
	put := func(data []byte, off int, b []byte) { copy(data[off:], b) }
	rfAt := func(begin, end, info uint32) []byte {
		return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, begin), end), info)
	}
	cases := []struct {
		name string
		fill func(d []byte)
		want string
	}{
		{"loop", func(d []byte) { // 0x1100 chains to itself
			put(d, 0, rfAt(0x1800, 0x1810, 0x1100))
			put(d, 0x100, x64Info(UnwFlagChainInfo, 0, 0, nil, &RuntimeFunction{0x1800, 0x1810, 0x1100}))
		}, "loops"},
		{"slots", func(d []byte) { // UWOP_ALLOC_LARGE claims a slot past the count
			put(d, 0, rfAt(0x1800, 0x1810, 0x1100))
			put(d, 0x100, x64Info(0, 4, 0, []uint16{0x0104}, nil))
		}, "more slots"},
		{"indirect loop", func(d []byte) { // an indirect entry pointing at itself
			put(d, 0, rfAt(0x1800, 0x1810, 0x1001))
		}, "loop"},
		{"version", func(d []byte) {
			put(d, 0, rfAt(0x1800, 0x1810, 0x1100))
			put(d, 0x100, []byte{3, 0, 0, 0})
		}, "version 3"},
		{"outside", func(d []byte) {
			put(d, 0, rfAt(0x1800, 0x1810, 0x7fff0000))
		}, "past the end"},
	}
	for _, c := range cases {
		data := make([]byte, 0x1000)
		c.fill(data)
		f := openTestImage(t, 0x8664, data, 0, 12)
		fns, err := f.RuntimeFunctions()
		if err != nil || len(fns) != 1 {
			t.Fatalf("%s: %v %v", c.name, fns, err)
		}
		_, err = f.UnwindChain(fns[0])
		var fe *FormatError
		if !errors.As(err, &fe) || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%s: err = %v, want a FormatError with %q", c.name, err, c.want)
		}
	}
}

func TestUnwindChainIndirect(t *testing.T) {
	data := make([]byte, 0x1000)
	rf := func(begin, end, info uint32) []byte {
		return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, begin), end), info)
	}
	copy(data, rf(0x1800, 0x1820, 0x1100))
	copy(data[12:], rf(0x1820, 0x1830, 0x1001)) // indirect: use the entry at 0x1000
	copy(data[0x100:], x64Info(0, 1, 0, []uint16{0x3001}, nil))
	f := openTestImage(t, 0x8664, data, 0, 24)
	fns, _ := f.RuntimeFunctions()
	chain, err := f.UnwindChain(fns[1])
	if err != nil || len(chain) != 1 || chain[0].Codes[0].Op != UwopPushNonvol || chain[0].Codes[0].Info != 3 {
		t.Fatalf("indirect entry: %+v %v", chain, err)
	}
}

// FuzzUnwindData feeds arbitrary bytes to the x64 and ARM64 unwind-data
// parsers, as a whole image and as the section of a synthetic one.
func FuzzUnwindData(f *testing.F) {
	if root, ok := corpus.Root(); ok {
		if b, err := os.ReadFile(root + "/pdb/exceptions-test.exe"); err == nil {
			f.Add(append([]byte{0}, b...))
			// The .pdata and .xdata of the real image, relocated to our section.
			if img, err := NewFile(bytes.NewReader(b), "seed"); err == nil {
				if pd, err := img.ReadRVA(0x12000, 0x180); err == nil {
					f.Add(append([]byte{1}, pd...))
				}
			}
		}
	}
	f.Add([]byte{1, 0, 0x18, 0, 0, 0x40, 0x18, 0, 0, 0, 0x11, 0, 0, 1, 4, 2, 0, 0x32, 0x50})
	f.Add([]byte{2, 0, 0x18, 0, 0, 0x1d, 0x00, 0x2a, 0x01, 0x20, 0x18, 0, 0, 0x10, 0, 0, 0x08, 0xe1, 0x81, 0xcc, 0x01, 0xe4})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		var img *File
		var err error
		switch data[0] % 3 {
		case 0:
			img, err = NewFile(bytes.NewReader(data[1:]), "fuzz.sys")
		case 1:
			img, err = NewFile(bytes.NewReader(testImage(0x8664, data[1:], 0, uint32(min(len(data)-1, 0x60)))), "fuzz.sys")
		case 2:
			img, err = NewFile(bytes.NewReader(testImage(MachineARM64, data[1:], 0, uint32(min(len(data)-1, 0x40)))), "fuzz.sys")
		}
		if err != nil {
			return
		}
		if fns, err := img.RuntimeFunctions(); err == nil {
			for i, rf := range fns {
				if i == 64 {
					break
				}
				img.UnwindChain(rf)
			}
		}
		if fns, err := img.ARM64Functions(); err == nil {
			for i, e := range fns {
				if i == 64 {
					break
				}
				LookupARM64(fns, e.Begin)
				if u, err := img.ARM64Unwind(e); err == nil {
					DecodeARM64Codes(u.Codes)
					for _, ep := range u.Epilogs {
						ARM64ScopeSize(u.Codes, ep.Index, true)
					}
					ARM64ScopeSize(u.Codes, u.EpilogIndex, true)
				}
			}
		}
		DecodeARM64Codes(data)
	})
}

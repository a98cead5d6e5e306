package peimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// packed encodes ARM64 packed unwind data.
func packed(flag, funcWords, regF, regI, h, cr, frame16 uint32) uint32 {
	return flag | funcWords<<2 | regF<<13 | regI<<16 | h<<20 | cr<<21 | frame16<<23
}

func hexBytes(s string) []byte {
	var b []byte
	for _, f := range strings.Fields(s) {
		var v byte
		for _, c := range f {
			v = v<<4 | byte(strings.IndexRune("0123456789abcdef", c))
		}
		b = append(b, v)
	}
	return b
}

func TestARM64PackedExpansion(t *testing.T) {
	cases := []struct {
		name     string
		data     uint32
		codes    string
		inHeader bool
		index    int
	}{
		// The specification's largest packed form: every register class, homed
		// arguments, a chained frame with pacibsp and 8000 bytes of frame.
		{"full", packed(1, 0x100, 7, 10, 1, 2, 500),
			"e1 40 c1 e7 e3 e3 e3 e3 d9 90 d9 0e d8 8c d8 0a ca 08 c9 86 c9 04 c8 82 cc 19 fc e4" +
				" e1 40 c1 e7 d9 90 d9 0e d8 8c d8 0a ca 08 c9 86 c9 04 c8 82 cc 19 fc e4", true, 29},
		{"chained", packed(1, 8, 0, 2, 0, 3, 2), "e1 81 cc 01 e4", true, 1},
		{"locals only", packed(1, 8, 0, 0, 0, 0, 4), "04 e4", true, 0},
		{"x19 and lr", packed(1, 8, 0, 1, 0, 1, 2), "01 d6 00 01 e4", true, 0},
		{"int and fp", packed(1, 8, 1, 3, 0, 0, 4), "01 d8 03 d0 82 cc 05 e4", true, 0},
		{"fragment", packed(2, 8, 0, 2, 0, 3, 2), "e5 e1 81 cc 01 e4", false, 0},
	}
	for _, c := range cases {
		u, err := (&File{}).ARM64Unwind(ARM64Function{Begin: 0x1000, Data: c.data})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(u.Codes, hexBytes(c.codes)) || u.EpilogInHeader != c.inHeader || u.EpilogIndex != c.index {
			t.Errorf("%s: codes % x in header %v index %d, want %s %v %d", c.name, u.Codes, u.EpilogInHeader, u.EpilogIndex, c.codes, c.inHeader, c.index)
		}
		if u.FunctionLength != 4*(c.data>>2&0x7ff) || u.Packed == nil || u.Begin != 0x1000 {
			t.Errorf("%s: %+v", c.name, u)
		}
	}
}

func TestDecodeARM64Code(t *testing.T) {
	cases := []struct {
		code  string
		op    ARM64Op
		class uint8
		reg   uint8
		count uint8
		off   int32
		size  uint32
	}{
		{"05", ARM64AllocS, 0, 0, 0, 0, 80},
		{"22", ARM64SaveR19R20X, ARM64RegX, 19, 2, -16, 0},
		{"42", ARM64SaveFPLR, ARM64RegX, 29, 2, 16, 0},
		{"85", ARM64SaveFPLRX, ARM64RegX, 29, 2, -48, 0},
		{"c1 e7", ARM64AllocM, 0, 0, 0, 0, 7792},
		{"c8 82", ARM64SaveRegP, ARM64RegX, 21, 2, 16, 0},
		{"cc 19", ARM64SaveRegPX, ARM64RegX, 19, 2, -208, 0},
		{"d0 43", ARM64SaveReg, ARM64RegX, 20, 1, 24, 0},
		{"d4 62", ARM64SaveRegX, ARM64RegX, 22, 1, -24, 0},
		{"d6 42", ARM64SaveLRPair, ARM64RegX, 21, 2, 16, 0},
		{"d8 0a", ARM64SaveFRegP, ARM64RegD, 8, 2, 80, 0},
		{"d9 90", ARM64SaveFRegP, ARM64RegD, 14, 2, 128, 0},
		{"da 01", ARM64SaveFRegPX, ARM64RegD, 8, 2, -16, 0},
		{"dc 41", ARM64SaveFReg, ARM64RegD, 9, 1, 8, 0},
		{"de 21", ARM64SaveFRegX, ARM64RegD, 9, 1, -16, 0},
		{"e0 00 01 00", ARM64AllocL, 0, 0, 0, 0, 4096},
		{"e1", ARM64SetFP, 0, 0, 0, 0, 0},
		{"e2 04", ARM64AddFP, 0, 0, 0, 0, 32},
		{"e3", ARM64Nop, 0, 0, 0, 0, 0},
		{"e4", ARM64End, 0, 0, 0, 0, 0},
		{"e5", ARM64EndC, 0, 0, 0, 0, 0},
		{"e6", ARM64SaveNext, 0, 0, 0, 0, 0},
		{"e7 4c 05", ARM64SaveAnyReg, ARM64RegX, 12, 2, 80, 0},  // stp x12,x13,[sp,#80]
		{"e7 2a 03", ARM64SaveAnyReg, ARM64RegX, 10, 1, -64, 0}, // str x10,[sp,#-64]!
		{"e7 05 82", ARM64SaveAnyReg, ARM64RegQ, 5, 1, 32, 0},   // str q5,[sp,#32]
		{"e7 80 00", ARM64Invalid, 0, 0, 0, 0, 0},               // the fixed bit set
		{"e8", ARM64TrapFrame, 0, 0, 0, 0, 0},
		{"e9", ARM64MachineFrame, 0, 0, 0, 0, 0},
		{"ea", ARM64Context, 0, 0, 0, 0, 0},
		{"eb", ARM64ECContext, 0, 0, 0, 0, 0},
		{"ec", ARM64ClearUnwoundToCall, 0, 0, 0, 0, 0},
		{"fc", ARM64PACSignLR, 0, 0, 0, 0, 0},
		{"f9 00 00", ARM64Reserved, 0, 0, 0, 0, 0},
		{"df 00", ARM64Invalid, 0, 0, 0, 0, 0},
		{"ed", ARM64Invalid, 0, 0, 0, 0, 0},
	}
	for _, c := range cases {
		b := hexBytes(c.code)
		got, err := DecodeARM64Code(b, 0)
		if err != nil {
			t.Errorf("%s: %v", c.code, err)
			continue
		}
		want := ARM64Code{Len: len(b), First: b[0], Op: c.op, Class: c.class, Reg: c.reg, Count: c.count, Offset: c.off, Size: c.size}
		if got != want {
			t.Errorf("%s: %+v (%s), want %+v", c.code, got, got.Op, want)
		}
	}
	// Truncated multi-byte codes are errors, not reads past the end.
	for _, s := range []string{"c8", "e0 00 01", "e7 4c", "e2"} {
		if _, err := DecodeARM64Code(hexBytes(s), 0); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
	if n := ARM64ScopeSize(hexBytes("e1 40 c1 e7 e3 e3 e3 e3 e8 fc e4 01"), 0, false); n != 8 {
		t.Errorf("scope size = %d, want 8 (the trap-frame code stands for no instruction)", n)
	}
	if n := ARM64ScopeSize(hexBytes("e1 40 e4"), 0, true); n != 3 {
		t.Errorf("epilog scope size = %d, want 3 (two codes and the ret)", n)
	}
}

// arm64Section lays out ARM64 exception data: the .pdata entries at 0,
// .xdata records after them.
type arm64Section struct {
	data  []byte
	pdata int
}

func (s *arm64Section) entry(begin, word uint32) {
	binary.LittleEndian.PutUint32(s.data[8*s.pdata:], begin)
	binary.LittleEndian.PutUint32(s.data[8*s.pdata+4:], word)
	s.pdata++
}

func (s *arm64Section) put(off int, words ...uint32) {
	for i, w := range words {
		binary.LittleEndian.PutUint32(s.data[off+4*i:], w)
	}
}

func TestARM64XData(t *testing.T) {
	s := &arm64Section{data: make([]byte, 0x1000)}
	// 0x1800: E=1, one code word: save_fplr_x(-16), set_fp, end; epilog at index 1.
	s.entry(0x1800, 0x1100)
	s.put(0x100, 0x10/4|1<<21|1<<22|1<<27, binary.LittleEndian.Uint32([]byte{0x81, 0xe1, 0xe4, 0}))
	// 0x1900: two epilog scopes, handler data, two code words.
	s.entry(0x1900, 0x1120)
	s.put(0x120, 0x40/4|1<<20|2<<22|2<<27, 0x20/4|0<<22, 0x38/4|4<<22,
		binary.LittleEndian.Uint32([]byte{0xe1, 0x81, 0xcc, 0x01}), binary.LittleEndian.Uint32([]byte{0xe4, 0xe3, 0xe3, 0xe4}), 0x1abc)
	// 0x1a00: the extended header (both counts 0): one epilog, one code word.
	s.entry(0x1a00, 0x1160)
	s.put(0x160, 0x10/4, 1|1<<16, 0x0c/4|0<<22, binary.LittleEndian.Uint32([]byte{0x02, 0xe4, 0, 0}))
	// 0x1a40: packed; 0x1a50: chained to the 0x1800 entry.
	s.entry(0x1a40, packed(1, 4, 0, 0, 0, 0, 1))
	s.entry(0x1a50, 0x1000+3)
	f := openTestImage(t, MachineARM64, s.data, 0, uint32(8*s.pdata))
	fns, err := f.ARM64Functions()
	if err != nil || len(fns) != 5 {
		t.Fatalf("%d functions, %v", len(fns), err)
	}
	wantLen := []uint32{0x10, 0x40, 0x10, 0x10, 0}
	for i, e := range fns {
		if e.Length != wantLen[i] {
			t.Errorf("entry %#x: length %#x, want %#x", e.Begin, e.Length, wantLen[i])
		}
	}
	for _, c := range []struct {
		rva   uint32
		begin uint32
		ok    bool
	}{{0x1800, 0x1800, true}, {0x180c, 0x1800, true}, {0x1810, 0, false}, {0x193c, 0x1900, true}, {0x1a4c, 0x1a40, true}, {0x17fc, 0, false}} {
		e, ok := LookupARM64(fns, c.rva)
		if ok != c.ok || e.Begin != c.begin {
			t.Errorf("lookup %#x = %+v %v", c.rva, e, ok)
		}
	}
	u, err := f.ARM64Unwind(fns[0])
	if err != nil || !u.EpilogInHeader || u.EpilogIndex != 1 || !bytes.Equal(u.Codes, []byte{0x81, 0xe1, 0xe4, 0}) || u.FunctionLength != 0x10 {
		t.Errorf("E=1 record: %+v %v", u, err)
	}
	u, err = f.ARM64Unwind(fns[1])
	if err != nil || u.EpilogInHeader || len(u.Epilogs) != 2 || u.Epilogs[1] != (ARM64Epilog{Start: 0x38, Index: 4}) ||
		!u.HasHandler || u.Handler != 0x1abc || len(u.Codes) != 8 {
		t.Errorf("scoped record: %+v %v", u, err)
	}
	u, err = f.ARM64Unwind(fns[2])
	if err != nil || len(u.Epilogs) != 1 || u.Epilogs[0].Start != 0xc || !bytes.Equal(u.Codes, []byte{0x02, 0xe4, 0, 0}) {
		t.Errorf("extended header: %+v %v", u, err)
	}
	u, err = f.ARM64Unwind(fns[4])
	if err != nil || !u.Chained || u.Begin != 0x1800 || u.EpilogIndex != 1 {
		t.Errorf("chained entry: %+v %v", u, err)
	}
}

func TestARM64XDataHostile(t *testing.T) {
	cases := []struct {
		name string
		fill func(s *arm64Section)
		want string
	}{
		{"code words past the image", func(s *arm64Section) {
			s.entry(0x1800, 0x1ff8)
			s.put(0xff8, 4|31<<27)
		}, "past the end"},
		{"epilog index past the codes", func(s *arm64Section) {
			s.entry(0x1800, 0x1100)
			s.put(0x100, 4|1<<22|1<<27, 40<<22, 0xe4)
		}, "beyond"},
		{"header epilog index past the codes", func(s *arm64Section) {
			s.entry(0x1800, 0x1100)
			s.put(0x100, 4|1<<21|9<<22|1<<27, 0xe4)
		}, "beyond"},
		{"version", func(s *arm64Section) {
			s.entry(0x1800, 0x1100)
			s.put(0x100, 4|1<<18)
		}, "version 1"},
		{"chain loop", func(s *arm64Section) {
			s.entry(0x1800, 0x1000+3) // points at itself
		}, "too deep"},
		{"xdata outside", func(s *arm64Section) {
			s.entry(0x1800, 0x7ffff000)
		}, "past the end"},
	}
	for _, c := range cases {
		s := &arm64Section{data: make([]byte, 0x1000)}
		c.fill(s)
		f := openTestImage(t, MachineARM64, s.data, 0, uint32(8*s.pdata))
		fns, err := f.ARM64Functions()
		if err != nil || len(fns) != 1 {
			t.Fatalf("%s: %v %v", c.name, fns, err)
		}
		_, err = f.ARM64Unwind(fns[0])
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want a FormatError with %q", c.name, err, c.want)
		}
	}
	// An x64 image has no ARM64 table, and the other way round.
	f := openTestImage(t, 0x8664, make([]byte, 16), 0, 8)
	if _, err := f.ARM64Functions(); err == nil {
		t.Error("ARM64Functions on an x64 image")
	}
	a := openTestImage(t, MachineARM64, make([]byte, 16), 0, 8)
	if _, err := a.RuntimeFunctions(); err == nil {
		t.Error("RuntimeFunctions on an ARM64 image")
	}
}

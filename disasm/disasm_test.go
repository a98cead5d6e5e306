package disasm

import (
	"testing"
)

func TestDecode(t *testing.T) {
	regs := RegMap{"r9": 0x44, "r8": 0xffff9b0003360008, "rcx": 0x1000, "rax": 2, "rdi": 0x5000, "esi": 0x100,
		"x1": 0x2000, "x3": 0x3000, "x4": 2, "sp": 0x8000, "w5": 0xfffffffe}
	const pc = 0xfffff80000001000
	cases := []struct {
		arch   Arch
		code   []byte
		text   string
		access Access
		size   int
		ea     uint64
		eaOK   bool
	}{
		{X64, []byte{0x43, 0x89, 0x14, 0x01}, "mov dword ptr [r9+r8],edx", AccessWrite, 4, 0xffff9b000336004c, true},
		{X64, []byte{0x89, 0x14, 0x81}, "mov dword ptr [rcx+rax*4],edx", AccessWrite, 4, 0x1008, true},
		{X64, []byte{0x48, 0x8b, 0x41, 0x08}, "mov rax,qword ptr [rcx+8]", AccessRead, 8, 0x1008, true},
		{X64, []byte{0x48, 0x8b, 0x05, 0x10, 0, 0, 0}, "mov rax,qword ptr [0xfffff80000001017]", AccessRead, 8, 0xfffff80000001017, true},
		{X64, []byte{0xf0, 0xff, 0x01}, "lock inc dword ptr [rcx]", AccessReadWrite, 4, 0x1000, true},
		{X64, []byte{0xf3, 0xaa}, "rep stosb byte ptr [rdi]", AccessWrite, 1, 0x5000, true},
		{X64, []byte{0xff, 0x15, 0x10, 0, 0, 0}, "call qword ptr [0xfffff80000001016]", AccessRead, 8, 0xfffff80000001016, true},
		{X64, []byte{0x48, 0x8d, 0x04, 0x24}, "lea rax,[rsp]", AccessNone, 0, 0, false},
		{X64, []byte{0xe8, 0x96, 0xf7, 0xff, 0xff}, "call 0xfffff8000000079b", AccessNone, 0, 0, false},
		{X64, []byte{0x65, 0x48, 0x8b, 0x04, 0x25, 0x88, 0x01, 0, 0}, "mov rax,qword ptr gs:[188h]", AccessRead, 8, 0, false},
		{X64, []byte{0x0f, 0x11, 0x01}, "movups xmmword ptr [rcx],xmm0", AccessWrite, 16, 0x1000, true},
		{X64, []byte{0x48, 0xa5}, "movsq qword ptr [rdi],qword ptr [rsi]", AccessWrite, 8, 0x5000, true},
		{X64, []byte{0xb9, 0x05, 0, 0, 0xc0}, "mov ecx,0C0000005h", AccessNone, 0, 0, false},
		{X64, []byte{0x48, 0x83, 0xec, 0x28}, "sub rsp,28h", AccessNone, 0, 0, false},
		{X64, []byte{0x48, 0x39, 0x01}, "cmp qword ptr [rcx],rax", AccessRead, 8, 0x1000, true},
		{X64, []byte{0x8f, 0x01}, "pop qword ptr [rcx]", AccessWrite, 8, 0x1000, true},
		{X64, []byte{0x48, 0x8b, 0x02}, "mov rax,qword ptr [rdx]", AccessRead, 8, 0, false}, // rdx unknown
		{X86, []byte{0x8b, 0x46, 0x04}, "mov eax,dword ptr [esi+4]", AccessRead, 4, 0x104, true},
		{ARM64, []byte{0x20, 0x08, 0x40, 0xf9}, "ldr x0, [x1,#16]", AccessRead, 8, 0x2010, true},
		{ARM64, []byte{0x62, 0x78, 0x24, 0xb8}, "str w2, [x3,x4,lsl #2]", AccessWrite, 4, 0x3008, true},
		{ARM64, []byte{0xfd, 0x7b, 0xbf, 0xa9}, "stp x29, x30, [sp,#-16]!", AccessWrite, 16, 0x7ff0, true},
		{ARM64, []byte{0x20, 0x84, 0x40, 0xf8}, "ldr x0, [x1],#8", AccessRead, 8, 0x2000, true},
		{ARM64, []byte{0x20, 0xfc, 0x5f, 0xc8}, "ldaxr x0, [x1]", AccessRead, 8, 0x2000, true},
		{ARM64, []byte{0x20, 0x00, 0x80, 0xf9}, "prfm pldl1keep, [x1]", AccessNone, 0, 0, false},
		{ARM64, []byte{0x20, 0x14, 0x40, 0x38}, "ldrb w0, [x1],#1", AccessRead, 1, 0x2000, true},
		{ARM64, []byte{0x20, 0x00, 0x40, 0x79}, "ldrh w0, [x1]", AccessRead, 2, 0x2000, true},
	}
	for _, c := range cases {
		in, err := Decode(c.arch, c.code, pc, regs)
		if err != nil {
			t.Errorf("% x: %v", c.code, err)
			continue
		}
		if in.Text != c.text || in.Access != c.access || in.AccessSize != c.size || in.EAKnown != c.eaOK || (c.eaOK && in.EA != c.ea) {
			t.Errorf("% x: got %q %v size %d ea %#x/%v; want %q %v size %d ea %#x/%v",
				c.code, in.Text, in.Access, in.AccessSize, in.EA, in.EAKnown, c.text, c.access, c.size, c.ea, c.eaOK)
		}
		if in.Len != len(c.code) {
			t.Errorf("% x: length %d", c.code, in.Len)
		}
	}
}

func TestDecodeBad(t *testing.T) {
	for _, c := range []struct {
		arch Arch
		code []byte
	}{{X64, nil}, {X64, []byte{0x48}}, {X64, []byte{0x0f, 0x0b + 0xf0}}, {ARM64, []byte{1, 2}}, {ARM64, []byte{0, 0, 0, 0}}, {Arch(99), []byte{0x90}}} {
		if in, err := Decode(c.arch, c.code, 0, nil); err == nil && c.arch != X64 {
			t.Errorf("% x decoded as %q", c.code, in.Text)
		}
	}
}

func TestDecodeN(t *testing.T) {
	code := []byte{0x48, 0x85, 0xc9, 0x74, 0x15, 0x33, 0xc0, 0xc3}
	got := DecodeN(X64, code, 0x1000, 10)
	if len(got) != 4 || got[3].Mnemonic != "ret" || got[1].Addr != 0x1003 {
		t.Fatalf("got %+v", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(byte(1), []byte{0x43, 0x89, 0x14, 0x01})
	f.Add(byte(2), []byte{0x8b, 0x46, 0x04})
	f.Add(byte(3), []byte{0xfd, 0x7b, 0xbf, 0xa9})
	f.Add(byte(1), []byte{0x65, 0x48, 0x8b, 0x04, 0x25, 0x88, 0x01, 0, 0})
	regs := RegMap{"rax": 1, "rcx": 2, "x1": 3, "sp": 4, "esi": 5}
	f.Fuzz(func(t *testing.T, arch byte, code []byte) {
		in, err := Decode(Arch(arch%3+1), code, 0xfffff80000001000, regs)
		if err == nil && (in.Len <= 0 || in.Len > len(code)) {
			t.Fatalf("length %d for %d bytes", in.Len, len(code))
		}
	})
}

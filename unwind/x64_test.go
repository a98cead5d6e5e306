package unwind

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/peimage"
)

// slot encodes an UNWIND_CODE: the prolog offset, the operation and its info.
func slot(off, op, info int) uint16 { return uint16(off | (op|info<<4)<<8) }

func unwindInfo(flags, prolog, frame uint8, slots []uint16, chained *peimage.RuntimeFunction) []byte {
	b := []byte{1 | flags<<3, prolog, byte(len(slots)), frame}
	for _, s := range slots {
		b = binary.LittleEndian.AppendUint16(b, s)
	}
	if len(slots)%2 == 1 {
		b = append(b, 0, 0)
	}
	if chained != nil {
		for _, v := range []uint32{chained.Begin, chained.End, chained.UnwindInfo} {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
	}
	return b
}

const (
	modBase   = 0xfffff80010000000
	stackBase = 0xffffa00000000000
)

// x64Image lays out a synthetic driver whose functions exercise every
// case of the x64 unwinder:
//
//	A 0x1800 push rbx; push rsi; sub rsp,28h … add rsp,28h; pop rsi; pop rbx; ret (at 0x1830)
//	B 0x1840 push rbp; sub rsp,40h; lea rbp,[rsp+20h]; mov [rbp+30h],rbx … lea rsp,[rbp+20h]; pop rbp; ret (at 0x1870)
//	C 0x1880 push rdi; sub rsp,20h, and its chained part at 0x18a0
//	D 0x18c0 sub rsp,38h; movaps [rsp+20h],xmm6
//	E 0x1900 an exception handler: machine frame with error code; push rbp; sub rsp,158h (a KTRAP_FRAME)
//	F 0x1940 an interrupt handler: machine frame without error code; sub rsp,28h
//	H 0x1980 push rbx; sub rsp,20h … a tail-call epilog at 0x19b0 and a look-alike at 0x19a0
//	I 0x19c0 unwind info whose code claims a slot it does not have
//	J 0x19d0 push rbx; sub rsp,20h, with version 2 unwind info (epilog descriptors)
//	0x1a00 code with no .pdata entry (a leaf)
func x64Image(t testing.TB) *peimage.File {
	s := newSection()
	type fn struct{ begin, end, info uint32 }
	fns := []fn{{0x1800, 0x1840, 0x1200}, {0x1840, 0x1880, 0x1220}, {0x1880, 0x18a0, 0x1240}, {0x18a0, 0x18c0, 0x1260},
		{0x18c0, 0x1900, 0x1280}, {0x1900, 0x1940, 0x12a0}, {0x1940, 0x1980, 0x12c0}, {0x1980, 0x19c0, 0x12e0}, {0x19c0, 0x19d0, 0x1300}, {0x19d0, 0x19f0, 0x1320}}
	for i, f := range fns {
		s.words(0x1000+12*uint32(i), f.begin, f.end, f.info)
	}
	const push, allocL, allocS, setFP, save, xmm, mach = 0, 1, 2, 3, 4, 8, 10
	s.at(0x1200, unwindInfo(0, 6, 0, []uint16{slot(6, allocS, 4), slot(2, push, rsi), slot(1, push, rbx)}, nil)...)
	s.at(0x1220, unwindInfo(0, 14, rbp|2<<4, []uint16{slot(14, save, rbx), 0x50 / 8, slot(10, setFP, 0), slot(5, allocS, 7), slot(1, push, rbp)}, nil)...)
	s.at(0x1240, unwindInfo(0, 5, 0, []uint16{slot(5, allocS, 3), slot(1, push, rdi)}, nil)...)
	s.at(0x1260, unwindInfo(peimage.UnwFlagChainInfo, 0, 0, nil, &peimage.RuntimeFunction{Begin: 0x1880, End: 0x18a0, UnwindInfo: 0x1240})...)
	s.at(0x1280, unwindInfo(0, 9, 0, []uint16{slot(9, xmm, 6), 2, slot(4, allocS, 6)}, nil)...)
	s.at(0x12a0, unwindInfo(0, 8, 0, []uint16{slot(8, allocL, 0), 0x158 / 8, slot(1, push, rbp), slot(0, mach, 1)}, nil)...)
	s.at(0x12c0, unwindInfo(0, 4, 0, []uint16{slot(4, allocS, 4), slot(0, mach, 0)}, nil)...)
	s.at(0x12e0, unwindInfo(0, 5, 0, []uint16{slot(5, allocS, 3), slot(1, push, rbx)}, nil)...)
	s.at(0x1300, []byte{1, 0, 1, 0, 0x04, 0x01}...) // UWOP_ALLOC_LARGE needs a second slot
	v2 := unwindInfo(0, 5, 0, []uint16{slot(6, 6, 1), slot(0x10, 6, 0), slot(5, allocS, 3), slot(1, push, rbx)}, nil)
	v2[0] = 2 // version 2: the UWOP_EPILOG entries describe epilogs, not prolog steps
	s.at(0x1320, v2...)
	s.at(0x1800, 0x53, 0x56, 0x48, 0x83, 0xec, 0x28)
	s.at(0x1830, 0x48, 0x83, 0xc4, 0x28, 0x5e, 0x5b, 0xc3)
	s.at(0x1840, 0x55, 0x48, 0x83, 0xec, 0x40, 0x48, 0x8d, 0x6c, 0x24, 0x20, 0x48, 0x89, 0x5d, 0x30)
	s.at(0x1870, 0x48, 0x8d, 0x65, 0x20, 0x5d, 0xc3)
	s.at(0x1980, 0x53, 0x48, 0x83, 0xec, 0x20)
	s.at(0x19a0, 0x48, 0x83, 0xc4, 0x20, 0x5b, 0xeb, 0xee)                   // jmp 0x1994: stays inside, not an epilog
	s.at(0x19b0, 0x48, 0x83, 0xc4, 0x20, 0x5b, 0xe9, 0x46, 0xfe, 0xff, 0xff) // jmp 0x1800: a tail call
	return s.image(t, 0x8664, 12*uint32(len(fns)))
}

func x64Ctx(rip, rsp uint64, regs ...map[string]uint64) *cpuctx.Context {
	c := &cpuctx.Context{Arch: cpuctx.ArchX64}
	c.Set("rip", rip)
	c.Set("rsp", rsp)
	for _, m := range regs {
		for k, v := range m {
			c.Set(k, v)
		}
	}
	return c
}

func TestX64Synthetic(t *testing.T) {
	img := x64Image(t)
	mods := testMods{{Name: "test.sys", Base: modBase, Size: 0x2000}, {Name: "other.sys", Base: modBase + 0x10000, Size: 0x1000}}
	images := testImages{"test.sys": img}
	const X, E, Y, T = stackBase + 0x1000, stackBase + 0x2000, stackBase + 0x2800, stackBase + 0x3000
	// aFrame lays out A's body frame at sp, returning to ret.
	aFrame := func(m *testMem, sp, ret uint64) { m.put64(sp+0x28, 0x5151, 0xb0b0, ret) }
	cases := []struct {
		name   string
		ctx    *cpuctx.Context
		fill   func(m *testMem)
		want   []wantFrame
		reason Stop
	}{
		{"body, then a caller", x64Ctx(modBase+0x1810, X), func(m *testMem) {
			aFrame(m, X, modBase+0x1990)
			m.put64(X+0x40+0x20, 0xb0b0, 0)
		}, []wantFrame{{X, modBase + 0x1810, MethodContext}, {X + 0x40, modBase + 0x1990, MethodUnwind}}, StopEnd},
		{"prolog before any push", x64Ctx(modBase+0x1800, X), func(m *testMem) { m.put64(X, 0) },
			[]wantFrame{{X, modBase + 0x1800, MethodContext}}, StopEnd},
		{"prolog after push rbx", x64Ctx(modBase+0x1801, X), func(m *testMem) { m.put64(X, 0xb0b0, modBase+0x1a00, 0) },
			[]wantFrame{{X, modBase + 0x1801, MethodContext}, {X + 16, modBase + 0x1a00, MethodUnwind}}, StopEnd},
		{"prolog after push rsi", x64Ctx(modBase+0x1802, X), func(m *testMem) { m.put64(X, 0x5151, 0xb0b0, modBase+0x1a00, 0) },
			[]wantFrame{{X, modBase + 0x1802, MethodContext}, {X + 24, modBase + 0x1a00, MethodUnwind}}, StopEnd},
		{"epilog at add rsp", x64Ctx(modBase+0x1830, X), func(m *testMem) { aFrame(m, X, modBase+0x1a00); m.put64(X+0x40, 0) },
			[]wantFrame{{X, modBase + 0x1830, MethodContext}, {X + 0x40, modBase + 0x1a00, MethodUnwind}}, StopEnd},
		{"epilog at pop rbx", x64Ctx(modBase+0x1835, X+0x30), func(m *testMem) { aFrame(m, X, modBase+0x1a00); m.put64(X+0x40, 0) },
			[]wantFrame{{X + 0x30, modBase + 0x1835, MethodContext}, {X + 0x40, modBase + 0x1a00, MethodUnwind}}, StopEnd},
		{"epilog at ret", x64Ctx(modBase+0x1836, X+0x38), func(m *testMem) { aFrame(m, X, modBase+0x1a00); m.put64(X+0x40, 0) },
			[]wantFrame{{X + 0x38, modBase + 0x1836, MethodContext}, {X + 0x40, modBase + 0x1a00, MethodUnwind}}, StopEnd},
		{"tail-call epilog at pop rbx", x64Ctx(modBase+0x19b4, Y+0x20), func(m *testMem) { m.put64(Y+0x20, 0xb0b0, modBase+0x1a00, 0) },
			[]wantFrame{{Y + 0x20, modBase + 0x19b4, MethodContext}, {Y + 0x30, modBase + 0x1a00, MethodUnwind}}, StopEnd},
		{"tail-call epilog at the jmp", x64Ctx(modBase+0x19b5, Y+0x28), func(m *testMem) { m.put64(Y+0x28, modBase+0x1a00, 0) },
			[]wantFrame{{Y + 0x28, modBase + 0x19b5, MethodContext}, {Y + 0x30, modBase + 0x1a00, MethodUnwind}}, StopEnd},
		{"a jmp inside the function is no epilog", x64Ctx(modBase+0x19a4, Y+0x20), func(m *testMem) { m.put64(Y+0x40, 0xb0b0, modBase+0x1a00, 0) },
			[]wantFrame{{Y + 0x20, modBase + 0x19a4, MethodContext}, {Y + 0x50, modBase + 0x1a00, MethodUnwind}}, StopEnd},
		{"frame pointer after alloca", x64Ctx(modBase+0x1860, E-0x100, map[string]uint64{"rbp": E + 0x20}), func(m *testMem) { m.put64(E+0x40, 0x7777, modBase+0x1a08, 0) },
			[]wantFrame{{E - 0x100, modBase + 0x1860, MethodContext}, {E + 0x50, modBase + 0x1a08, MethodUnwind}}, StopEnd},
		{"frame pointer epilog", x64Ctx(modBase+0x1870, E-0x100, map[string]uint64{"rbp": E + 0x20}), func(m *testMem) { m.put64(E+0x40, 0x7777, modBase+0x1a08, 0) },
			[]wantFrame{{E - 0x100, modBase + 0x1870, MethodContext}, {E + 0x50, modBase + 0x1a08, MethodUnwind}}, StopEnd},
		{"frame pointer prolog before lea", x64Ctx(modBase+0x1845, E, map[string]uint64{"rbp": 1}), func(m *testMem) { m.put64(E+0x40, 0x7777, modBase+0x1a08, 0) },
			[]wantFrame{{E, modBase + 0x1845, MethodContext}, {E + 0x50, modBase + 0x1a08, MethodUnwind}}, StopEnd},
		{"chained", x64Ctx(modBase+0x18a8, Y), func(m *testMem) { m.put64(Y+0x20, 0xd1d1, modBase+0x1811); aFrame(m, Y+0x30, 0) },
			[]wantFrame{{Y, modBase + 0x18a8, MethodContext}, {Y + 0x30, modBase + 0x1811, MethodUnwind}}, StopEnd},
		{"xmm save", x64Ctx(modBase+0x18d0, Y), func(m *testMem) { m.put64(Y+0x38, modBase+0x1811); aFrame(m, Y+0x40, 0) },
			[]wantFrame{{Y, modBase + 0x18d0, MethodContext}, {Y + 0x40, modBase + 0x1811, MethodUnwind}}, StopEnd},
		{"trap frame", x64Ctx(modBase+0x1920, T), func(m *testMem) {
			m.put(T, cpuctx.TrapFrameX64Bytes(x64Ctx(modBase+0x1810, X, map[string]uint64{"rax": 0xaaaa, "rbp": 0x7777}), 0xdead0000))
			m.put64(T+0x160, 2)
			aFrame(m, X, 0)
		}, []wantFrame{{T, modBase + 0x1920, MethodContext}, {X, modBase + 0x1810, MethodTrap}}, StopEnd},
		{"machine frame", x64Ctx(modBase+0x1950, Y), func(m *testMem) {
			m.put64(Y+0x28, modBase+0x1810, 0x10, 0x246, X, 0x18)
			aFrame(m, X, 0)
		}, []wantFrame{{Y, modBase + 0x1950, MethodContext}, {X, modBase + 0x1810, MethodTrap}}, StopEnd},
		{"version 2 unwind info", x64Ctx(modBase+0x19e0, Y), func(m *testMem) { m.put64(Y+0x20, 0xb0b0, modBase+0x1811); aFrame(m, Y+0x30, 0) },
			[]wantFrame{{Y, modBase + 0x19e0, MethodContext}, {Y + 0x30, modBase + 0x1811, MethodUnwind}}, StopEnd},
		{"bad unwind info", x64Ctx(modBase+0x19c4, Y), nil, []wantFrame{{Y, modBase + 0x19c4, MethodContext}}, StopBadUnwindData},
		{"no image", x64Ctx(modBase+0x10010, Y), nil, []wantFrame{{Y, modBase + 0x10010, MethodContext}}, StopNoImage},
		{"no module", x64Ctx(0x1234, Y), nil, []wantFrame{{Y, 0x1234, MethodContext}}, StopNoModule},
		{"stack not captured", x64Ctx(modBase+0x1810, stackBase+0x3ff0), nil, []wantFrame{{stackBase + 0x3ff0, modBase + 0x1810, MethodContext}}, StopMemory},
		// Hostile stacks stop instead of looping.
		{"machine frame back to itself", x64Ctx(modBase+0x1950, Y), func(m *testMem) { m.put64(Y+0x28, modBase+0x1950, 0x10, 0x246, Y, 0x18) },
			[]wantFrame{{Y, modBase + 0x1950, MethodContext}}, StopNoProgress},
		{"frame pointer below the stack pointer", x64Ctx(modBase+0x1860, E-0x100, map[string]uint64{"rbp": E - 0x1000 + 0x20}), func(m *testMem) { m.put64(E-0x1000+0x40, 0x7777, modBase+0x1811) },
			[]wantFrame{{E - 0x100, modBase + 0x1860, MethodContext}}, StopNoProgress},
	}
	for _, c := range cases {
		mem := &testMem{}
		mem.add(stackBase, 0x4000)
		if c.fill != nil {
			c.fill(mem)
		}
		res := X64(c.ctx, mem, mods, images)
		checkFrames(t, c.name, res, c.want, c.reason)
		if c.name == "trap frame" && len(res.Frames) == 2 {
			tr := res.Frames[1].Trap
			if tr == nil || tr.Kind != TrapFrame || tr.Address != T || tr.FaultAddress != 0xdead0000 || !tr.HasErrorCode || tr.ErrorCode != 2 {
				t.Errorf("trap: %+v", tr)
			} else if rax, _ := tr.Registers.Reg("rax"); rax != 0xaaaa {
				t.Errorf("trap frame rax = %#x", rax)
			}
		}
		if c.name == "machine frame" && len(res.Frames) == 2 {
			if tr := res.Frames[1].Trap; tr == nil || tr.Kind != TrapMachineFrame || tr.Address != Y+0x28 || tr.Registers != nil || tr.HasErrorCode {
				t.Errorf("machine frame: %+v", tr)
			}
		}
	}
}

// TestX64Registers checks the non-volatile registers one step restores.
func TestX64Registers(t *testing.T) {
	img := x64Image(t)
	mods := testMods{{Name: "test.sys", Base: modBase, Size: 0x2000}}
	fns, _ := img.RuntimeFunctions()
	const X, E = stackBase + 0x1000, stackBase + 0x2000
	mem := &testMem{}
	mem.add(stackBase, 0x4000)
	mem.put64(X+0x28, 0x5151, 0xb0b0, modBase+0x1a00)
	mem.put64(E+0x40, 0x7777, modBase+0x1a08, 0xbbbb)
	w := newWalker(mem, mods, testImages{"test.sys": img})
	cases := []struct {
		rip, rsp, rbp uint64
		want          map[int]uint64
	}{
		{modBase + 0x1810, X, 0, map[int]uint64{rsi: 0x5151, rbx: 0xb0b0, rsp: X + 0x40}},
		{modBase + 0x1834, X + 0x28, 0, map[int]uint64{rsi: 0x5151, rbx: 0xb0b0, rsp: X + 0x40}},            // epilog
		{modBase + 0x1860, E - 0x100, E + 0x20, map[int]uint64{rbx: 0xbbbb, rbp: 0x7777, rsp: E + 0x50}},    // save_nonvol from the frame base
		{modBase + 0x184a, E, E + 0x20, map[int]uint64{rbx: 0x1111, rbp: 0x7777, rsp: E + 0x50}},            // before mov [rbp+30h],rbx
		{modBase + 0x1845, E, 0x4444, map[int]uint64{rbx: 0x1111, rbp: 0x7777, rsp: E + 0x50, rax: 0x9999}}, // before lea rbp
	}
	for _, c := range cases {
		s := x64State{rip: c.rip}
		s.r[rsp], s.r[rbp], s.r[rbx], s.r[rax] = c.rsp, c.rbp, 0x1111, 0x9999
		if _, _, err := w.x64Step(&s, mods[0], img, fns, true); err != nil {
			t.Fatal(err)
		}
		for r, v := range c.want {
			if s.r[r] != v {
				t.Errorf("rip %#x: %s = %#x, want %#x", c.rip, x64Names[r], s.r[r], v)
			}
		}
	}
}

// TestX64LeafLoop walks a stack full of one leaf address: every step
// moves up 8 bytes, so the walk ends at MaxFrames instead of running on.
func TestX64LeafLoop(t *testing.T) {
	img := x64Image(t)
	mem := &testMem{}
	r := mem.add(stackBase, 0x4000)
	for i := 0; i < len(r.b); i += 8 {
		binary.LittleEndian.PutUint64(r.b[i:], modBase+0x1a00)
	}
	res := X64(x64Ctx(modBase+0x1a00, stackBase), mem, testMods{{Name: "test.sys", Base: modBase, Size: 0x2000}}, testImages{"test.sys": img})
	if len(res.Frames) != MaxFrames || res.Reason != StopMaxFrames || res.Frames[1].Method != MethodLeaf || res.Frames[255].SP != stackBase+255*8 {
		t.Errorf("%d frames, %s: %s", len(res.Frames), res.Reason, res.Stopped)
	}
	if !strings.Contains(res.Stopped, "256") {
		t.Errorf("stopped %q", res.Stopped)
	}
}

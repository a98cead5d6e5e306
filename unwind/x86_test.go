package unwind

import (
	"testing"

	"github.com/bugcheck/bugcheck/cpuctx"
)

func x86Ctx(eip, esp, ebp uint64) *cpuctx.Context {
	c := &cpuctx.Context{Arch: cpuctx.ArchX86}
	c.Set("eip", eip)
	c.Set("esp", esp)
	c.Set("ebp", ebp)
	return c
}

func TestX86(t *testing.T) {
	const (
		mod   = 0x80400000
		stack = 0x8f000000
	)
	mods := testMods{{Name: "nt.exe", Base: mod, Size: 0x10000}, {Name: "drv.sys", Base: 0x90000000, Size: 0x1000}}
	// chain lays frames out: each is (ebp, saved ebp, return address).
	chain := func(links ...uint32) func(m *testMem) {
		return func(m *testMem) {
			for i := 0; i+2 < len(links); i += 3 {
				m.put32(uint64(links[i]), links[i+1], links[i+2])
			}
		}
	}
	cases := []struct {
		name   string
		ctx    *cpuctx.Context
		fill   func(m *testMem)
		want   []wantFrame
		reason Stop
	}{
		{"three frames to the base", x86Ctx(0x90000100, stack+0x100, stack+0x120),
			chain(stack+0x120, stack+0x200, mod+0x1234, stack+0x200, stack+0x300, mod+0x2345, stack+0x300, 0, mod+0x3456),
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}, {stack + 0x128, mod + 0x1234, MethodFramePointer},
				{stack + 0x208, mod + 0x2345, MethodFramePointer}, {stack + 0x308, mod + 0x3456, MethodFramePointer}}, StopEnd},
		{"return address 0", x86Ctx(0x90000100, stack+0x100, stack+0x120), chain(stack+0x120, stack+0x200, 0),
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}}, StopEnd},
		{"cyclic chain", x86Ctx(0x90000100, stack+0x100, stack+0x120),
			chain(stack+0x120, stack+0x200, mod+0x1234, stack+0x200, stack+0x120, mod+0x2345),
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}, {stack + 0x128, mod + 0x1234, MethodFramePointer},
				{stack + 0x208, mod + 0x2345, MethodFramePointer}}, StopNoProgress},
		{"self-referencing frame", x86Ctx(0x90000100, stack+0x100, stack+0x120), chain(stack+0x120, stack+0x120, mod+0x1234),
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}, {stack + 0x128, mod + 0x1234, MethodFramePointer}}, StopNoProgress},
		{"return address outside modules", x86Ctx(0x90000100, stack+0x100, stack+0x120), chain(stack+0x120, stack+0x200, 0x12345678),
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}}, StopBadFrame},
		{"ebp below esp", x86Ctx(0x90000100, stack+0x100, stack+0x80), nil,
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}}, StopBadFrame},
		{"ebp misaligned", x86Ctx(0x90000100, stack+0x100, stack+0x122), nil,
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}}, StopBadFrame},
		{"ebp far away", x86Ctx(0x90000100, stack+0x100, stack+0x100+2*MaxX86Frame), nil,
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}}, StopBadFrame},
		{"frame not captured", x86Ctx(0x90000100, stack+0x100, stack+0x2000), nil,
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}}, StopMemory},
		{"upper bits ignored", x86Ctx(0xffffffff90000100, 0xffffffff00000000|stack+0x100, stack+0x120), chain(stack+0x120, 0, mod+0x1234),
			[]wantFrame{{stack + 0x100, 0x90000100, MethodContext}, {stack + 0x128, mod + 0x1234, MethodFramePointer}}, StopEnd},
	}
	for _, c := range cases {
		mem := &testMem{}
		mem.add(stack, 0x1000)
		if c.fill != nil {
			c.fill(mem)
		}
		res := X86(c.ctx, mem, mods)
		checkFrames(t, c.name, res, c.want, c.reason)
		if res.Frames[0].Module != "drv.sys" || res.Frames[0].Offset != 0x100 {
			t.Errorf("%s: frame 0 in %s+%#x", c.name, res.Frames[0].Module, res.Frames[0].Offset)
		}
	}
}

func TestStopString(t *testing.T) {
	if StopNoImage.String() != "no image" || Stop(99).String() != "Stop(99)" {
		t.Error(StopNoImage.String(), Stop(99).String())
	}
}

package unwind

import (
	"encoding/binary"
	"testing"
)

// FuzzWalk runs the three walkers over arbitrary stacks and registers
// with the synthetic images of the tests: every walk must end, within
// MaxFrames, with a reason.
func FuzzWalk(f *testing.F) {
	x64img, armimg := x64Image(f), arm64Image(f)
	mods := testMods{{Name: "x64.sys", Base: modBase, Size: 0x2000}, {Name: "arm64.sys", Base: modBase + 0x10000, Size: 0x2000}}
	images := testImages{"x64.sys": x64img, "arm64.sys": armimg}
	seed := func(arch byte, pc, sp, fp uint64, stack ...uint64) []byte {
		b := []byte{arch}
		for _, v := range append([]uint64{pc, sp, fp}, stack...) {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		return b
	}
	f.Add(seed(0, modBase+0x1810, stackBase, 0, 0, 0, 0, 0, 0, 0x5151, 0xb0b0, modBase+0x1990, 0, 0, 0, 0, 0xb0b0, 0))
	f.Add(seed(0, modBase+0x1920, stackBase, 0, modBase+0x1950))
	f.Add(seed(1, modBase+0x10000+aP+0x10, stackBase, stackBase, stackBase+0x20, modBase+0x10000+aP+0x10, 1, 2))
	f.Add(seed(1, modBase+0x10000+aM+8, stackBase, 0, 0, 0, 0, 0, stackBase, modBase+0x10000+aM+8))
	f.Add(seed(2, 0x90000100, stackBase, stackBase+8, 0, stackBase+8, modBase+0x10))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 25 {
			return
		}
		pc, sp, fp := binary.LittleEndian.Uint64(data[1:]), binary.LittleEndian.Uint64(data[9:]), binary.LittleEndian.Uint64(data[17:])
		mem := &testMem{}
		mem.add(stackBase, 0x1000)
		copy(mem.regions[0].b, data[25:])
		var res Result
		switch data[0] % 3 {
		case 0:
			res = X64(x64Ctx(pc, sp, map[string]uint64{"rbp": fp}), mem, mods, images)
		case 1:
			res = ARM64(arm64Ctx(pc, sp, fp, fp), mem, mods, images)
		case 2:
			res = X86(x86Ctx(pc, sp, fp), mem, mods)
		}
		if res.Reason == 0 || res.Stopped == "" || len(res.Frames) == 0 || len(res.Frames) > MaxFrames {
			t.Fatalf("walk ended without a reason: %+v", res)
		}
	})
}

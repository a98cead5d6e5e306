package unwind

import (
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/peimage"
)

// TestX64ExceptionsTest unwinds a stack built in memory through real
// functions of an MSVC-compiled x64 executable. Each frame is laid out
// the way the function's own prolog would lay it out, read from its
// UNWIND_INFO: the call pushes the return address, then the prolog's
// pushes, allocations and register saves run in order.
func TestX64ExceptionsTest(t *testing.T) {
	img, err := peimage.Open(corpus.Path(t, "pdb", "exceptions-test.exe"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	fns, err := img.RuntimeFunctions()
	if err != nil {
		t.Fatal(err)
	}
	const base = 0x140000000
	mod := Module{Name: "exceptions-test.exe", Base: base, Size: img.SizeOfImage}
	// Innermost first: where each frame's instruction pointer is, and the
	// stack each frame's prolog takes (return address included), as
	// llvm-readobj --unwind reads their unwind codes.
	frames := []struct {
		ip   uint64
		size uint64
		what string
	}{
		// 0x7540: push rbp; sub rsp,270h; rbx, rsi, rdi, r14 saved into the caller's home slots.
		{base + 0x7564, 8 + 8 + 0x270, "the first instruction after the prolog of 0x7540"},
		// 0x73a0 calls 0x7540 at +0x2d; its prolog is sub rsp,458h.
		{base + 0x73d2, 8 + 0x458, "0x73a0's call of 0x7540"},
		// 0x4ebf is a chained fragment of 0x4e60 (which pushes rbp, rsi, rdi, r14 and
		// allocates 1f8h); the fragment saves rbx at 1f0h and calls 0x5190 at +0x1b.
		{base + 0x4edf, 8 + 4*8 + 0x1f8, "the chained fragment 0x4ebf's call of 0x5190"},
		// 0x1bb0 calls 0x1920 at +0x6; its prolog is push rdi; sub rsp,20h.
		{base + 0x1bbb, 8 + 8 + 0x20, "0x1bb0's call of 0x1920"},
	}
	mem := &testMem{}
	mem.add(stackBase, 0x4000)
	top := uint64(stackBase + 0x3000)
	sps := make([]uint64, len(frames))
	saved := make([][]uint8, len(frames))
	sp := top
	for k := len(frames) - 1; k >= 0; k-- {
		ret := uint64(0) // the outermost frame returns to 0: the end of the stack
		if k+1 < len(frames) {
			ret = frames[k+1].ip
		}
		sp -= 8
		mem.put64(sp, ret)
		sp, saved[k] = runProlog(t, img, fns, uint32(frames[k].ip-base), sp, mem, 0x1000*uint64(k+1))
		sps[k] = sp
		above := top
		if k+1 < len(frames) {
			above = sps[k+1]
		}
		if above-sps[k] != frames[k].size {
			t.Fatalf("%s: the frame takes %#x bytes, want %#x", frames[k].what, above-sps[k], frames[k].size)
		}
	}
	ctx := x64Ctx(frames[0].ip, sps[0])
	res := X64(ctx, mem, testMods{mod}, testImages{mod.Name: img})
	want := make([]wantFrame, len(frames))
	for k, f := range frames {
		want[k] = wantFrame{sps[k], f.ip, MethodUnwind}
	}
	want[0].method = MethodContext
	checkFrames(t, "exceptions-test.exe", res, want, StopEnd)

	// Step by step, each frame's saved registers come back.
	w := newWalker(mem, testMods{mod}, testImages{mod.Name: img})
	s := x64State{rip: frames[0].ip}
	s.r[rsp] = sps[0]
	for k := range frames {
		if _, _, err := w.x64Step(&s, mod, img, fns, k == 0); err != nil {
			t.Fatal(err)
		}
		for _, r := range saved[k] {
			if want := 0x1000*uint64(k+1) + uint64(r); s.r[r] != want {
				t.Errorf("%s: %s = %#x, want %#x", frames[k].what, x64Names[r], s.r[r], want)
			}
		}
	}
	if n := len(saved[0]) + len(saved[2]); n != 5+5 { // 0x7540: rbp, rbx, rsi, rdi, r14; 0x4ebf/0x4e60: rbx, rbp, rsi, rdi, r14
		t.Errorf("%d registers saved by frames 0 and 2, want 10", n)
	}
}

// runProlog lays out the frame the prolog of the function holding rva
// builds when entered with sp (the return address already pushed), and
// returns the stack pointer after it and the registers it saved. Saved
// registers get the value mark+n for register n.
func runProlog(t *testing.T, img *peimage.File, fns []peimage.RuntimeFunction, rva uint32, sp uint64, mem *testMem, mark uint64) (uint64, []uint8) {
	t.Helper()
	rf, ok := peimage.LookupFunction(fns, rva-1)
	if !ok {
		t.Fatalf("no function at %#x", rva)
	}
	chain, err := img.UnwindChain(rf)
	if err != nil {
		t.Fatal(err)
	}
	// The chain lists the innermost record first, each record's codes in
	// reverse prolog order: the prolog runs them backwards.
	var codes []peimage.UnwindCode
	for _, u := range chain {
		if u.FrameRegister != 0 {
			t.Fatalf("%#x uses a frame register", rf.Begin)
		}
		codes = append(codes, u.Codes...)
	}
	var saves []peimage.UnwindCode
	var regs []uint8
	for i := len(codes) - 1; i >= 0; i-- {
		switch c := codes[i]; c.Op {
		case peimage.UwopPushNonvol:
			sp -= 8
			mem.put64(sp, mark+uint64(c.Info))
			regs = append(regs, c.Info)
		case peimage.UwopAllocSmall:
			sp -= 8*uint64(c.Info) + 8
		case peimage.UwopAllocLarge:
			if c.Info == 0 {
				sp -= 8 * uint64(c.Operand)
			} else {
				sp -= uint64(c.Operand)
			}
		case peimage.UwopSaveNonvol:
			saves = append(saves, c)
		default:
			t.Fatalf("%#x: unexpected op %d", rf.Begin, c.Op)
		}
	}
	for _, c := range saves { // offsets count from the final frame base
		mem.put64(sp+8*uint64(c.Operand), mark+uint64(c.Info))
		regs = append(regs, c.Info)
	}
	return sp, regs
}

// BenchmarkX64Walk walks the corpus crash's stack shape: 17 frames through
// two drivers, rebuilt in memory from the synthetic driver's functions A
// and H, each frame looked up in its image's 9-entry table.
func BenchmarkX64Walk(b *testing.B) {
	img := x64Image(b)
	mods := testMods{{Name: "test.sys", Base: modBase, Size: 0x2000}}
	images := testImages{"test.sys": img}
	mem := &testMem{}
	mem.add(stackBase, 0x4000)
	// Alternate A (0x40-byte frames) and H (0x30-byte frames) up the stack.
	sp := uint64(stackBase + 0x100)
	ctx := x64Ctx(modBase+0x1810, sp)
	for i := 0; i < 16; i++ {
		if i%2 == 0 {
			mem.put64(sp+0x28, 0x5151, 0xb0b0, modBase+0x1990)
			sp += 0x40
		} else {
			mem.put64(sp+0x20, 0xb0b0, modBase+0x1811)
			sp += 0x30
		}
	}
	mem.put64(sp+0x28, 0x5151, 0xb0b0, 0)
	b.ReportAllocs()
	for b.Loop() {
		if res := X64(ctx, mem, mods, images); len(res.Frames) != 17 || res.Reason != StopEnd {
			b.Fatalf("%d frames: %s", len(res.Frames), res.Stopped)
		}
	}
}

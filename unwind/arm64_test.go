package unwind

import (
	"encoding/binary"
	"testing"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/peimage"
)

// Function starts (RVAs) of the synthetic ARM64 driver.
const (
	aP     = 0x1800 // packed: stp x19,x20,[sp,#-16]!; stp fp,lr,[sp,#-16]!; mov fp,sp … epilog at word 5
	aX     = 0x1840 // .xdata with most codes (see arm64Image)
	aT     = 0x1940 // MSFT_OP_TRAP_FRAME
	aM     = 0x1980 // alloc_s 32, then MSFT_OP_MACHINE_FRAME
	aC     = 0x19c0 // MSFT_OP_CONTEXT
	aU     = 0x1a00 // MSFT_OP_CLEAR_UNWOUND_TO_CALL
	aN     = 0x1a40 // save_next runs past the last register
	aV     = 0x1a80 // an undefined code
	aL     = 0x1ac0 // save_fplr at [sp]: nothing moves sp
	aB     = 0x1b00 // set_fp only
	aCh    = 0x1b40 // a chained (Flag 3) entry whose parent is P
	aFr    = 0x1b80 // a packed fragment (Flag 2) with P's frame
	aLeaf  = 0x1c00 // no .pdata entry
	xdataX = 0x1200
)

// xCodes are X's unwind codes. Its prolog, in execution order:
//
//	pacibsp; stp x19,x20,[sp,#-112]!; stp x21,x22,[sp,#16]; stp x23,x24,[sp,#32] (save_next);
//	str x25,[sp,#48]; stp x27,lr,[sp,#56]; str fp,[sp,#72] (save_any_reg); stp d8,d9,[sp,#80];
//	str d10,[sp,#96]; sub sp,sp,#0x1000; add fp,sp,#16; nop
var xCodes = []byte{0xe3, 0xe2, 0x02, 0xc1, 0x00, 0xdc, 0x8c, 0xd8, 0x0a, 0xe7, 0x1d, 0x09, 0xd7, 0x07, 0xd1, 0x86, 0xe6, 0xc8, 0x82, 0x2e, 0xfc, 0xe4, 0xe4, 0xe4}

func arm64Image(t testing.TB) *peimage.File {
	s := newSection()
	xdata := func(rva uint32, codes ...byte) uint32 {
		s.words(rva, 0x40/4|uint32(len(codes)/4)<<27)
		s.at(rva+4, codes...)
		return rva
	}
	entries := [][2]uint32{
		{aP, 1 | 8<<2 | 2<<16 | 3<<21 | 2<<23},
		{aX, xdataX},
		{aT, xdata(0x1220, 0xe8, 0xe4, 0xe4, 0xe4)},
		{aM, xdata(0x1230, 0x02, 0xe9, 0xe4, 0xe4)},
		{aC, xdata(0x1240, 0xea, 0xe4, 0xe4, 0xe4)},
		{aU, xdata(0x1250, 0xec, 0xe4, 0xe4, 0xe4)},
		{aN, xdata(0x1260, 0xe6, 0xe6, 0xe6, 0xe6, 0xe6, 0xe6, 0xe6, 0xcc, 0x01, 0xe4, 0xe4, 0xe4)},
		{aV, xdata(0x1280, 0xed, 0xe4, 0xe4, 0xe4)},
		{aL, xdata(0x1290, 0x40, 0xe4, 0xe4, 0xe4)},
		{aB, xdata(0x12a0, 0xe1, 0xe4, 0xe4, 0xe4)},
		{aCh, 0x1000 + 3},
		{aFr, 2 | 8<<2 | 2<<16 | 3<<21 | 2<<23},
	}
	// X: 64 words, the epilog at the end shares the prolog's codes (E=1, index 0).
	s.words(xdataX, 64|1<<21|uint32(len(xCodes)/4)<<27)
	s.at(xdataX+4, xCodes...)
	for i, e := range entries {
		s.words(0x1000+8*uint32(i), e[0], e[1])
	}
	return s.image(t, peimage.MachineARM64, 8*uint32(len(entries)))
}

func arm64Ctx(pc, sp, fp, lr uint64) *cpuctx.Context {
	c := &cpuctx.Context{Arch: cpuctx.ArchARM64}
	c.Set("pc", pc)
	c.Set("sp", sp)
	c.Set("fp", fp)
	c.Set("lr", lr)
	return c
}

func TestARM64Walk(t *testing.T) {
	img := arm64Image(t)
	mods := testMods{{Name: "test.sys", Base: modBase, Size: 0x2000}}
	images := testImages{"test.sys": img}
	const (
		S0 = stackBase + 0x3000 // the caller's sp of X, and P's frame
		S1 = S0 - 112
		S2 = S1 - 0x1000
		K  = stackBase + 0x200 // handlers' frames
	)
	pFrame := func(m *testMem) { m.put64(S0, 0, 0, 0x19, 0x20) } // P's frame at S0 returns to 0
	signedRet := uint64(0xa58f000000000000) | (modBase+aP+0x10)&0xffffffffffff
	cases := []struct {
		name   string
		ctx    *cpuctx.Context
		fill   func(m *testMem)
		want   []wantFrame
		reason Stop
	}{
		{"xdata body, then a packed caller", arm64Ctx(modBase+aX+0x80, S2-0x40, S2+16, 0x1234), func(m *testMem) {
			m.put64(S1, 0x19, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x27, signedRet, S0, 0xd8, 0xd9, 0xd10)
			pFrame(m)
		}, []wantFrame{{S2 - 0x40, modBase + aX + 0x80, MethodContext}, {S0, modBase + aP + 0x10, MethodUnwind}}, StopEnd},
		{"trap frame", arm64Ctx(modBase+aT+0x10, K, 0, 0), func(m *testMem) {
			b := make([]byte, arm64TrapSize)
			binary.LittleEndian.PutUint64(b[arm64TrapSp:], S0)
			binary.LittleEndian.PutUint64(b[arm64TrapX0:], 0x1000)
			binary.LittleEndian.PutUint64(b[arm64TrapFp:], S0)
			binary.LittleEndian.PutUint64(b[arm64TrapLr:], 0x4444)
			binary.LittleEndian.PutUint64(b[arm64TrapPc:], modBase+aP+0x10)
			m.put(K, b)
			pFrame(m)
		}, []wantFrame{{K, modBase + aT + 0x10, MethodContext}, {S0, modBase + aP + 0x10, MethodTrap}}, StopEnd},
		{"machine frame", arm64Ctx(modBase+aM+8, K, S0, 0), func(m *testMem) {
			m.put64(K+32, S0, modBase+aP+0x10)
			pFrame(m)
		}, []wantFrame{{K, modBase + aM + 8, MethodContext}, {S0, modBase + aP + 0x10, MethodTrap}}, StopEnd},
		{"context record", arm64Ctx(modBase+aC+8, K, 0, 0), func(m *testMem) {
			c := arm64Ctx(modBase+aP+0x10, S0, S0, 0x4444)
			c.Set("x19", 0x1919)
			m.put(K, c.Bytes())
			pFrame(m)
		}, []wantFrame{{K, modBase + aC + 8, MethodContext}, {S0, modBase + aP + 0x10, MethodTrap}}, StopEnd},
		{"clear unwound to call", arm64Ctx(modBase+aU+8, S0, S0, modBase+aP+0x10), pFrame,
			[]wantFrame{{S0, modBase + aU + 8, MethodContext}, {S0, modBase + aP + 0x10, MethodUnwind}}, StopEnd},
		{"leaf", arm64Ctx(modBase+aLeaf, S0, S0, modBase+aP+0x10), pFrame,
			[]wantFrame{{S0, modBase + aLeaf, MethodContext}, {S0, modBase + aP + 0x10, MethodLeaf}}, StopEnd},
		{"no module", arm64Ctx(modBase+0x1000000, S0, 0, 0), nil, []wantFrame{{S0, modBase + 0x1000000, MethodContext}}, StopNoModule},
		// Hostile unwind data and stacks stop the walk.
		{"save_next past x30", arm64Ctx(modBase+aN+0x20, K, 0, 0), nil, []wantFrame{{K, modBase + aN + 0x20, MethodContext}}, StopBadUnwindData},
		{"undefined code", arm64Ctx(modBase+aV+8, K, 0, 0), nil, []wantFrame{{K, modBase + aV + 8, MethodContext}}, StopBadUnwindData},
		{"returns to itself", arm64Ctx(modBase+aL+8, K, 0, 0), func(m *testMem) { m.put64(K, K, modBase+aL+8) },
			[]wantFrame{{K, modBase + aL + 8, MethodContext}}, StopNoProgress},
		{"stack pointer backwards", arm64Ctx(modBase+aB+8, K, K-0x100, modBase+aP+0x10), nil,
			[]wantFrame{{K, modBase + aB + 8, MethodContext}}, StopNoProgress},
		{"machine frame back to itself", arm64Ctx(modBase+aM+8, K, 0, 0), func(m *testMem) { m.put64(K+32, K, modBase+aM+8) },
			[]wantFrame{{K, modBase + aM + 8, MethodContext}}, StopNoProgress},
		{"leaf returning to itself", arm64Ctx(modBase+aLeaf, S0, 0, modBase+aLeaf), nil,
			[]wantFrame{{S0, modBase + aLeaf, MethodContext}}, StopNoProgress},
		{"frame not captured", arm64Ctx(modBase+aP+0x10, stackBase+0x8000, stackBase+0x8000, 0), nil,
			[]wantFrame{{stackBase + 0x8000, modBase + aP + 0x10, MethodContext}}, StopMemory},
	}
	for _, c := range cases {
		mem := &testMem{}
		mem.add(stackBase, 0x4000)
		if c.fill != nil {
			c.fill(mem)
		}
		res := ARM64(c.ctx, mem, mods, images)
		checkFrames(t, c.name, res, c.want, c.reason)
		if len(res.Frames) < 2 || res.Frames[1].Method != MethodTrap {
			continue
		}
		tr := res.Frames[1].Trap
		switch c.name {
		case "trap frame":
			if x0, _ := tr.Registers.Reg("x0"); tr.Kind != TrapFrame || tr.Address != K || x0 != 0x1000 {
				t.Errorf("trap frame: %+v x0 %#x", tr, x0)
			}
		case "machine frame":
			if tr.Kind != TrapMachineFrame || tr.Address != K+32 || tr.Registers != nil {
				t.Errorf("machine frame: %+v", tr)
			}
		case "context record":
			if x19, _ := tr.Registers.Reg("x19"); tr.Kind != TrapContext || tr.Address != K || x19 != 0x1919 {
				t.Errorf("context: %+v x19 %#x", tr, x19)
			}
		}
	}
}

// TestARM64Step checks one step's registers for prolog, body and epilog
// positions, which the unwind codes treat differently.
func TestARM64Step(t *testing.T) {
	img := arm64Image(t)
	mods := testMods{{Name: "test.sys", Base: modBase, Size: 0x2000}}
	fns, err := img.ARM64Functions()
	if err != nil {
		t.Fatal(err)
	}
	const (
		K  = stackBase + 0x200
		S0 = stackBase + 0x3000
		S1 = S0 - 112
		S2 = S1 - 0x1000
	)
	mem := &testMem{}
	mem.add(stackBase, 0x4000)
	mem.put64(K, 0xf0f0, 0x1e1e, 0x1919, 0x2020, 0x3333, 0x4444)
	mem.put64(S1, 0x19, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x27, 0xa58f000000000000|(modBase+aP+0x10)&0xffffffffffff, S0, 0xd8, 0xd9, 0xd10)
	w := newWalker(mem, mods, nil)
	type regs map[int]uint64
	const sp, pc = 100, 101
	cases := []struct {
		name           string
		pc, sp, fp, lr uint64
		want           regs
	}{
		{"P prolog word 0", modBase + aP, K, 0x9, 0x7777, regs{sp: K, pc: 0x7777, 19: 0, fp: 0x9}},
		{"P prolog word 1", modBase + aP + 4, K, 0x9, 0x7777, regs{sp: K + 16, pc: 0x7777, 19: 0xf0f0, 20: 0x1e1e, fp: 0x9}},
		{"P prolog word 2", modBase + aP + 8, K, 0x9, 0x7777, regs{sp: K + 32, pc: 0x1e1e, 19: 0x1919, 20: 0x2020, fp: 0xf0f0}},
		{"P body", modBase + aP + 0xc, K - 0x80, K, 0x7777, regs{sp: K + 32, pc: 0x1e1e, 19: 0x1919, fp: 0xf0f0, lr: 0x1e1e}},
		{"P epilog word 5", modBase + aP + 0x14, K, 0x9, 0x7777, regs{sp: K + 32, pc: 0x1e1e, 19: 0x1919, fp: 0xf0f0}},
		{"P epilog word 6", modBase + aP + 0x18, K, 0x9, 0x7777, regs{sp: K + 16, pc: 0x7777, 19: 0xf0f0, fp: 0x9}},
		{"P epilog ret", modBase + aP + 0x1c, K, 0x9, 0x7777, regs{sp: K, pc: 0x7777, fp: 0x9}},
		{"chained entry unwinds as P's body", modBase + aCh + 8, K - 0x80, K, 0x7777, regs{sp: K + 32, pc: 0x1e1e, 19: 0x1919}},
		{"fragment has no prolog", modBase + aFr, K - 0x80, K, 0x7777, regs{sp: K + 32, pc: 0x1e1e, 20: 0x2020}},
		{"X body", modBase + aX + 0x80, S2 - 0x40, S2 + 16, 0x1234, regs{sp: S0, pc: modBase + aP + 0x10, lr: modBase + aP + 0x10,
			19: 0x19, 20: 0x20, 21: 0x21, 22: 0x22, 23: 0x23, 24: 0x24, 25: 0x25, 26: 0, 27: 0x27, fp: S0}},
		{"X epilog start", modBase + aX + 51*4, S2, S2 + 16, 0x1234, regs{sp: S0, pc: modBase + aP + 0x10, 19: 0x19, 24: 0x24, fp: S0}},
		{"X epilog at its last step", modBase + aX + 62*4, S0, S0, 0xa58f000000000000 | 0xf80010001234, regs{sp: S0, pc: 0xfffff80010001234, fp: S0}},
	}
	for _, c := range cases {
		s := arm64State{sp: c.sp, pc: c.pc}
		s.x[fp], s.x[lr] = c.fp, c.lr
		m, _ := mods.ModuleAt(c.pc)
		if _, _, _, err := w.arm64Step(&s, m, img, fns, true); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for r, v := range c.want {
			got := s.sp
			switch r {
			case pc:
				got = s.pc
			case sp:
			default:
				got = s.x[r]
			}
			if got != v {
				t.Errorf("%s: register %d = %#x, want %#x", c.name, r, got, v)
			}
		}
	}
}

func TestStripPAC(t *testing.T) {
	for in, want := range map[uint64]uint64{
		0xa58ff80010001234: 0xfffff80010001234, // kernel address with a PAC
		0xfffff80010001234: 0xfffff80010001234,
		0x0012700000401000: 0x0000700000401000, // user address with a PAC
		0x00007ff600001000: 0x00007ff600001000,
	} {
		if got := stripPAC(in); got != want {
			t.Errorf("stripPAC(%#x) = %#x, want %#x", in, got, want)
		}
	}
}

package unwind

import (
	"encoding/binary"
	"fmt"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/peimage"
)

type arm64State struct {
	x  [31]uint64 // x0..x30; x29 is fp, x30 is lr
	sp uint64
	pc uint64
}

const (
	fp = 29
	lr = 30
)

// ARM64 walks an ARM64 stack from ctx.
func ARM64(ctx *cpuctx.Context, mem Memory, mods Modules, images Images) Result {
	var s arm64State
	for i := range s.x {
		s.x[i], _ = ctx.Reg(fmt.Sprintf("x%d", i))
	}
	s.sp, s.pc = ctx.SP(), ctx.PC()
	w := newWalker(mem, mods, images)
	var res Result
	method, exact := MethodContext, true
	var trap *Trap
	w.revisit(s.pc, s.sp)
	for {
		if len(res.Frames) == MaxFrames {
			return res.stop(StopMaxFrames, "stopped after %d frames", MaxFrames)
		}
		m, ok := w.addFrame(&res, s.pc, s.sp, method, trap)
		if !ok {
			return res.stop(StopNoModule, "%#x is in no loaded module", s.pc)
		}
		img, err := w.image(m)
		if err != nil {
			return res.stop(StopNoImage, "no image for %s: %v", m.Name, err)
		}
		fns, ok := w.arm64[m]
		if !ok {
			if fns, err = img.ARM64Functions(); err != nil {
				return res.stop(StopBadUnwindData, "%s: %v", m.Name, err)
			}
			w.arm64[m] = fns
		}
		oldSP, oldPC := s.sp, s.pc
		var nextExact bool
		method, trap, nextExact, err = w.arm64Step(&s, m, img, fns, exact)
		if err != nil {
			return res.stepFailed(m, oldPC-m.Base, err)
		}
		if method == MethodLeaf && s.pc == oldPC {
			return res.stop(StopNoProgress, "the leaf function at %#x returns to itself", oldPC)
		}
		if r, ok := w.progress(&res, oldSP, s.sp, s.pc, method, exact); !ok {
			return r
		}
		exact = nextExact
	}
}

// stripPAC removes a pointer authentication code from a code address:
// Windows uses 48-bit virtual addresses, so the upper bits are a copy of
// bit 55 (kernel addresses set, user addresses clear).
func stripPAC(v uint64) uint64 {
	if v>>55&1 == 1 {
		return v | 0xffff000000000000
	}
	return v & 0x0000ffffffffffff
}

// arm64Step unwinds the function holding s.pc. It returns how the next
// frame was reached and whether its pc is exact (an interrupted
// instruction rather than a return address).
func (w *walker) arm64Step(s *arm64State, m Module, img *peimage.File, fns []peimage.ARM64Function, exact bool) (string, *Trap, bool, error) {
	rva := uint32(s.pc - m.Base)
	look := rva
	if !exact && look >= 4 {
		look -= 4 // the bl before a return address may be a function's last instruction
	}
	e, ok := peimage.LookupARM64(fns, look)
	if !ok { // a leaf: nothing saved, the return address is in lr
		s.pc = stripPAC(s.x[lr])
		return MethodLeaf, nil, false, nil
	}
	u, err := img.ARM64Unwind(e)
	if err != nil {
		return "", nil, false, err
	}
	return w.arm64Run(s, u, rva)
}

// arm64Run interprets the unwind codes for the instruction at rva, as the
// specification lays out: inside the prolog only the prolog steps that
// ran are undone; inside an epilog only the steps that remain are done;
// in the body every code runs, from the start of the array to its end.
func (w *walker) arm64Run(s *arm64State, u *peimage.ARM64Unwind, rva uint32) (string, *Trap, bool, error) {
	codes := u.Codes
	off := int(rva-u.Begin) / 4
	flen := int(u.FunctionLength / 4)
	start, skip := 0, 0
	switch {
	case u.Chained || u.Flag == peimage.ARM64FlagFragment || rva < u.Begin:
		// No prolog of its own, and no epilog: the body.
	case off < len(codes) && off < peimage.ARM64ScopeSize(codes, 0, false):
		skip = peimage.ARM64ScopeSize(codes, 0, false) - off
	case u.EpilogInHeader:
		if off+len(codes)-u.EpilogIndex >= flen {
			scope := flen - peimage.ARM64ScopeSize(codes, u.EpilogIndex, true)
			if off >= scope {
				start, skip = u.EpilogIndex, off-scope
			}
		}
	default:
		for _, ep := range u.Epilogs {
			scope := int(ep.Start / 4)
			if off < scope {
				break
			}
			if off < scope+len(codes)-ep.Index && off < scope+peimage.ARM64ScopeSize(codes, ep.Index, true) {
				start, skip = ep.Index, off-scope
				break
			}
		}
	}
	i := start
	for ; i < len(codes) && skip > 0; skip-- {
		c, err := peimage.DecodeARM64Code(codes, i)
		if err != nil {
			return "", nil, false, err
		}
		if c.Op == peimage.ARM64End || c.Op == peimage.ARM64EndC {
			break
		}
		i += c.Len
	}

	t := *s
	var trap *Trap
	method, pcFromLR, nextExact := MethodUnwind, true, false
	saveNexts := 0
loop:
	for i < len(codes) {
		c, err := peimage.DecodeARM64Code(codes, i)
		if err != nil {
			return "", nil, false, err
		}
		i += c.Len
		if saveNexts != 0 {
			switch c.Op {
			case peimage.ARM64SaveR19R20X, peimage.ARM64SaveRegP, peimage.ARM64SaveRegPX,
				peimage.ARM64SaveFRegP, peimage.ARM64SaveFRegPX, peimage.ARM64SaveNext, peimage.ARM64EndC:
			case peimage.ARM64SaveAnyReg:
				if c.Count != 2 {
					return "", nil, false, fmt.Errorf("save_next before a single-register save_any_reg at code byte %d", c.At)
				}
			default:
				return "", nil, false, fmt.Errorf("save_next before %s at code byte %d", c.Op, c.At)
			}
		}
		switch c.Op {
		case peimage.ARM64AllocS, peimage.ARM64AllocM, peimage.ARM64AllocL:
			t.sp += uint64(c.Size)
		case peimage.ARM64SaveR19R20X, peimage.ARM64SaveRegP, peimage.ARM64SaveRegPX,
			peimage.ARM64SaveFRegP, peimage.ARM64SaveFRegPX, peimage.ARM64SaveAnyReg:
			n := int(c.Count) + 2*saveNexts
			saveNexts = 0
			if err := w.arm64Restore(&t, c.Class, int(c.Reg), n, c.Offset); err != nil {
				return "", nil, false, err
			}
		case peimage.ARM64SaveFPLR, peimage.ARM64SaveFPLRX, peimage.ARM64SaveReg, peimage.ARM64SaveRegX,
			peimage.ARM64SaveFReg, peimage.ARM64SaveFRegX:
			if err := w.arm64Restore(&t, c.Class, int(c.Reg), int(c.Count), c.Offset); err != nil {
				return "", nil, false, err
			}
		case peimage.ARM64SaveLRPair:
			if err := w.arm64Restore(&t, peimage.ARM64RegX, int(c.Reg), 1, c.Offset); err != nil {
				return "", nil, false, err
			}
			if err := w.arm64Restore(&t, peimage.ARM64RegX, lr, 1, c.Offset+8); err != nil {
				return "", nil, false, err
			}
		case peimage.ARM64SetFP:
			t.sp = t.x[fp]
		case peimage.ARM64AddFP:
			t.sp = t.x[fp] - uint64(c.Size)
		case peimage.ARM64Nop, peimage.ARM64EndC, peimage.ARM64Reserved:
		case peimage.ARM64End:
			break loop
		case peimage.ARM64SaveNext:
			saveNexts++
		case peimage.ARM64PACSignLR:
			t.x[lr] = stripPAC(t.x[lr])
		case peimage.ARM64TrapFrame:
			if trap, err = w.arm64TrapFrame(&t); err != nil {
				return "", nil, false, err
			}
			method, pcFromLR, nextExact = MethodTrap, false, true
		case peimage.ARM64MachineFrame:
			at := t.sp
			sp, err := w.u64(at)
			if err != nil {
				return "", nil, false, err
			}
			pc, err := w.u64(at + 8)
			if err != nil {
				return "", nil, false, err
			}
			t.sp, t.pc = sp, pc
			trap = &Trap{Kind: TrapMachineFrame, Address: at}
			method, pcFromLR, nextExact = MethodTrap, false, true
		case peimage.ARM64Context:
			if trap, err = w.arm64Context(&t); err != nil {
				return "", nil, false, err
			}
			method, pcFromLR, nextExact = MethodTrap, false, true
		case peimage.ARM64ClearUnwoundToCall:
			t.pc = t.x[lr]
			pcFromLR, nextExact = false, true
		default: // MSFT_OP_EC_CONTEXT and undefined encodings
			return "", nil, false, fmt.Errorf("unsupported unwind code %s (%#02x) at code byte %d", c.Op, c.First, c.At)
		}
	}
	if saveNexts != 0 {
		return "", nil, false, fmt.Errorf("save_next at the end of the unwind codes")
	}
	if pcFromLR {
		t.pc = t.x[lr]
	}
	t.pc = stripPAC(t.pc)
	*s = t
	return method, trap, nextExact, nil
}

// arm64Restore reloads n registers of a class from consecutive stack
// slots, as an ldp/ldr does: at sp+off, or at sp followed by sp += -off
// for a pre-decrementing save. Vector registers are not part of the
// walk's state, but their slots still move sp.
func (w *walker) arm64Restore(t *arm64State, class uint8, first, n int, off int32) error {
	limit, size := 31, uint64(8)
	switch class {
	case peimage.ARM64RegD:
		limit = 32
	case peimage.ARM64RegQ:
		limit, size = 32, 16
	}
	if first+n > limit {
		return fmt.Errorf("restoring %d registers from register %d runs past the last one", n, first)
	}
	addr := t.sp
	if off >= 0 {
		addr += uint64(off)
	}
	if class == peimage.ARM64RegX {
		for k := 0; k < n; k++ {
			v, err := w.u64(addr + uint64(k)*size)
			if err != nil {
				return err
			}
			t.x[first+k] = v
		}
	}
	if off < 0 {
		t.sp += uint64(-int64(off))
	}
	return nil
}

// ARM64 KTRAP_FRAME layout: the part the unwinder restores.
const (
	arm64TrapSize = 0x150
	arm64TrapSpsr = 0x90
	arm64TrapSp   = 0x98
	arm64TrapX0   = 0xa0 // x0..x18
	arm64TrapLr   = 0x138
	arm64TrapFp   = 0x140
	arm64TrapPc   = 0x148
)

// arm64TrapFrame restores the interrupted registers from the KTRAP_FRAME
// at sp (MSFT_OP_TRAP_FRAME): x0-x18, fp, lr, sp and pc.
func (w *walker) arm64TrapFrame(t *arm64State) (*Trap, error) {
	at := t.sp
	b, err := w.bytes(at, arm64TrapSize)
	if err != nil {
		return nil, err
	}
	c := &cpuctx.Context{Arch: cpuctx.ArchARM64}
	for i := 0; i <= 18; i++ {
		t.x[i] = binary.LittleEndian.Uint64(b[arm64TrapX0+8*i:])
		c.Set(fmt.Sprintf("x%d", i), t.x[i])
	}
	t.x[fp], t.x[lr] = binary.LittleEndian.Uint64(b[arm64TrapFp:]), binary.LittleEndian.Uint64(b[arm64TrapLr:])
	t.sp, t.pc = binary.LittleEndian.Uint64(b[arm64TrapSp:]), binary.LittleEndian.Uint64(b[arm64TrapPc:])
	c.Set("fp", t.x[fp])
	c.Set("lr", t.x[lr])
	c.Set("sp", t.sp)
	c.Set("pc", t.pc)
	c.Set("cpsr", uint64(binary.LittleEndian.Uint32(b[arm64TrapSpsr:])))
	return &Trap{Kind: TrapFrame, Address: at, Registers: c}, nil
}

// arm64Context restores every integer register from the CONTEXT record at
// sp (MSFT_OP_CONTEXT).
func (w *walker) arm64Context(t *arm64State) (*Trap, error) {
	at := t.sp
	b, err := w.bytes(at, cpuctx.SizeARM64)
	if err != nil {
		return nil, err
	}
	c, err := cpuctx.Parse(cpuctx.ArchARM64, b)
	if err != nil {
		return nil, err
	}
	for i := range t.x {
		t.x[i], _ = c.Reg(fmt.Sprintf("x%d", i))
	}
	t.sp, t.pc = c.SP(), c.PC()
	return &Trap{Kind: TrapContext, Address: at, Registers: c}, nil
}

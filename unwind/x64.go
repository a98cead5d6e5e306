package unwind

import (
	"encoding/binary"
	"fmt"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/peimage"
)

// x64 register numbers as UNWIND_CODE.OpInfo and the frame register use them.
const (
	rax = iota
	rcx
	rdx
	rbx
	rsp
	rbp
	rsi
	rdi
)

var x64Names = [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

type x64State struct {
	r   [16]uint64
	rip uint64
}

// X64 walks an x64 stack from ctx.
func X64(ctx *cpuctx.Context, mem Memory, mods Modules, images Images) Result {
	var s x64State
	for i, n := range x64Names {
		s.r[i], _ = ctx.Reg(n)
	}
	s.rip = ctx.PC()
	w := newWalker(mem, mods, images)
	var res Result
	method, exact := MethodContext, true
	var trap *Trap
	w.revisit(s.rip, s.r[rsp])
	for {
		if len(res.Frames) == MaxFrames {
			return res.stop(StopMaxFrames, "stopped after %d frames", MaxFrames)
		}
		m, ok := w.addFrame(&res, s.rip, s.r[rsp], method, trap)
		if !ok {
			return res.stop(StopNoModule, "%#x is in no loaded module", s.rip)
		}
		img, err := w.image(m)
		if err != nil {
			return res.stop(StopNoImage, "no image for %s: %v", m.Name, err)
		}
		fns, ok := w.x64[m]
		if !ok {
			if fns, err = img.RuntimeFunctions(); err != nil {
				return res.stop(StopBadUnwindData, "%s: %v", m.Name, err)
			}
			w.x64[m] = fns
		}
		oldSP := s.r[rsp]
		rva := s.rip - m.Base
		method, trap, err = w.x64Step(&s, m, img, fns, exact)
		if err != nil {
			return res.stepFailed(m, rva, err)
		}
		if r, ok := w.progress(&res, oldSP, s.r[rsp], s.rip, method, exact); !ok {
			return r
		}
		exact = method == MethodTrap
	}
}

// x64Step restores the caller's registers (or the interrupted frame's,
// through a machine frame) for the function holding s.rip. exact says
// s.rip is the instruction that was running (the first frame, or one a
// trap interrupted) rather than a return address.
func (w *walker) x64Step(s *x64State, m Module, img *peimage.File, fns []peimage.RuntimeFunction, exact bool) (string, *Trap, error) {
	rva := uint32(s.rip - m.Base)
	look := rva
	if !exact && look > 0 {
		look-- // a return address may be the first byte of the next function
	}
	rf, ok := peimage.LookupFunction(fns, look)
	if !ok { // a leaf function: nothing pushed, the return address is at rsp
		if err := w.x64Return(s); err != nil {
			return "", nil, err
		}
		return MethodLeaf, nil, nil
	}
	chain, err := img.UnwindChain(rf)
	if err != nil {
		return "", nil, err
	}
	u0 := chain[0]
	prologOff := int(rva - rf.Begin)
	inProlog := rva >= rf.Begin && prologOff < int(u0.SizeOfProlog)
	if exact && (!inProlog || len(chain) > 1) {
		if in, err := w.x64Epilog(s, img, rf, chain, rva); in || err != nil {
			return MethodUnwind, nil, err
		}
	}
	// The establisher frame: UWOP_SAVE_NONVOL and UWOP_SAVE_XMM128 offsets
	// count from it, not from rsp, which alloca may have moved.
	base := s.r[rsp]
	if u0.FrameRegister != 0 {
		fpSet := !inProlog || len(chain) > 1 // a chained record's frame register was set by the primary's prolog
		for _, c := range u0.Codes {
			if c.Op == peimage.UwopSetFPReg && int(c.CodeOffset) <= prologOff {
				fpSet = true
			}
		}
		if fpSet {
			base = s.r[u0.FrameRegister] - 16*uint64(u0.FrameOffset)
		}
	}
	for i, u := range chain {
		for _, c := range u.Codes {
			if c.Op == peimage.UwopEpilog && u.Version == 2 {
				continue // an epilog descriptor, not a prolog operation
			}
			if i == 0 && inProlog && int(c.CodeOffset) > prologOff {
				continue // this prolog step had not run yet
			}
			switch c.Op {
			case peimage.UwopPushNonvol:
				v, err := w.u64(s.r[rsp])
				if err != nil {
					return "", nil, err
				}
				s.r[c.Info&15] = v
				s.r[rsp] += 8
			case peimage.UwopAllocLarge:
				if c.Info == 0 {
					s.r[rsp] += uint64(c.Operand) * 8
				} else {
					s.r[rsp] += uint64(c.Operand)
				}
			case peimage.UwopAllocSmall:
				s.r[rsp] += uint64(c.Info)*8 + 8
			case peimage.UwopSetFPReg:
				if u.FrameRegister == 0 {
					return "", nil, fmt.Errorf("UWOP_SET_FPREG without a frame register")
				}
				s.r[rsp] = s.r[u.FrameRegister] - 16*uint64(u.FrameOffset)
			case peimage.UwopSaveNonvol, peimage.UwopSaveNonvolFar:
				off := uint64(c.Operand)
				if c.Op == peimage.UwopSaveNonvol {
					off *= 8
				}
				v, err := w.u64(base + off)
				if err != nil {
					return "", nil, err
				}
				s.r[c.Info&15] = v
			case peimage.UwopSaveXMM128, peimage.UwopSaveXMM128Far:
				// Vector registers are not part of the walk's state.
			case peimage.UwopPushMachFrame:
				return w.x64MachineFrame(s, c.Info == 1, base)
			}
		}
	}
	if err := w.x64Return(s); err != nil {
		return "", nil, err
	}
	return MethodUnwind, nil, nil
}

// x64Return pops the return address, as ret does.
func (w *walker) x64Return(s *x64State) error {
	ret, err := w.u64(s.r[rsp])
	if err != nil {
		return err
	}
	s.rip = ret
	s.r[rsp] += 8
	return nil
}

// x64MachineFrame restores RIP and RSP from the frame the processor pushed
// on an interrupt or exception (RIP, CS, EFLAGS, RSP, SS, after an error
// code for some exceptions). The kernel's trap handlers build a
// KTRAP_FRAME that ends with that frame and make it their own fixed
// frame: when the handler's frame base (base) is exactly where that
// KTRAP_FRAME starts, it is decoded too.
func (w *walker) x64MachineFrame(s *x64State, errorCode bool, base uint64) (string, *Trap, error) {
	at := s.r[rsp]
	t := &Trap{Kind: TrapMachineFrame, Address: at, HasErrorCode: errorCode}
	if errorCode {
		v, err := w.u64(at)
		if err != nil {
			return "", nil, err
		}
		t.ErrorCode = v
		at += 8
	}
	ip, err := w.u64(at)
	if err != nil {
		return "", nil, err
	}
	sp, err := w.u64(at + 24)
	if err != nil {
		return "", nil, err
	}
	const ripInTrapFrame = 0x168 // offset of KTRAP_FRAME.Rip
	if at >= ripInTrapFrame && base == at-ripInTrapFrame {
		if b, err := w.mem.Bytes(at-ripInTrapFrame, cpuctx.TrapFrameX64Size); err == nil && len(b) == cpuctx.TrapFrameX64Size {
			if c, fault, err := cpuctx.ParseTrapFrameX64(b); err == nil && c.PC() == ip && c.SP() == sp {
				t.Kind, t.Address, t.Registers, t.FaultAddress = TrapFrame, at-ripInTrapFrame, c, fault
			}
		}
	}
	s.rip, s.r[rsp] = ip, sp
	return MethodTrap, t, nil
}

// maxEpilog bounds the code read when looking for an epilog: an add or
// lea (8 bytes), 16 pops (2 bytes each) and a jmp (7 bytes).
const maxEpilog = 64

// x64Epilog reports whether rva is inside an epilog and, if so, unwinds
// by emulating the rest of it, as the x64 specification's rules allow:
// an optional "add rsp, imm" or "lea rsp, [frame register + disp]", then
// pops of non-volatile registers, then ret or a jmp out of the function.
func (w *walker) x64Epilog(s *x64State, img *peimage.File, rf peimage.RuntimeFunction, chain []*peimage.UnwindInfo, rva uint32) (bool, error) {
	if rva < rf.Begin || rva >= rf.End {
		return false, nil
	}
	n := min(int(rf.End-rva)+8, maxEpilog) // a tail jmp may be the function's last instruction
	code, err := img.ReadRVA(rva, n)
	for err != nil && n > 1 {
		n /= 2
		code, err = img.ReadRVA(rva, n)
	}
	if err != nil {
		return false, nil // no code: unwind as the body
	}
	var frameReg uint8
	for _, u := range chain {
		if u.FrameRegister != 0 {
			frameReg = u.FrameRegister
		}
	}
	t := *s
	i := 0
	at := func(k int) int {
		if i+k < len(code) {
			return int(code[i+k])
		}
		return -1
	}
	switch {
	case at(0) == 0x48 && at(1) == 0x83 && at(2) == 0xc4 && at(3) >= 0: // add rsp, imm8
		t.r[rsp] += uint64(int64(int8(code[i+3])))
		i += 4
	case at(0) == 0x48 && at(1) == 0x81 && at(2) == 0xc4 && i+7 <= len(code): // add rsp, imm32
		t.r[rsp] += uint64(int64(int32(binary.LittleEndian.Uint32(code[i+3:]))))
		i += 7
	case (at(0) == 0x48 || at(0) == 0x49) && at(1) == 0x8d && at(2) >= 0: // lea rsp, [reg+disp]
		modrm := code[i+2]
		reg := modrm&7 | (code[i]&1)<<3
		if modrm>>3&7 != rsp || modrm&7 == 4 || frameReg == 0 || reg != frameReg {
			return false, nil
		}
		switch modrm >> 6 {
		case 1:
			if at(3) < 0 {
				return false, nil
			}
			t.r[rsp] = t.r[reg] + uint64(int64(int8(code[i+3])))
			i += 4
		case 2:
			if i+7 > len(code) {
				return false, nil
			}
			t.r[rsp] = t.r[reg] + uint64(int64(int32(binary.LittleEndian.Uint32(code[i+3:]))))
			i += 7
		default:
			return false, nil
		}
	}
	for pops := 0; pops < 16; pops++ {
		switch {
		case at(0) >= 0x58 && at(0) <= 0x5f && at(0) != 0x5c:
			v, err := w.u64(t.r[rsp])
			if err != nil {
				return true, err
			}
			t.r[code[i]-0x58] = v
			t.r[rsp] += 8
			i++
			continue
		case at(0) == 0x41 && at(1) >= 0x58 && at(1) <= 0x5f:
			v, err := w.u64(t.r[rsp])
			if err != nil {
				return true, err
			}
			t.r[8+code[i+1]-0x58] = v
			t.r[rsp] += 8
			i += 2
			continue
		}
		break
	}
	if !x64EpilogEnd(code[i:], rf, rva+uint32(i)) {
		return false, nil
	}
	if err := w.x64Return(&t); err != nil {
		return true, err
	}
	*s = t
	return true, nil
}

// x64EpilogEnd reports whether code (at rva) starts with an instruction
// that may end an epilog: ret, ret imm16, rep ret, an indirect jmp through
// memory without displacement (ModRM mod 00), or a jmp leaving the function.
func x64EpilogEnd(code []byte, rf peimage.RuntimeFunction, rva uint32) bool {
	if len(code) == 0 {
		return false
	}
	outside := func(target int64) bool { return target < int64(rf.Begin) || target >= int64(rf.End) }
	switch {
	case code[0] == 0xc3, code[0] == 0xc2 && len(code) >= 3, code[0] == 0xf3 && len(code) >= 2 && code[1] == 0xc3:
		return true
	case code[0] == 0xe9 && len(code) >= 5:
		return outside(int64(rva) + 5 + int64(int32(binary.LittleEndian.Uint32(code[1:]))))
	case code[0] == 0xeb && len(code) >= 2:
		return outside(int64(rva) + 2 + int64(int8(code[1])))
	}
	if code[0]&0xf0 == 0x40 && len(code) > 1 { // REX prefix
		code = code[1:]
	}
	return len(code) >= 2 && code[0] == 0xff && code[1]>>3&7 == 4 && code[1]>>6 == 0
}

// Package unwind walks x64 kernel stacks the way the Windows unwinder does:
// from a register context, using each module's exception data (.pdata
// RUNTIME_FUNCTION and UNWIND_INFO) to restore the caller's registers,
// reading saved values from the stack memory the dump captured. Frames
// whose module image is not available end the walk; the caller falls back
// to a stack scan for the rest.
package unwind

import (
	"fmt"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/peimage"
)

// Memory reads captured virtual memory.
type Memory interface {
	Uint64(addr uint64) (uint64, error)
}

// Module is a loaded module the walk may cross.
type Module struct {
	Name      string
	Base      uint64
	Size      uint32
	Timestamp uint32
}

// Modules finds the module holding an address.
type Modules interface {
	ModuleAt(addr uint64) (Module, bool)
}

// Images supplies the image file of a module.
type Images interface {
	Image(name string, timestamp, size uint32) (*peimage.File, error)
}

// Frame is one frame of the walk.
type Frame struct {
	Number int
	SP     uint64 // the frame's stack pointer (WinDbg's Child-SP)
	IP     uint64 // the frame's instruction pointer (the call site for frames above the first)
	Module string // "" when no module holds IP
	Offset uint64
	Method string // "context" for the first frame, "unwind" for frames restored from unwind data, "leaf" when there was none
}

// Result is a walk and why it stopped.
type Result struct {
	Frames  []Frame
	Stopped string
}

// register numbers of UNWIND_CODE.OpInfo
var regNames = [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

// MaxFrames bounds a walk.
const MaxFrames = 256

// X64 walks the stack from ctx.
func X64(ctx *cpuctx.Context, mem Memory, mods Modules, images Images) Result {
	regs := map[string]uint64{}
	for _, n := range regNames {
		if v, ok := ctx.Reg(n); ok {
			regs[n] = v
		}
	}
	rip := ctx.PC()
	var res Result
	method := "context"
	for n := 0; n < MaxFrames; n++ {
		rsp := regs["rsp"]
		f := Frame{Number: n, SP: rsp, IP: rip, Method: method}
		m, ok := mods.ModuleAt(rip)
		if ok {
			f.Module, f.Offset = m.Name, rip-m.Base
		}
		res.Frames = append(res.Frames, f)
		if !ok {
			res.Stopped = fmt.Sprintf("%#x is in no loaded module", rip)
			return res
		}
		img, err := images.Image(m.Name, m.Timestamp, m.Size)
		if err != nil {
			res.Stopped = fmt.Sprintf("no image for %s: %v", m.Name, err)
			return res
		}
		fns, err := img.RuntimeFunctions()
		if err != nil {
			res.Stopped = fmt.Sprintf("%s: %v", m.Name, err)
			return res
		}
		rva := uint32(rip - m.Base)
		next, machine, how, err := step(img, fns, rva, regs, mem)
		if err != nil {
			res.Stopped = fmt.Sprintf("unwinding %s+%#x: %v", m.Name, rva, err)
			return res
		}
		method = how
		rip = next
		if rip == 0 {
			res.Stopped = "reached the end of the stack"
			return res
		}
		if !machine && regs["rsp"] <= rsp {
			res.Stopped = fmt.Sprintf("the stack pointer did not grow at frame %d", n)
			return res
		}
	}
	res.Stopped = fmt.Sprintf("stopped after %d frames", MaxFrames)
	return res
}

// step restores the caller's registers for the function at rva and
// returns the caller's instruction pointer.
func step(img *peimage.File, fns []peimage.RuntimeFunction, rva uint32, regs map[string]uint64, mem Memory) (uint64, bool, string, error) {
	rf, ok := peimage.LookupFunction(fns, rva)
	if !ok { // a leaf function: nothing pushed, the return address is at rsp
		ret, err := mem.Uint64(regs["rsp"])
		if err != nil {
			return 0, false, "", err
		}
		regs["rsp"] += 8
		return ret, false, "leaf", nil
	}
	inPrologAt := int(rva - rf.Begin)
	first := true
	for depth := 0; depth < 32; depth++ {
		u, err := img.Unwind(rf.UnwindInfo)
		if err != nil {
			return 0, false, "", err
		}
		for _, c := range u.Codes {
			if first && int(c.CodeOffset) > inPrologAt && inPrologAt < int(u.SizeOfProlog) {
				continue // this prolog step had not run yet
			}
			switch c.Op {
			case peimage.UwopPushNonvol:
				v, err := mem.Uint64(regs["rsp"])
				if err != nil {
					return 0, false, "", err
				}
				regs[regNames[c.Info]] = v
				regs["rsp"] += 8
			case peimage.UwopAllocLarge:
				if c.Info == 0 {
					regs["rsp"] += uint64(c.Operand) * 8
				} else {
					regs["rsp"] += uint64(c.Operand)
				}
			case peimage.UwopAllocSmall:
				regs["rsp"] += uint64(c.Info)*8 + 8
			case peimage.UwopSetFPReg:
				regs["rsp"] = regs[regNames[u.FrameRegister]] - uint64(u.FrameOffset)*16
			case peimage.UwopSaveNonvol, peimage.UwopSaveNonvolFar:
				off := uint64(c.Operand)
				if c.Op == peimage.UwopSaveNonvol {
					off *= 8
				}
				v, err := mem.Uint64(regs["rsp"] + off)
				if err != nil {
					return 0, false, "", err
				}
				regs[regNames[c.Info]] = v
			case peimage.UwopPushMachFrame:
				base := regs["rsp"]
				if c.Info == 1 { // an error code was pushed too
					base += 8
				}
				ip, err := mem.Uint64(base)
				if err != nil {
					return 0, false, "", err
				}
				sp, err := mem.Uint64(base + 24)
				if err != nil {
					return 0, false, "", err
				}
				regs["rsp"] = sp
				return ip, true, "unwind", nil
			}
		}
		if u.Chained == nil {
			break
		}
		rf, first = *u.Chained, false
	}
	ret, err := mem.Uint64(regs["rsp"])
	if err != nil {
		return 0, false, "", err
	}
	regs["rsp"] += 8
	return ret, false, "unwind", nil
}

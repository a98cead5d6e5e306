package analyze

import (
	"encoding/binary"
	"fmt"

	"github.com/bugcheck/bugcheck/bugcode"
	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/disasm"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/ntstatus"
)

// faultSpec says which bug check parameters (0-based, -1 for none) carry
// the facts of a fault.
type faultSpec struct {
	excCode, ip, exr, cxr, trap int // exception code, faulting IP, exception record, context record, trap frame
	addr, access                int // memory address referenced and the access kind
}

var none = faultSpec{-1, -1, -1, -1, -1, -1, -1}

func spec(f func(*faultSpec)) faultSpec { s := none; f(&s); return s }

// faultSpecs covers the bug checks whose parameters locate the fault; the
// facts follow Microsoft's bug check reference.
var faultSpecs = map[uint32]faultSpec{
	0x1e:  spec(func(s *faultSpec) { s.excCode, s.ip = 0, 1 }),
	0x7e:  spec(func(s *faultSpec) { s.excCode, s.ip, s.exr, s.cxr = 0, 1, 2, 3 }),
	0x8e:  spec(func(s *faultSpec) { s.excCode, s.ip, s.trap = 0, 1, 2 }),
	0x3b:  spec(func(s *faultSpec) { s.excCode, s.ip, s.cxr = 0, 1, 2 }),
	0x50:  spec(func(s *faultSpec) { s.addr, s.access, s.ip = 0, 1, 2 }),
	0xd5:  spec(func(s *faultSpec) { s.addr, s.access, s.ip = 0, 1, 2 }),
	0xd6:  spec(func(s *faultSpec) { s.addr, s.access, s.ip = 0, 1, 2 }),
	0x0a:  spec(func(s *faultSpec) { s.addr, s.access, s.ip = 0, 2, 3 }),
	0xd1:  spec(func(s *faultSpec) { s.addr, s.access, s.ip = 0, 2, 3 }),
	0xc5:  spec(func(s *faultSpec) { s.addr, s.ip = 0, 3 }),
	0xbe:  spec(func(s *faultSpec) { s.addr = 0 }),
	0xfc:  spec(func(s *faultSpec) { s.addr = 0 }),
	0x139: spec(func(s *faultSpec) { s.trap, s.exr = 1, 2 }),
}

func (a *analysis) param(i int) uint64 { return a.f.Header.BugCheckParameters[i] }

// faultContext finds the exception record, the register context and the
// faulting instruction pointer that the bug check describes.
func (a *analysis) faultContext() {
	code := a.f.Header.BugCheckCode
	base := bugcode.Base(code)
	s, ok := faultSpecs[base]
	if !ok {
		s = none
	}
	ps := a.arch.PointerSize()

	// Exception record.
	if s.exr >= 0 && a.param(s.exr) != 0 {
		addr := a.param(s.exr)
		size := kdump.ExceptionRecordSize64
		if ps == 4 {
			size = kdump.ExceptionRecordSize32
		}
		if b, err := a.mem.Bytes(addr, size); err == nil {
			e, _ := kdump.ParseExceptionRecord(b, ps == 8)
			a.setException(e, fmt.Sprintf("exception record at %s (parameter %d)", a.ptrHex(addr), s.exr+1))
		} else {
			a.warn("the exception record at %s (parameter %d) was not captured", a.ptrHex(addr), s.exr+1)
		}
	}
	if a.r.Exception == nil && s.excCode >= 0 {
		e := kdump.ExceptionRecord{Code: uint32(a.param(s.excCode))}
		if s.ip >= 0 {
			e.Address = a.param(s.ip)
		}
		if base == 0x1e { // parameters 3 and 4 are the exception's first two parameters
			e.NumberParameters = 2
			e.Information[0], e.Information[1] = a.param(2), a.param(3)
		}
		a.setException(e, "bug check parameters")
	}

	// Register context.
	if s.cxr >= 0 && a.param(s.cxr) != 0 {
		addr := a.param(s.cxr)
		if b, err := a.mem.Bytes(addr, a.arch.Size()); err == nil {
			if c, err := cpuctx.Parse(a.arch, b); err == nil {
				a.setContext(c, true, fmt.Sprintf("context record at %s (parameter %d)", a.ptrHex(addr), s.cxr+1))
			}
		} else {
			a.warn("the context record at %s (parameter %d) was not captured", a.ptrHex(addr), s.cxr+1)
		}
	}
	if a.ctx == nil && s.trap >= 0 && a.param(s.trap) != 0 {
		a.trapFrameAt(a.param(s.trap), fmt.Sprintf("trap frame at %s (parameter %d)", a.ptrHex(a.param(s.trap)), s.trap+1))
	}

	// Faulting instruction pointer.
	switch {
	case s.ip >= 0 && a.param(s.ip) != 0:
		a.ip, a.ipKnown = a.param(s.ip), true
	case a.hasExc && a.exc.Address != 0:
		a.ip, a.ipKnown = a.exc.Address, true
	case a.ctx != nil:
		a.ip, a.ipKnown = a.ctx.PC(), true
	}
	if a.ipKnown && a.ctx == nil {
		a.findTrapFrame()
	}
	if a.ipKnown && a.ctx == nil {
		// Windows sometimes stores the faulting context in the header.
		if c, err := a.f.Context(); err == nil && c.PC() == a.ip {
			a.setContext(c, true, "dump header context record")
		}
	}
	if a.ctx != nil && a.ctx.PC() == a.ip {
		a.faultSP = a.ctx.SP()
	}

	// The memory access.
	switch {
	case s.addr >= 0:
		kind := accUnknown
		if s.access >= 0 {
			if base == 0x0a || base == 0xd1 {
				kind = irqlAccess(base, a.param(s.access))
			} else {
				kind = pageFaultAccess(a.f.Header.MinorVersion, a.param(s.access))
			}
		}
		src := fmt.Sprintf("bug check parameter %d", s.addr+1)
		if s.access >= 0 {
			src += fmt.Sprintf(" (address) and %d (access)", s.access+1)
		}
		a.r.Access = &Access{Address: a.ptrHex(a.param(s.addr)), Kind: accessName(kind), Source: src}
		a.r.Access.PTE = a.pte(a.param(s.addr))
	case a.hasExc && a.exc.Code == 0xc0000005:
		if p := a.exc.Params(); len(p) >= 2 {
			acc := &Access{Address: a.ptrHex(p[1]), Kind: accessName(exceptionAccess(p[0])), Source: "access violation parameters"}
			if p[1] == a.maxPtr() {
				acc.Note = "the processor did not report an address: this is typical of a general-protection fault (a non-canonical address or a protection violation), not of an unmapped page"
			} else {
				acc.PTE = a.pte(p[1])
			}
			a.r.Access = acc
		}
	}
}

// pte walks the page tables for addr when the dump holds them.
func (a *analysis) pte(addr uint64) *PTE {
	pt := a.f.PageTables()
	if pt == nil {
		return nil
	}
	w := pt.Walk(addr)
	p := &PTE{State: w.State.String(), Explanation: w.Explain()}
	if n := len(w.Entries); n > 0 {
		p.Entry, p.Value = w.Entries[n-1].Name, hex64(w.Entries[n-1].Value)
	}
	return p
}

func (a *analysis) maxPtr() uint64 {
	if a.arch == cpuctx.ArchX86 {
		return 0xffffffff
	}
	return ^uint64(0)
}

func (a *analysis) warn(format string, args ...any) {
	a.r.Warnings = append(a.r.Warnings, fmt.Sprintf(format, args...))
}

func (a *analysis) setException(e kdump.ExceptionRecord, source string) {
	x := &Exception{Code: fmt.Sprintf("%#x", e.Code), Name: ntstatus.Name(e.Code), Text: ntstatus.Describe(e.Code),
		Address: a.ptrHex(e.Address), Flags: fmt.Sprintf("%#x", e.Flags), Parameters: []string{}, Source: source}
	for _, p := range e.Params() {
		x.Parameters = append(x.Parameters, a.ptrHex(p))
	}
	a.r.Exception, a.exc, a.hasExc = x, e, true
}

func (a *analysis) setContext(c *cpuctx.Context, complete bool, source string) {
	a.ctx, a.ctxFull = c, complete
	regs := &Registers{Source: source, Complete: complete, Registers: map[string]string{}}
	for _, n := range c.Names() {
		if !complete && !trapSaved[n] && n != "cs" && n != "ss" && n != "efl" {
			continue // a trap frame leaves the other slots stale
		}
		if v, ok := c.Reg(n); ok {
			regs.Registers[n] = a.ptrHex(v)
			regs.order = append(regs.order, n)
		}
	}
	a.r.Context = regs
}

// trapFrameAt decodes a KTRAP_FRAME (x64) at addr.
func (a *analysis) trapFrameAt(addr uint64, source string) bool {
	if a.arch != cpuctx.ArchX64 {
		return false
	}
	b, err := a.mem.Bytes(addr, cpuctx.TrapFrameX64Size)
	if err != nil {
		a.warn("the trap frame at %s was not captured", a.ptrHex(addr))
		return false
	}
	c, _, err := cpuctx.ParseTrapFrameX64(b)
	if err != nil {
		return false
	}
	a.setContext(c, false, source)
	return true
}

// findTrapFrame looks on the captured stack for an x64 KTRAP_FRAME whose
// saved instruction pointer is the faulting one, as the page-fault and
// interrupt handlers leave there.
func (a *analysis) findTrapFrame() {
	top, stack := a.capturedStack()
	if a.arch != cpuctx.ArchX64 || len(stack) < cpuctx.TrapFrameX64Size {
		return
	}
	le := binary.LittleEndian
	for off := 0; off+cpuctx.TrapFrameX64Size <= len(stack); off += 8 {
		if le.Uint64(stack[off+0x168:]) != a.ip {
			continue
		}
		rsp := le.Uint64(stack[off+0x180:])
		frame := top + uint64(off)
		if rsp <= frame || rsp-frame > 0x100000 || le.Uint16(stack[off+0x170:])&3 != 0 {
			continue // a trap frame from kernel mode sits below the interrupted stack pointer
		}
		a.trapFrameAt(frame, fmt.Sprintf("trap frame found on the stack at %s (its saved rip is the faulting address)", a.ptrHex(frame)))
		return
	}
}

func (a *analysis) disasmArch() disasm.Arch {
	switch a.arch {
	case cpuctx.ArchX86:
		return disasm.X86
	case cpuctx.ArchARM64:
		return disasm.ARM64
	}
	return disasm.X64
}

// trapRegs exposes only the registers a trap frame reliably saves.
type trapRegs struct{ c *cpuctx.Context }

var trapSaved = map[string]bool{"rax": true, "rcx": true, "rdx": true, "r8": true, "r9": true, "r10": true, "r11": true,
	"rbp": true, "rsp": true, "rip": true, "eax": true, "ecx": true, "edx": true, "r8d": true, "r9d": true, "r10d": true, "r11d": true}

func (t trapRegs) Reg(name string) (uint64, bool) {
	if !trapSaved[name] {
		return 0, false
	}
	return t.c.Reg(name)
}

func (a *analysis) faultingInstruction() {
	if !a.ipKnown {
		return
	}
	sym, mod, inMod := a.symbol(a.ip)
	fip := &FaultingIP{Address: a.ptrHex(a.ip), Symbol: sym, Source: "bug check parameters"}
	if a.r.Context != nil && a.ctx.PC() == a.ip {
		fip.Source = a.r.Context.Source
	}
	if inMod {
		fip.Module, fip.Offset = mod.BaseName(), fmt.Sprintf("%#x", a.ip-mod.Base)
		fip.Function = a.function(a.ip)
	}
	a.r.FaultingIP = fip
	code := make([]byte, 16)
	n, _ := a.mem.Read(a.ip, code)
	if n == 0 {
		fip.Note = "the code at the faulting address was not captured in the dump"
		if a.r.Access != nil && a.r.Access.Kind == "execute" {
			fip.Note = "the processor faulted fetching the instruction itself: execution went to an address that holds no code"
		}
		return
	}
	var regs disasm.Registers
	if a.ctx != nil && a.ctx.PC() == a.ip {
		if a.ctxFull {
			regs = a.ctx
		} else {
			regs = trapRegs{a.ctx}
		}
	}
	inst, err := disasm.Decode(a.disasmArch(), code[:n], a.ip, regs)
	if err != nil {
		fip.Note = "the bytes at the faulting address do not decode as an instruction: " + err.Error()
		return
	}
	a.inst = &inst
	fip.Instruction, fip.Bytes = inst.Text, hexBytes(inst.Bytes)
	if inst.Access != disasm.AccessNone {
		fip.Access, fip.AccessSize = inst.Access.String(), inst.AccessSize
		if inst.EAKnown {
			fip.EffectiveAddress = a.ptrHex(inst.EA)
		}
	}
	if a.r.Access != nil && a.r.Access.Kind == "unknown" && inst.Access != disasm.AccessNone {
		a.r.Access.Kind = inst.Access.String()
	}
}

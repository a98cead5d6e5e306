package analyze

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/unwind"
)

// moduleFinder adapts the analysis's module lookup for the unwinder.
type moduleFinder struct{ a *analysis }

func (m moduleFinder) ModuleAt(addr uint64) (unwind.Module, bool) {
	d, ok := m.a.moduleAt(addr)
	if !ok {
		return unwind.Module{}, false
	}
	return unwind.Module{Name: d.BaseName(), Base: d.Base, Size: d.Size, Timestamp: d.Timestamp}, true
}

// unwindStack walks the stack from the fault context, when images were
// supplied: with the images' unwind data on x64 and ARM64, along the EBP
// chain on x86.
func (a *analysis) unwindStack() {
	// Dumps with page tables hold the drivers' images themselves.
	if a.opt.Images == nil && a.f.PageTables() == nil || a.arch != cpuctx.ArchX64 && a.arch != cpuctx.ArchARM64 && a.arch != cpuctx.ArchX86 {
		return
	}
	images := &dumpImages{a: a, files: a.opt.Images}
	if a.ctx == nil || !a.ipKnown || a.ctx.PC() != a.ip {
		a.r.FramesNote = "no register context for the fault, so the stack could not be unwound"
		return
	}
	var res unwind.Result
	switch a.arch {
	case cpuctx.ArchX64:
		res = unwind.X64(a.ctx, a.mem, moduleFinder{a}, images)
	case cpuctx.ArchARM64:
		res = unwind.ARM64(a.ctx, a.mem, moduleFinder{a}, images)
	default:
		res = unwind.X86(a.ctx, a.mem, moduleFinder{a})
	}
	for _, f := range res.Frames {
		sf := StackFrame{Number: f.Number, ChildSP: a.ptrHex(f.SP), IP: a.ptrHex(f.IP), Module: f.Module, Method: f.Method, Symbol: a.ptrHex(f.IP)}
		if f.Module != "" {
			sf.Offset = hex64(f.Offset)
			sf.Symbol = fmt.Sprintf("%s+%#x", f.Module, f.Offset)
			sf.Function = a.function(f.IP)
		}
		if t := f.Trap; t != nil {
			sf.Trap = &TrapRecord{Kind: t.Kind, Address: a.ptrHex(t.Address)}
			if t.FaultAddress != 0 {
				sf.Trap.FaultAddress = a.ptrHex(t.FaultAddress)
			}
			if t.HasErrorCode {
				sf.Trap.ErrorCode = hex64(t.ErrorCode)
			}
		}
		a.r.Frames = append(a.r.Frames, sf)
	}
	a.r.FramesNote = "unwinding stopped: " + res.Stopped
}

// function names the function holding addr as WinDbg does
// (module!Function+0xoff), or "" without symbols.
func (a *analysis) function(addr uint64) string {
	if a.opt.Symbols == nil {
		return ""
	}
	m, ok := a.moduleAt(addr)
	if !ok {
		return ""
	}
	name, off, ok := a.opt.Symbols.Function(m.BaseName(), m.Timestamp, m.Size, uint32(addr-m.Base))
	if !ok {
		return ""
	}
	mod := m.BaseName()
	if i := strings.LastIndexByte(mod, '.'); i > 0 {
		mod = mod[:i]
	}
	return fmt.Sprintf("%s!%s+%#x", mod, name, off)
}

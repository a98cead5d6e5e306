package analyze

import (
	"encoding/binary"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/disasm"
)

// maxStackSlots bounds the stack listing; real kernel stacks yield far fewer.
const maxStackSlots = 2048

// stackScan lists the captured stack slots whose values point into loaded
// modules. Without unwind data this is the classic "raw stack" view: return
// addresses show up among stale values, so each hit says whether the bytes
// before it decode as a call instruction, which real return addresses do.
func (a *analysis) stackScan() {
	top, stack := a.capturedStack()
	if len(stack) == 0 || len(a.mods) == 0 {
		return
	}
	ps := a.arch.PointerSize()
	start := 0
	if mis := int(top % uint64(ps)); mis != 0 {
		start = ps - mis
	}
	for off := start; off+ps <= len(stack); off += ps {
		var v uint64
		if ps == 8 {
			v = binary.LittleEndian.Uint64(stack[off:])
		} else {
			v = uint64(binary.LittleEndian.Uint32(stack[off:]))
		}
		sym, mod, ok := a.symbol(v)
		if !ok {
			continue
		}
		if len(a.r.Stack) == maxStackSlots {
			a.warn("the stack listing stops after %d entries", maxStackSlots)
			break
		}
		addr := top + uint64(off)
		slot := StackSlot{Address: a.ptrHex(addr), Value: a.ptrHex(v), Module: mod.BaseName(),
			Offset: hex64(v - mod.Base), Symbol: sym, AfterFault: a.faultSP != 0 && addr >= a.faultSP}
		slot.CallVerified = a.precededByCall(v)
		if slot.CallVerified == nil || *slot.CallVerified {
			slot.Function = a.function(v)
		}
		a.r.Stack = append(a.r.Stack, slot)
	}
}

// precededByCall reports whether the instruction ending at ret is a call,
// or nil when the code bytes were not captured.
func (a *analysis) precededByCall(ret uint64) *bool {
	var lens []int
	switch a.arch {
	case cpuctx.ArchARM64:
		lens = []int{4}
	default:
		lens = []int{5, 6, 2, 3, 7, 4}
	}
	captured := false
	for _, n := range lens {
		if ret < uint64(n) {
			continue
		}
		code, err := a.mem.Bytes(ret-uint64(n), n)
		if err != nil {
			continue
		}
		captured = true
		op, l, err := disasm.Mnemonic(a.disasmArch(), code)
		if err == nil && l == n && isCall(op) {
			t := true
			return &t
		}
	}
	if !captured {
		return nil
	}
	f := false
	return &f
}

func isCall(m string) bool {
	switch m {
	case "call", "bl", "blr", "blraa", "blrab", "blraaz", "blrabz":
		return true
	}
	return false
}

package analyze

import (
	"encoding/binary"

	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/ntkernel"
)

// KernelOf returns a reader of the kernel structures in a dump's memory,
// with the debugger data block the dump stores (triage dumps keep a copy;
// bigger dumps hold it at the header's KdDebuggerDataBlock) when it can be
// read and is plain. The Kernel is usable without the block too: it then
// relies on the header's list heads and the per-build offsets.
func KernelOf(f *kdump.File) *ntkernel.Kernel {
	h := f.Header
	k := &ntkernel.Kernel{Mem: f.Memory(), Arch: f.Arch, Build: h.MinorVersion,
		PsLoadedModuleList: h.PsLoadedModuleList, PsActiveProcessHead: h.PsActiveProcessHead,
		Processors: int(h.NumberProcessors)}
	var raw []byte
	if f.Debugger != nil {
		raw = f.Debugger.Raw
	} else if h.KdDebuggerDataBlock != 0 {
		raw = readDebuggerData(f, h.KdDebuggerDataBlock)
	}
	if raw != nil {
		d, err := ntkernel.ParseDebuggerData(raw, h.Is64)
		if err == nil {
			k.KDBG = d
		} else {
			k.Warnings = append(k.Warnings, err.Error())
		}
	}
	return k
}

// readDebuggerData reads the block at addr, as long as it says it is (at
// most a page).
func readDebuggerData(f *kdump.File, addr uint64) []byte {
	mem := f.Memory()
	hdr := make([]byte, 0x18)
	if n, _ := mem.Read(addr, hdr); n < len(hdr) {
		return nil
	}
	size := int(binary.LittleEndian.Uint32(hdr[0x14:]))
	size = max(min(size, 0x1000), ntkernel.DebuggerDataMinSize)
	b := make([]byte, size)
	n, _ := mem.Read(addr, b)
	if n < ntkernel.DebuggerDataMinSize {
		return nil
	}
	return b[:n]
}

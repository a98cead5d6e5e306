package ntkernel

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// DebuggerDataMinSize is the size of the KDDEBUGGER_DATA64 prefix that
// holds every field this package reads.
const DebuggerDataMinSize = 0x2c4

// DebuggerData is the part of the kernel's KDDEBUGGER_DATA64 block
// ("KDBG") that locates the kernel's lists and gives the structure offsets
// of the running build. The block has the same layout on 32- and 64-bit
// kernels (every pointer is stored in 64 bits, sign-extended on x86).
type DebuggerData struct {
	Tag  string // "KDBG" when the block is plain
	Size uint32 // the size the block declares

	KernBase              uint64
	PsLoadedModuleList    uint64
	PsActiveProcessHead   uint64
	PspCidTable           uint64
	KiBugcheckData        uint64
	MmPfnDatabase         uint64
	MmSystemRangeStart    uint64
	NtBuildLab            uint64
	KiProcessorBlock      uint64
	MmUnloadedDrivers     uint64
	MmLastUnloadedDriver  uint64
	MmPhysicalMemoryBlock uint64

	// Addresses of the memory manager's counters (0 where the build
	// leaves a slot empty): see Kernel.MemoryCounters.
	MmNumberOfPhysicalPages      uint64
	MmMaximumNonPagedPoolInBytes uint64
	MmSizeOfPagedPoolInBytes     uint64
	MmTotalCommitLimit           uint64
	MmTotalCommittedPages        uint64
	MmAvailablePages             uint64
	MmSpecialPoolTag             uint64
	KernelVerifier               uint64
	MmAllocatedNonPagedPool      uint64
	MmPeakCommitment             uint64
	MmTotalCommitLimitMaximum    uint64

	// Structure layout of the running build, in bytes; 0 when the block is
	// too old to carry it.
	KThreadNextProcessor       uint16
	KThreadTeb                 uint16
	KThreadKernelStack         uint16
	KThreadInitialStack        uint16
	KThreadApcProcess          uint16 // KTHREAD.ApcState.Process
	KThreadState               uint16
	SizeEProcess               uint16
	EprocessPeb                uint16
	EprocessParentCID          uint16 // EPROCESS.InheritedFromUniqueProcessId
	EprocessDirectoryTableBase uint16
	SizePrcb                   uint16
	PrcbCurrentThread          uint16
	PrcbNumber                 uint16
	SizeEThread                uint16

	// Bits the L1TF mitigation uses in not-present PTEs (0 when unused).
	L1tfHighPhysicalBitIndex uint8
	L1tfSwizzleBitIndex      uint8
}

// Valid reports whether the block carries its plain "KDBG" tag.
func (d *DebuggerData) Valid() bool { return d.Tag == "KDBG" }

// ParseDebuggerData decodes a plain KDDEBUGGER_DATA64 block. is64 selects
// how pointers are read: a 32-bit kernel's values are truncated to their
// low half. It fails when b is shorter than DebuggerDataMinSize or the
// block is not tagged "KDBG" (for example while it is still encoded: see
// DecodeDebuggerData).
func ParseDebuggerData(b []byte, is64 bool) (*DebuggerData, error) {
	if len(b) < DebuggerDataMinSize {
		return nil, fmt.Errorf("debugger data block: %d bytes, need at least %#x", len(b), DebuggerDataMinSize)
	}
	le := binary.LittleEndian
	d := &DebuggerData{Tag: string(b[0x10:0x14]), Size: le.Uint32(b[0x14:])}
	if !d.Valid() {
		return nil, fmt.Errorf("debugger data block: tag %q is not \"KDBG\" (the block may be encoded)", d.Tag)
	}
	p := func(off int) uint64 {
		v := le.Uint64(b[off:])
		if !is64 {
			v &= 0xffffffff
		}
		return v
	}
	d.KernBase = p(0x18)
	d.PsLoadedModuleList = p(0x48)
	d.PsActiveProcessHead = p(0x50)
	d.PspCidTable = p(0x58)
	d.KiBugcheckData = p(0x88)
	d.MmPfnDatabase = p(0xc0)
	d.MmSystemRangeStart = p(0x1d0)
	d.NtBuildLab = p(0x208)
	d.KiProcessorBlock = p(0x218)
	d.MmUnloadedDrivers = p(0x220)
	d.MmLastUnloadedDriver = p(0x228)
	d.MmPhysicalMemoryBlock = p(0x270)
	d.MmNumberOfPhysicalPages, d.MmMaximumNonPagedPoolInBytes = p(0xf8), p(0x100)
	d.MmSizeOfPagedPoolInBytes, d.MmTotalCommitLimit, d.MmTotalCommittedPages = p(0x140), p(0x148), p(0x150)
	d.MmAvailablePages, d.MmSpecialPoolTag, d.KernelVerifier = p(0x1a8), p(0x238), p(0x240)
	d.MmAllocatedNonPagedPool, d.MmPeakCommitment, d.MmTotalCommitLimitMaximum = p(0x250), p(0x258), p(0x260)
	if d.Size < DebuggerDataMinSize {
		return d, nil // an old block without the layout fields
	}
	u := func(off int) uint16 { return le.Uint16(b[off:]) }
	d.KThreadNextProcessor, d.KThreadTeb = u(0x298), u(0x29a)
	d.KThreadKernelStack, d.KThreadInitialStack = u(0x29c), u(0x29e)
	d.KThreadApcProcess, d.KThreadState = u(0x2a0), u(0x2a2)
	d.SizeEProcess, d.EprocessPeb = u(0x2a8), u(0x2aa)
	d.EprocessParentCID, d.EprocessDirectoryTableBase = u(0x2ac), u(0x2ae)
	d.SizePrcb, d.PrcbCurrentThread = u(0x2b0), u(0x2b4)
	d.PrcbNumber, d.SizeEThread = u(0x2be), u(0x2c0)
	d.L1tfHighPhysicalBitIndex, d.L1tfSwizzleBitIndex = b[0x2c2], b[0x2c3]
	return d, nil
}

// DecodeDebuggerData undoes the obfuscation that 64-bit Windows 8 and
// later apply to the KDDEBUGGER_DATA64 block while no debugger is attached
// (the kernel decodes it again at bug check time, so most crash dumps hold
// it plain). never and always are the values of nt!KiWaitNever and
// nt!KiWaitAlways, and flagAddr the address of nt!KdpDataBlockEncoded, all
// from the kernel's symbols. Each 64-bit word is decoded in place of a
// copy; a trailing partial word is left as it is.
func DecodeDebuggerData(enc []byte, never, always, flagAddr uint64) []byte {
	out := append([]byte(nil), enc...)
	for i := 0; i+8 <= len(out); i += 8 {
		v := binary.LittleEndian.Uint64(out[i:])
		v = bits.RotateLeft64(v^never, int(never&0x3f))
		v = bits.ReverseBytes64(v^flagAddr) ^ always
		binary.LittleEndian.PutUint64(out[i:], v)
	}
	return out
}

// EncodeDebuggerData is the inverse of DecodeDebuggerData: the kernel's
// own encoding, used to build test dumps.
func EncodeDebuggerData(plain []byte, never, always, flagAddr uint64) []byte {
	out := append([]byte(nil), plain...)
	for i := 0; i+8 <= len(out); i += 8 {
		v := binary.LittleEndian.Uint64(out[i:])
		v = bits.ReverseBytes64(v^always) ^ flagAddr
		v = bits.RotateLeft64(v, -int(never&0x3f)) ^ never
		binary.LittleEndian.PutUint64(out[i:], v)
	}
	return out
}

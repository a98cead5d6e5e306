// Package dumpwriter writes Windows kernel crash dumps from a description:
// small memory (triage) dumps with bug check, modules, stack, context and
// data blocks (Triage), and complete or bitmap memory dumps with physical
// pages given sparsely (MemoryDump). Tests use it to build edge cases and
// hostile inputs, benchmarks to build dumps of large machines, and the
// project uses it to make the sample dump it ships. The output is read back
// by package kdump.
//
// It writes the same layouts Windows writes: the dump header (PAGEDU64 or
// PAGEDUMP) pre-filled with "PAGE", then for triage dumps the TRIAGE_DUMP
// block and the pieces it points to and the TRGD valid marker; for full
// dumps the pages of the header's physical memory runs; for bitmap dumps
// the SDMP/FDMP block with its page bitmap, then the present pages.
// Memory dumps are streamed (WriteTo), or written sparsely (WriteSparse) so
// that a 32 GB machine's dump costs only the pages that have contents.
package dumpwriter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/kdump"
)

// Module is a loaded driver.
type Module struct {
	Path      string // full path as Windows records it, e.g. \SystemRoot\system32\ntoskrnl.exe
	Base      uint64
	Size      uint32
	Timestamp uint32
	Checksum  uint32
}

// Unloaded is a recently unloaded driver.
type Unloaded struct {
	Name       string
	Start, End uint64
}

// Block is captured virtual memory.
type Block struct {
	Addr uint64
	Data []byte
}

// Header holds the dump header fields that every kind of dump sets: the
// machine, the Windows version and the crash. Triage and MemoryDump embed it.
type Header struct {
	// Arch selects the header layout: PAGEDU64 for x64 and ARM64, PAGEDUMP
	// for x86; it also sets MachineImageType.
	Arch cpuctx.Arch
	// MajorVersion is 0xf for a free build (the default) or 0xc for a
	// checked build.
	MajorVersion uint32
	// Build is the MinorVersion field, the Windows build number, e.g. 19041.
	Build uint32
	// Processors is the number of processors.
	Processors uint32
	// ProductType is the product type; the default is 1 (workstation).
	ProductType uint32
	// SuiteMask is the product suite mask.
	SuiteMask uint32
	// BugCheck is the bug check code.
	BugCheck uint32
	// Params are the four bug check parameters; 32-bit dumps keep their low
	// halves.
	Params [4]uint64
	// Time is the time of the crash (SystemTime).
	Time time.Time
	// Uptime is the time since boot (SystemUpTime).
	Uptime time.Duration
	// Context is the header's context record; nil writes an empty full
	// context of Arch.
	Context *cpuctx.Context
	// Exception is the header's exception record.
	Exception kdump.ExceptionRecord
	// DirectoryTableBase is the physical address of the kernel's top-level
	// page table.
	DirectoryTableBase uint64
	// PfnDataBase is the address of the page frame number database.
	PfnDataBase uint64
	// PsLoadedModuleList is the address of the loaded module list's head.
	PsLoadedModuleList uint64
	// PsActiveProcessHead is the address of the process list's head.
	PsActiveProcessHead uint64
	// KdDebuggerDataBlock is the address of the KDBG debugger data block.
	KdDebuggerDataBlock uint64
}

// Triage describes a small memory dump to write.
type Triage struct {
	Header
	ServicePackBuild uint32 // the triage block's ServicePackBuild
	Modules          []Module
	Unloaded         []Unloaded
	TopOfStack       uint64 // address of Stack[0]
	Stack            []byte
	Prcb             []byte
	Process          []byte
	Thread           []byte
	DebuggerData     []byte // placed at KdDebuggerDataBlock
	Blocks           []Block
	OmitValidMarker  bool // leave out the TRGD marker, as an unfinished dump would
}

// Bytes lays the dump out and returns its bytes.
func (t *Triage) Bytes() ([]byte, error) {
	is64 := t.Arch != cpuctx.ArchX86
	var machine uint32
	switch t.Arch {
	case cpuctx.ArchX64:
		machine = kdump.MachineAMD64
	case cpuctx.ArchARM64:
		machine = kdump.MachineARM64
	case cpuctx.ArchX86:
		machine = kdump.MachineI386
	default:
		return nil, errors.New("dumpwriter: unknown architecture")
	}
	ptr := 8
	hdrSize := kdump.HeaderSize64
	if !is64 {
		ptr, hdrSize = 4, kdump.HeaderSize32
		for _, v := range []uint64{t.TopOfStack, t.KdDebuggerDataBlock} {
			if v > 0xffffffff {
				return nil, fmt.Errorf("dumpwriter: address %#x does not fit a 32-bit dump", v)
			}
		}
	}
	w := &buf{}
	w.grow(hdrSize)
	for i := 0; i+4 <= hdrSize; i += 4 {
		copy(w.b[i:], "PAGE")
	}
	triSize := 0x80
	if !is64 {
		triSize = 0x68
	}
	triOff := w.alloc(triSize)
	tri := make([]uint32, 32) // offsets/sizes by TRIAGE_DUMP field index
	const (
		fSize, fValid, fCtx, fExc, fMm, fUnl, fPrcb, fProc, fThr, fStack, fStackSize, fDrv, fDrvCnt, fPool, fPoolSize = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	)
	// Memory manager block: version 1, size 0x50.
	mm := w.alloc(0x50)
	w.u32(mm, 1)
	w.u32(mm+4, 0x50)
	tri[fMm] = uint32(mm)
	// Unloaded drivers.
	unlEntry, unlHdr := 56, 8
	if !is64 {
		unlEntry, unlHdr = 40, 4
	}
	unl := w.alloc(unlHdr + unlEntry*len(t.Unloaded))
	w.u32(unl, uint32(len(t.Unloaded)))
	for i, u := range t.Unloaded {
		e := unl + unlHdr + i*unlEntry
		name := utf16.Encode([]rune(u.Name))
		w.u16(e, uint16(2*len(name)))
		w.u16(e+2, uint16(2*len(name)))
		nameAt := e + 16
		if !is64 {
			nameAt = e + 8
		}
		for j := 0; j < len(name) && j < 12; j++ {
			w.u16(nameAt+2*j, name[j])
		}
		w.ptr(nameAt+24, u.Start, ptr)
		w.ptr(nameAt+24+ptr, u.End, ptr)
	}
	tri[fUnl] = uint32(unl)
	tri[fPrcb] = uint32(w.put(t.Prcb))
	tri[fProc] = uint32(w.put(t.Process))
	tri[fThr] = uint32(w.put(t.Thread))
	tri[fStack] = uint32(w.put(t.Stack))
	tri[fStackSize] = uint32(len(t.Stack))
	dbgOff := w.put(t.DebuggerData)
	// Driver list and string pool.
	drvEntry := 144
	if !is64 {
		drvEntry = 76
	}
	drv := w.alloc(drvEntry * len(t.Modules))
	pool := len(w.b)
	for i, m := range t.Modules {
		e := drv + i*drvEntry
		name := utf16.Encode([]rune(m.Path))
		s := w.alloc(4 + 2*len(name) + 2)
		w.u32(s, uint32(len(name)))
		for j, c := range name {
			w.u16(s+4+2*j, c)
		}
		w.u32(e, uint32(s))
		if is64 {
			l := e + 8
			w.u64(l+48, m.Base)
			w.u32(l+64, m.Size)
			w.u32(l+120, m.Checksum)
			w.u32(l+128, m.Timestamp)
		} else {
			l := e + 4
			w.u32(l+24, uint32(m.Base))
			w.u32(l+32, m.Size)
			w.u32(l+64, m.Checksum)
			w.u32(l+68, m.Timestamp)
		}
	}
	tri[fDrv], tri[fDrvCnt] = uint32(drv), uint32(len(t.Modules))
	tri[fPool], tri[fPoolSize] = uint32(pool), uint32(len(w.b)-pool)
	if len(t.Modules) == 0 {
		tri[fDrv], tri[fPool], tri[fPoolSize] = 0, 0, 0
	}
	// Data blocks: the table, then the bytes.
	bsz := 16
	if !is64 {
		bsz = 12
	}
	tbl := w.alloc(bsz * len(t.Blocks))
	for i, b := range t.Blocks {
		if !is64 && b.Addr+uint64(len(b.Data)) > 1<<32 {
			return nil, fmt.Errorf("dumpwriter: block at %#x does not fit a 32-bit dump", b.Addr)
		}
		off := w.put(b.Data)
		e := tbl + i*bsz
		w.ptr(e, b.Addr, ptr)
		w.u32(e+ptr, uint32(off))
		w.u32(e+ptr+4, uint32(len(b.Data)))
	}
	valid := w.alloc(4)
	if !t.OmitValidMarker {
		w.u32(valid, kdump.TriageValid)
	}
	tri[fSize] = uint32(len(w.b))
	tri[fValid] = uint32(valid)

	// The triage block.
	for i := 0; i < 18; i++ {
		w.u32(triOff+4*i, tri[i])
	}
	w.u32(triOff+4*17, 0xffffffff) // TriageOptions: everything
	if is64 {
		w.u64(triOff+0x48, t.TopOfStack)
		w.u32(triOff+0x70, uint32(dbgOff))
		w.u32(triOff+0x74, uint32(len(t.DebuggerData)))
		w.u32(triOff+0x78, uint32(tbl))
		w.u32(triOff+0x7c, uint32(len(t.Blocks)))
	} else {
		w.u32(triOff+0x48, uint32(t.TopOfStack))
		w.u32(triOff+0x58, uint32(dbgOff))
		w.u32(triOff+0x5c, uint32(len(t.DebuggerData)))
		w.u32(triOff+0x60, uint32(tbl))
		w.u32(triOff+0x64, uint32(len(t.Blocks)))
	}
	w.u32(triOff, t.ServicePackBuild)
	t.header(w, is64, machine, triOff)
	return w.b, nil
}

// header fills in the dump header and points the triage block at the
// header's context and exception records.
func (t *Triage) header(w *buf, is64 bool, machine uint32, triOff int) {
	t.Header.write(w, headerExtra{
		machine: machine, pae: true, dumpType: kdump.DumpTypeTriage,
		required: uint64(len(w.b)), miniDumpFields: 0xcff,
	})
	if is64 {
		w.u32(triOff+4*3, 0x348)
		w.u32(triOff+4*4, 0xf00)
		return
	}
	w.u32(triOff+4*3, 0x320)
	w.u32(triOff+4*4, 0x7d0)
}

// headerExtra are the dump header fields that depend on the kind of dump,
// beyond those in Header.
type headerExtra struct {
	machine        uint32
	pae            bool // 32-bit headers only
	dumpType       kdump.DumpType
	required       uint64 // RequiredDumpSpace: the size of the file
	miniDumpFields uint32 // 0 leaves the filler
	physMem        []byte // PHYSICAL_MEMORY_DESCRIPTOR; nil leaves the filler
}

// write fills in the header at the start of w, which already holds the
// header's size of "PAGE" filler.
func (h *Header) write(w *buf, x headerExtra) {
	major := h.MajorVersion
	if major == 0 {
		major = 0xf
	}
	product := h.ProductType
	if product == 0 {
		product = 1
	}
	ctx := h.Context
	if ctx == nil {
		ctx = &cpuctx.Context{Arch: h.Arch, Flags: cpuctx.Full(h.Arch)}
	}
	ft := kdump.ToFileTime(h.Time)
	up := uint64(h.Uptime / 100)
	copy(w.b, "PAGE")
	if h.Arch != cpuctx.ArchX86 {
		copy(w.b[4:], "DU64")
		w.u32(0x08, major)
		w.u32(0x0c, h.Build)
		w.u64(0x10, h.DirectoryTableBase)
		w.u64(0x18, h.PfnDataBase)
		w.u64(0x20, h.PsLoadedModuleList)
		w.u64(0x28, h.PsActiveProcessHead)
		w.u32(0x30, x.machine)
		w.u32(0x34, h.Processors)
		w.u32(0x38, h.BugCheck)
		w.u32(0x3c, 0)
		for i, p := range h.Params {
			w.u64(0x40+8*i, p)
		}
		w.u64(0x80, h.KdDebuggerDataBlock)
		copy(w.b[0x88:0x88+700], x.physMem)
		copy(w.b[0x348:0x348+3000], ctx.Bytes())
		copy(w.b[0xf00:], h.Exception.Bytes(true))
		w.u32(0xf98, uint32(x.dumpType))
		w.u32(0xf9c, 0)
		w.u64(0xfa0, x.required)
		w.u64(0xfa8, ft)
		w.u64(0x1030, up)
		if x.miniDumpFields != 0 {
			w.u32(0x1038, x.miniDumpFields)
		}
		w.u32(0x1040, product)
		w.u32(0x1044, h.SuiteMask)
		w.u32(0x1048, 0)
		w.b[0x104c], w.b[0x104d] = 0, 0
		return
	}
	copy(w.b[4:], "DUMP")
	w.u32(0x08, major)
	w.u32(0x0c, h.Build)
	w.u32(0x10, uint32(h.DirectoryTableBase))
	w.u32(0x14, uint32(h.PfnDataBase))
	w.u32(0x18, uint32(h.PsLoadedModuleList))
	w.u32(0x1c, uint32(h.PsActiveProcessHead))
	w.u32(0x20, x.machine)
	w.u32(0x24, h.Processors)
	w.u32(0x28, h.BugCheck)
	for i, p := range h.Params {
		w.u32(0x2c+4*i, uint32(p))
	}
	w.b[0x5c], w.b[0x5d] = 0, 0
	if x.pae {
		w.b[0x5c] = 1
	}
	w.u32(0x60, uint32(h.KdDebuggerDataBlock))
	copy(w.b[0x64:0x64+700], x.physMem)
	copy(w.b[0x320:0x320+1200], ctx.Bytes())
	copy(w.b[0x7d0:], h.Exception.Bytes(false))
	w.u32(0xf88, uint32(x.dumpType))
	if x.miniDumpFields != 0 {
		w.u32(0xf8c, x.miniDumpFields)
	}
	w.u32(0xf94, product)
	w.u32(0xf98, h.SuiteMask)
	w.u32(0xf9c, 0)
	w.u64(0xfa0, x.required)
	w.u64(0xfb8, up)
	w.u64(0xfc0, ft)
}

// buf is a growing little-endian byte buffer whose pieces start 8-aligned.
type buf struct{ b []byte }

func (w *buf) grow(n int) { w.b = append(w.b, make([]byte, n)...) }

// alloc reserves n zero bytes, 8-aligned, and returns their offset.
func (w *buf) alloc(n int) int {
	for len(w.b)%8 != 0 {
		w.b = append(w.b, 0)
	}
	off := len(w.b)
	w.grow(n)
	return off
}

// put appends data and returns its offset, or 0 for no data.
func (w *buf) put(data []byte) int {
	if len(data) == 0 {
		return 0
	}
	off := w.alloc(len(data))
	copy(w.b[off:], data)
	return off
}

func (w *buf) u16(off int, v uint16) { binary.LittleEndian.PutUint16(w.b[off:], v) }
func (w *buf) u32(off int, v uint32) { binary.LittleEndian.PutUint32(w.b[off:], v) }
func (w *buf) u64(off int, v uint64) { binary.LittleEndian.PutUint64(w.b[off:], v) }
func (w *buf) ptr(off int, v uint64, size int) {
	if size == 4 {
		w.u32(off, uint32(v))
		return
	}
	w.u64(off, v)
}

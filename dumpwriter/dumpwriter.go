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

// Triage describes a small memory dump to write.
type Triage struct {
	Arch                cpuctx.Arch
	MajorVersion        uint32 // default 0xf (free build)
	Build               uint32 // MinorVersion, e.g. 19041
	ServicePackBuild    uint32
	Processors          uint32
	ProductType         uint32 // default 1 (workstation)
	SuiteMask           uint32
	BugCheck            uint32
	Params              [4]uint64
	Time                time.Time
	Uptime              time.Duration
	Context             *cpuctx.Context       // the header's context record
	Exception           kdump.ExceptionRecord // the header's exception record
	DirectoryTableBase  uint64
	PfnDataBase         uint64
	PsLoadedModuleList  uint64
	PsActiveProcessHead uint64
	KdDebuggerDataBlock uint64
	Modules             []Module
	Unloaded            []Unloaded
	TopOfStack          uint64 // address of Stack[0]
	Stack               []byte
	Prcb                []byte
	Process             []byte
	Thread              []byte
	DebuggerData        []byte // placed at KdDebuggerDataBlock
	Blocks              []Block
	OmitValidMarker     bool // leave out the TRGD marker, as an unfinished dump would
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
	h := headerFields{
		arch: t.Arch, machine: machine, major: t.MajorVersion, build: t.Build, processors: t.Processors,
		product: t.ProductType, suite: t.SuiteMask, bugCheck: t.BugCheck, params: t.Params,
		time: t.Time, uptime: t.Uptime, context: t.Context, exception: t.Exception,
		dtb: t.DirectoryTableBase, pfnDB: t.PfnDataBase, psLoaded: t.PsLoadedModuleList,
		psActive: t.PsActiveProcessHead, kdbg: t.KdDebuggerDataBlock,
		pae: true, dumpType: kdump.DumpTypeTriage, required: uint64(len(w.b)), miniDumpFields: 0xcff,
	}
	h.write(w)
	if is64 {
		w.u32(triOff+4*3, 0x348)
		w.u32(triOff+4*4, 0xf00)
		return
	}
	w.u32(triOff+4*3, 0x320)
	w.u32(triOff+4*4, 0x7d0)
}

// headerFields are the dump header fields every dump type sets.
type headerFields struct {
	arch                                              cpuctx.Arch
	machine, major, build, processors, product, suite uint32
	bugCheck                                          uint32
	params                                            [4]uint64
	time                                              time.Time
	uptime                                            time.Duration
	context                                           *cpuctx.Context
	exception                                         kdump.ExceptionRecord
	dtb, pfnDB, psLoaded, psActive, kdbg              uint64
	pae                                               bool // 32-bit headers only
	dumpType                                          kdump.DumpType
	required                                          uint64 // RequiredDumpSpace: the size of the file
	miniDumpFields                                    uint32 // 0 leaves the filler
	physMem                                           []byte // PHYSICAL_MEMORY_DESCRIPTOR; nil leaves the filler
}

// write fills in the header at the start of w, which already holds the
// header's size of "PAGE" filler.
func (h *headerFields) write(w *buf) {
	major := h.major
	if major == 0 {
		major = 0xf
	}
	product := h.product
	if product == 0 {
		product = 1
	}
	ctx := h.context
	if ctx == nil {
		ctx = &cpuctx.Context{Arch: h.arch, Flags: cpuctx.Full(h.arch)}
	}
	ft := kdump.ToFileTime(h.time)
	up := uint64(h.uptime / 100)
	copy(w.b, "PAGE")
	if h.arch != cpuctx.ArchX86 {
		copy(w.b[4:], "DU64")
		w.u32(0x08, major)
		w.u32(0x0c, h.build)
		w.u64(0x10, h.dtb)
		w.u64(0x18, h.pfnDB)
		w.u64(0x20, h.psLoaded)
		w.u64(0x28, h.psActive)
		w.u32(0x30, h.machine)
		w.u32(0x34, h.processors)
		w.u32(0x38, h.bugCheck)
		w.u32(0x3c, 0)
		for i, p := range h.params {
			w.u64(0x40+8*i, p)
		}
		w.u64(0x80, h.kdbg)
		copy(w.b[0x88:0x88+700], h.physMem)
		copy(w.b[0x348:0x348+3000], ctx.Bytes())
		copy(w.b[0xf00:], h.exception.Bytes(true))
		w.u32(0xf98, uint32(h.dumpType))
		w.u32(0xf9c, 0)
		w.u64(0xfa0, h.required)
		w.u64(0xfa8, ft)
		w.u64(0x1030, up)
		if h.miniDumpFields != 0 {
			w.u32(0x1038, h.miniDumpFields)
		}
		w.u32(0x1040, product)
		w.u32(0x1044, h.suite)
		w.u32(0x1048, 0)
		w.b[0x104c], w.b[0x104d] = 0, 0
		return
	}
	copy(w.b[4:], "DUMP")
	w.u32(0x08, major)
	w.u32(0x0c, h.build)
	w.u32(0x10, uint32(h.dtb))
	w.u32(0x14, uint32(h.pfnDB))
	w.u32(0x18, uint32(h.psLoaded))
	w.u32(0x1c, uint32(h.psActive))
	w.u32(0x20, h.machine)
	w.u32(0x24, h.processors)
	w.u32(0x28, h.bugCheck)
	for i, p := range h.params {
		w.u32(0x2c+4*i, uint32(p))
	}
	w.b[0x5c], w.b[0x5d] = 0, 0
	if h.pae {
		w.b[0x5c] = 1
	}
	w.u32(0x60, uint32(h.kdbg))
	copy(w.b[0x64:0x64+700], h.physMem)
	copy(w.b[0x320:0x320+1200], ctx.Bytes())
	copy(w.b[0x7d0:], h.exception.Bytes(false))
	w.u32(0xf88, uint32(h.dumpType))
	if h.miniDumpFields != 0 {
		w.u32(0xf8c, h.miniDumpFields)
	}
	w.u32(0xf94, product)
	w.u32(0xf98, h.suite)
	w.u32(0xf9c, 0)
	w.u64(0xfa0, h.required)
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

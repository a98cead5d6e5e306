package kdump

import (
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/internal/mmap"
	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/physmem"
	"github.com/bugcheck/bugcheck/vmem"
)

// File is an open kernel crash dump.
type File struct {
	Name     string // for error messages; set by Open
	Header   *Header
	Arch     cpuctx.Arch
	Triage   *Triage         // nil unless the dump is a triage dump
	Debugger *KdDebuggerData // nil when the dump carries no debugger data block
	Blobs    []SecondaryBlob // secondary dump data written by drivers' callbacks
	Warnings []string        // oddities that did not stop parsing

	r      io.ReaderAt
	size   int64
	closer io.Closer
	mem    *vmem.Space
	phys   *physmem.Memory
	pages  *paging.Translator
}

// Open opens the named file and parses it as a kernel crash dump. The file
// is memory-mapped, so a dump of any size opens without being read whole.
func Open(name string) (*File, error) {
	r, err := mmap.Open(name)
	if err != nil {
		return nil, err
	}
	f, err := newFile(r, r.Size(), filepath.Base(name))
	if err != nil {
		r.Close()
		return nil, err
	}
	f.closer = r
	return f, nil
}

// NewFile parses a kernel crash dump of the given size read through r. The
// name is used in error messages only.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	return newFile(r, size, name)
}

// Close closes the file if Open opened it.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Size returns the size of the dump file.
func (f *File) Size() int64 { return f.size }

// ReaderAt returns the underlying reader.
func (f *File) ReaderAt() io.ReaderAt { return f.r }

func newFile(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{Name: name, r: r, size: size}
	if size < 8 {
		return nil, f.errf(0, "file is too short to be a crash dump (%d bytes)", size)
	}
	hb := make([]byte, min(size, HeaderSize64))
	if _, err := r.ReadAt(hb, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		fe := err.(*FormatError)
		fe.File = name
		return nil, fe
	}
	f.Header = h
	f.Arch = ArchOf(h.MachineImageType)
	switch {
	case f.Arch == cpuctx.ArchUnknown:
		return nil, f.errf(machineOffset(h), "unknown machine type %#x", h.MachineImageType)
	case h.Is64 && f.Arch == cpuctx.ArchX86:
		return nil, f.errf(machineOffset(h), "64-bit dump header with 32-bit machine type %#x", h.MachineImageType)
	case !h.Is64 && f.Arch != cpuctx.ArchX86:
		return nil, f.errf(machineOffset(h), "32-bit dump header with 64-bit machine type %#x", h.MachineImageType)
	}
	if h.DumpType == DumpTypeTriage {
		t, err := f.parseTriage(h.Size())
		if err != nil {
			return nil, err
		}
		f.Triage = t
		f.parseDebuggerData()
		f.parseSecondaryBlobs(int64(t.SizeOfDump))
	} else if err := f.parsePhysical(); err != nil {
		return nil, err
	}
	f.buildMemory()
	return f, nil
}

func machineOffset(h *Header) int64 {
	if h.Is64 {
		return 0x30
	}
	return 0x20
}

func (f *File) errf(off int64, format string, args ...any) *FormatError {
	return &FormatError{File: f.Name, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (f *File) warnf(format string, args ...any) {
	f.Warnings = append(f.Warnings, fmt.Sprintf(format, args...))
}

// readAt reads n bytes at off after checking they lie in the file.
func (f *File) readAt(off int64, n int, what string) ([]byte, error) {
	if off < 0 || n < 0 || off > f.size || int64(n) > f.size-off {
		return nil, f.errf(off, "%s (%#x bytes) runs past the end of the file (%#x bytes)", what, n, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil && !(err == io.EOF && n > 0) {
		return nil, fmt.Errorf("%s: reading %s at %#x: %w", f.Name, what, off, err)
	}
	return b, nil
}

// Context decodes the header's context record: the registers of the
// processor that called KeBugCheckEx.
func (f *File) Context() (*cpuctx.Context, error) {
	return cpuctx.Parse(f.Arch, f.Header.ContextRecord)
}

// pagingMode is the page-table format the header implies. For x64 it is
// 4-level paging: the header does not record CR4.LA57, so buildMemory
// checks it against the kernel's own data (see kernelFits).
func (f *File) pagingMode() paging.Mode {
	switch {
	case f.Arch == cpuctx.ArchARM64:
		return paging.ARM64
	case f.Arch == cpuctx.ArchX86 && f.Header.PaeEnabled:
		return paging.X86PAE
	case f.Arch == cpuctx.ArchX86:
		return paging.X86
	}
	return paging.X64
}

func (f *File) translator(m paging.Mode) *paging.Translator {
	return paging.NewWithOptions(m, f.Header.DirectoryTableBase, f.phys, paging.Options{Build: f.Header.MinorVersion})
}

// kernelFits reports whether the kernel's own data reads right through t:
// the debugger data block at the header's KdDebuggerDataBlock carries its
// "KDBG" tag, or, when the block is encoded, the loaded-module list head
// at the header's PsLoadedModuleList links to an entry that links back.
//
// This is how 5-level paging (LA57) is told from 4-level paging, which the
// header does not record: a 4-level walk of a 5-level root indexes the
// PML5 table with bits 47:39 of the address, which on a 5-level machine
// selects an empty or unrelated entry, so the kernel's variables do not
// read right; the walk that finds them is the machine's. 4-level paging is
// tried first and kept when neither fits.
func (f *File) kernelFits(t *paging.Translator) bool {
	h := f.Header
	if h.KdDebuggerDataBlock != 0 {
		var b [0x18]byte
		if n, _ := t.ReadAt(b[:], h.KdDebuggerDataBlock); n == len(b) && string(b[0x10:0x14]) == "KDBG" {
			return true
		}
	}
	head := h.PsLoadedModuleList
	if head == 0 {
		return false
	}
	var b [16]byte
	if n, _ := t.ReadAt(b[:], head); n < len(b) {
		return false
	}
	flink := binary.LittleEndian.Uint64(b[:])
	if flink == 0 || flink == head {
		return false
	}
	if n, _ := t.ReadAt(b[:], flink); n < len(b) {
		return false
	}
	return binary.LittleEndian.Uint64(b[8:]) == head
}

// PageTables returns the translator of the kernel's address space (the
// header's DirectoryTableBase) for full and bitmap dumps, nil for others.
func (f *File) PageTables() *paging.Translator { return f.pages }

// virtual adapts a translator to vmem's reader.
type virtual struct{ t *paging.Translator }

func (v virtual) Read(addr uint64, p []byte) (int, error) { return v.t.ReadAt(p, addr) }

// Memory returns the virtual memory the dump captured.
func (f *File) Memory() *vmem.Space { return f.mem }

func (f *File) buildMemory() {
	t := f.Triage
	if t == nil {
		f.mem = vmem.New(nil)
		if f.phys != nil {
			f.pages = f.translator(f.pagingMode())
			if f.Arch == cpuctx.ArchX64 && !f.kernelFits(f.pages) {
				if la57 := f.translator(paging.X64LA57); f.kernelFits(la57) {
					f.pages = la57
				}
			}
			f.mem = f.mem.WithBacking(virtual{f.pages})
		}
		return
	}
	var rs []vmem.Region
	add := func(addr uint64, off, size uint32, kind string) {
		if size == 0 || off == 0 || int64(off)+int64(size) > f.size {
			return
		}
		rs = append(rs, vmem.Region{Addr: addr, Size: uint64(size), Src: f.r, Off: int64(off), Kind: kind})
	}
	add(t.TopOfStack, t.CallStackOffset, t.SizeOfCallStack, "stack")
	add(t.DataPageAddress, t.DataPageOffset, t.DataPageSize, "data page")
	add(f.Header.KdDebuggerDataBlock, t.DebuggerDataOffset, t.DebuggerDataSize, "debugger data")
	for _, d := range t.DataBlocks {
		add(d.Addr, d.Offset, d.Size, "data block")
	}
	// The thread blob is the current ETHREAD; the PRCB says where it lives.
	if th := f.CurrentThread(); th != 0 && t.Thread.Size != 0 {
		add(th, t.Thread.Offset, t.Thread.Size, "thread")
	}
	f.mem = vmem.New(rs)
	if n := f.mem.Overlaps(); n > 0 {
		f.warnf("%d captured memory regions overlap others; the lower-addressed copy is used", n)
	}
}

// CurrentThread returns the address of the thread that was running on the
// crashing processor (KPRCB.CurrentThread), or 0 when unknown.
func (f *File) CurrentThread() uint64 {
	t := f.Triage
	if t == nil || t.Prcb.Size < 16 {
		return 0
	}
	off := int64(t.Prcb.Offset)
	switch f.Arch {
	case cpuctx.ArchX64: // KPRCB.CurrentThread at +8
		if b, err := f.readAt(off+8, 8, "PRCB"); err == nil {
			return binary.LittleEndian.Uint64(b)
		}
	case cpuctx.ArchX86: // the x86 KPRCB starts with MinorVersion, MajorVersion, then CurrentThread
		if b, err := f.readAt(off+4, 4, "PRCB"); err == nil {
			return uint64(binary.LittleEndian.Uint32(b))
		}
	}
	return 0
}

// ProcessorNumber returns the number of the processor that bug-checked, from
// the captured KPRCB (x64 only), and whether it is known.
func (f *File) ProcessorNumber() (uint32, bool) {
	t := f.Triage
	if t == nil || f.Arch != cpuctx.ArchX64 || t.Prcb.Size < 0x28 {
		return 0, false
	}
	b, err := f.readAt(int64(t.Prcb.Offset)+0x24, 4, "PRCB")
	if err != nil {
		return 0, false
	}
	n := binary.LittleEndian.Uint32(b)
	if f.Header.NumberProcessors != 0 && n >= f.Header.NumberProcessors {
		return 0, false
	}
	return n, true
}

// BlobBytes returns the bytes of a blob such as Triage.Prcb.
func (f *File) BlobBytes(b Blob) ([]byte, error) {
	if b.Size == 0 {
		return nil, nil
	}
	return f.readAt(int64(b.Offset), int(b.Size), "blob")
}

// KdDebuggerData holds the fields of the KDDEBUGGER_DATA64 block that
// locate the kernel's main lists. The block is stored decoded in triage
// dumps; when it is not (KdSecondaryVersion != 0 in full dumps) Valid is
// false.
type KdDebuggerData struct {
	Valid                bool
	OwnerTag             string // "KDBG"
	Size                 uint32
	KernBase             uint64
	BreakpointWithStatus uint64
	PsLoadedModuleList   uint64
	PsActiveProcessHead  uint64
	PspCidTable          uint64
	Raw                  []byte
}

func (f *File) parseDebuggerData() {
	t := f.Triage
	if t.DebuggerDataSize < 0x60 || t.DebuggerDataOffset == 0 {
		return
	}
	b, err := f.readAt(int64(t.DebuggerDataOffset), int(min(t.DebuggerDataSize, 0x2000)), "debugger data block")
	if err != nil {
		return
	}
	le := binary.LittleEndian
	ptr := func(o int) uint64 {
		if f.Header.Is64 {
			return le.Uint64(b[o:])
		}
		return uint64(le.Uint32(b[o:])) // 32-bit kernels store 32-bit values sign-extended; the low half is the address
	}
	d := &KdDebuggerData{OwnerTag: string(b[0x10:0x14]), Size: le.Uint32(b[0x14:]), Raw: b}
	d.Valid = d.OwnerTag == "KDBG"
	d.KernBase, d.BreakpointWithStatus = ptr(0x18), ptr(0x20)
	d.PsLoadedModuleList, d.PsActiveProcessHead, d.PspCidTable = ptr(0x48), ptr(0x50), ptr(0x58)
	if !d.Valid {
		f.warnf("the debugger data block does not carry the KDBG tag; it may be encoded")
	}
	f.Debugger = d
}

// SecondaryBlob is a block of secondary dump data (from drivers'
// BugCheckSecondaryDumpDataCallback routines), tagged with a GUID.
type SecondaryBlob struct {
	Tag    string // GUID in registry form
	Offset int64  // file offset of the data
	Size   uint32
}

// parseSecondaryBlobs reads the "DumpBlob" section after the triage data.
func (f *File) parseSecondaryBlobs(off int64) {
	hdr, err := f.readAt(off, 16, "secondary data header")
	if err != nil || string(hdr[:8]) != "DumpBlob" {
		return
	}
	le := binary.LittleEndian
	pos := off + int64(le.Uint32(hdr[8:]))
	for range 4096 { // a bound against looping over hostile sizes
		bh, err := f.readAt(pos, 32, "secondary data blob")
		if err != nil {
			return
		}
		hs, size, pre, post := le.Uint32(bh), le.Uint32(bh[20:]), le.Uint32(bh[24:]), le.Uint32(bh[28:])
		if hs < 32 {
			f.warnf("secondary data blob at %#x has a header size of %d", pos, hs)
			return
		}
		data := pos + int64(hs) + int64(pre)
		if data+int64(size) > f.size {
			f.warnf("secondary data blob at %#x runs past the end of the file", pos)
			return
		}
		f.Blobs = append(f.Blobs, SecondaryBlob{Tag: guidString(bh[4:20]), Offset: data, Size: size})
		pos = data + int64(size) + int64(post)
		if pos >= f.size {
			return
		}
	}
}

func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("{%08X-%04X-%04X-%X-%X}", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

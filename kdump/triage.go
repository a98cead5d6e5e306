package kdump

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"
)

// TriageValid is the marker ("TRGD" in the file) at ValidOffset of a
// completely written triage dump.
const TriageValid = 0x44475254

// Sizes of the triage structures.
const (
	triageSize64      = 0x80
	triageSize32      = 0x68
	driverEntrySize64 = 144
	driverEntrySize32 = 76
	unloadedSize64    = 56
	unloadedSize32    = 40
	blockSize64       = 16
	blockSize32       = 12
	maxStringChars    = 32768 // a UNICODE_STRING holds at most 32767 characters
)

// Triage is the TRIAGE_DUMP block of a small memory dump and everything it
// points to. Offsets are file offsets.
type Triage struct {
	Offset                int64 // where the TRIAGE_DUMP block starts
	ServicePackBuild      uint32
	SizeOfDump            uint32
	ValidOffset           uint32
	ContextOffset         uint32
	ExceptionOffset       uint32
	MmOffset              uint32
	UnloadedDriversOffset uint32
	PrcbOffset            uint32
	ProcessOffset         uint32
	ThreadOffset          uint32
	CallStackOffset       uint32
	SizeOfCallStack       uint32
	DriverListOffset      uint32
	DriverCount           uint32
	StringPoolOffset      uint32
	StringPoolSize        uint32
	BrokenDriverOffset    uint32
	TriageOptions         uint32
	TopOfStack            uint64 // virtual address of the first captured stack byte
	BStoreOffset          uint32 // IA-64 only
	SizeOfBStore          uint32
	LimitOfBStore         uint64
	DataPageAddress       uint64
	DataPageOffset        uint32
	DataPageSize          uint32
	DebuggerDataOffset    uint32
	DebuggerDataSize      uint32
	DataBlocksOffset      uint32
	DataBlocksCount       uint32

	Valid      bool // the ValidOffset marker is present
	Drivers    []Driver
	Unloaded   []UnloadedDriver
	DataBlocks []DataBlock
	Mm         *MmInfo
	Prcb       Blob // the crashing processor's KPRCB
	Process    Blob // the current EPROCESS
	Thread     Blob // the current ETHREAD
}

// Driver is an entry of the loaded driver list.
type Driver struct {
	Name       string // the full path as recorded, e.g. \SystemRoot\system32\ntoskrnl.exe
	Base       uint64
	Size       uint32
	EntryPoint uint64
	Flags      uint32
	LoadCount  uint16
	Checksum   uint32
	Timestamp  uint32
}

// BaseName returns the file name part of the driver path.
func (d Driver) BaseName() string { return baseName(d.Name) }

// Contains reports whether addr lies inside the driver image.
func (d Driver) Contains(addr uint64) bool {
	return addr >= d.Base && addr-d.Base < uint64(d.Size)
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// UnloadedDriver is an entry of the unloaded driver list (MmUnloadedDrivers).
type UnloadedDriver struct {
	Name  string
	Start uint64
	End   uint64
}

// DataBlock is a captured piece of virtual memory.
type DataBlock struct {
	Addr   uint64
	Offset uint32 // file offset of the bytes
	Size   uint32
}

// MmInfo is the memory manager state block (DUMP_MM_STORAGE32/64) of a
// triage dump. Recent Windows versions often leave the counters zero.
type MmInfo struct {
	Version                 uint32
	Size                    uint32
	MmSpecialPoolTag        uint32 // pool tag Driver Verifier's special pool tracks, if any
	MiTriageActionTaken     uint32
	MmVerifyDriverLevel     uint32 // Driver Verifier flags in force
	KernelVerifier          uint32
	MmMaximumNonPagedPool   uint64
	MmAllocatedNonPagedPool uint64
	PagedPoolMaximum        uint64
	PagedPoolAllocated      uint64
	CommittedPages          uint64
	CommittedPagesPeak      uint64
	CommitLimitMaximum      uint64
	Raw                     []byte
}

// parseMmInfo decodes DUMP_MM_STORAGE; counters the block is too short for
// stay zero.
func parseMmInfo(b []byte, is64 bool) *MmInfo {
	le := binary.LittleEndian
	m := &MmInfo{Raw: b}
	u32 := func(o int) uint32 {
		if o+4 <= len(b) {
			return le.Uint32(b[o:])
		}
		return 0
	}
	m.Version, m.Size, m.MmSpecialPoolTag, m.MiTriageActionTaken = u32(0), u32(4), u32(8), u32(12)
	m.MmVerifyDriverLevel, m.KernelVerifier = u32(16), u32(20)
	counters := []*uint64{&m.MmMaximumNonPagedPool, &m.MmAllocatedNonPagedPool, &m.PagedPoolMaximum,
		&m.PagedPoolAllocated, &m.CommittedPages, &m.CommittedPagesPeak, &m.CommitLimitMaximum}
	for i, c := range counters {
		if is64 {
			if o := 0x18 + 8*i; o+8 <= len(b) {
				*c = le.Uint64(b[o:])
			}
		} else {
			*c = uint64(u32(0x18 + 4*i))
		}
	}
	return m
}

// Blob is a raw structure copied into the dump. The dump records where it
// starts but not its size; Size is the distance to the next thing the dump
// places after it, an upper bound.
type Blob struct {
	Offset uint32
	Size   uint32
}

// parseTriage reads the TRIAGE_DUMP block at off and what it points to.
func (f *File) parseTriage(off int64) (*Triage, error) {
	is64 := f.Header.Is64
	size := triageSize32
	if is64 {
		size = triageSize64
	}
	b, err := f.readAt(off, size, "triage dump block")
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	u := func(i int) uint32 { return le.Uint32(b[4*i:]) }
	t := &Triage{Offset: off,
		ServicePackBuild: u(0), SizeOfDump: u(1), ValidOffset: u(2), ContextOffset: u(3),
		ExceptionOffset: u(4), MmOffset: u(5), UnloadedDriversOffset: u(6), PrcbOffset: u(7),
		ProcessOffset: u(8), ThreadOffset: u(9), CallStackOffset: u(10), SizeOfCallStack: u(11),
		DriverListOffset: u(12), DriverCount: u(13), StringPoolOffset: u(14), StringPoolSize: u(15),
		BrokenDriverOffset: u(16), TriageOptions: u(17),
	}
	if is64 {
		t.TopOfStack = le.Uint64(b[0x48:])
		t.BStoreOffset, t.SizeOfBStore, t.LimitOfBStore = le.Uint32(b[0x50:]), le.Uint32(b[0x54:]), le.Uint64(b[0x58:])
		t.DataPageAddress = le.Uint64(b[0x60:])
		t.DataPageOffset, t.DataPageSize = le.Uint32(b[0x68:]), le.Uint32(b[0x6c:])
		t.DebuggerDataOffset, t.DebuggerDataSize = le.Uint32(b[0x70:]), le.Uint32(b[0x74:])
		t.DataBlocksOffset, t.DataBlocksCount = le.Uint32(b[0x78:]), le.Uint32(b[0x7c:])
	} else {
		t.TopOfStack = uint64(u(18))
		t.DataPageAddress = uint64(u(19))
		t.DataPageOffset, t.DataPageSize = u(20), u(21)
		t.DebuggerDataOffset, t.DebuggerDataSize = u(22), u(23)
		t.DataBlocksOffset, t.DataBlocksCount = u(24), u(25)
	}
	field := func(i int) int64 { return off + int64(4*i) }

	if int64(t.SizeOfDump) > f.size {
		return nil, f.errf(field(1), "file is truncated: the triage dump is %#x bytes but the file has only %#x", t.SizeOfDump, f.size)
	}
	if t.ValidOffset != 0 {
		v, err := f.readAt(int64(t.ValidOffset), 4, "triage valid marker")
		if err != nil {
			return nil, err
		}
		t.Valid = le.Uint32(v) == TriageValid
	}
	if !t.Valid {
		f.warnf("the triage dump has no valid marker: Windows may not have finished writing it")
	}
	// Ranges the format gives sizes for must lie in the file.
	// Where the offset fields sit in the block, 64-bit then 32-bit layout.
	checks := []struct {
		at64, at32 int64
		off        uint32
		size       uint64
		what       string
	}{
		{0x28, 0x28, t.CallStackOffset, uint64(t.SizeOfCallStack), "captured stack"},
		{0x30, 0x30, t.DriverListOffset, uint64(t.DriverCount) * uint64(f.driverEntrySize()), "driver list"},
		{0x38, 0x38, t.StringPoolOffset, uint64(t.StringPoolSize), "string pool"},
		{0x68, 0x50, t.DataPageOffset, uint64(t.DataPageSize), "data page"},
		{0x70, 0x58, t.DebuggerDataOffset, uint64(t.DebuggerDataSize), "debugger data block"},
		{0x78, 0x60, t.DataBlocksOffset, uint64(t.DataBlocksCount) * uint64(f.blockSize()), "data block table"},
	}
	for _, c := range checks {
		if c.size == 0 {
			continue
		}
		if c.off == 0 || uint64(c.off)+c.size > uint64(f.size) {
			fo := off + c.at32
			if is64 {
				fo = off + c.at64
			}
			return nil, f.errf(fo, "%s at %#x (+%#x bytes) lies outside the file (%#x bytes)", c.what, c.off, c.size, f.size)
		}
	}
	if err := f.parseDrivers(t); err != nil {
		return nil, err
	}
	if err := f.parseUnloaded(t); err != nil {
		return nil, err
	}
	if err := f.parseDataBlocks(t); err != nil {
		return nil, err
	}
	if t.MmOffset != 0 {
		mb, err := f.readAt(int64(t.MmOffset), 8, "memory manager block")
		if err != nil {
			return nil, err
		}
		size := le.Uint32(mb[4:])
		if size >= 8 && size <= 0x1000 {
			if full, err := f.readAt(int64(t.MmOffset), int(size), "memory manager block"); err == nil {
				mb = full
			}
		}
		t.Mm = parseMmInfo(mb, is64)
	}
	t.sizeBlobs(f.size)
	return t, nil
}

func (f *File) driverEntrySize() int {
	if f.Header.Is64 {
		return driverEntrySize64
	}
	return driverEntrySize32
}

func (f *File) blockSize() int {
	if f.Header.Is64 {
		return blockSize64
	}
	return blockSize32
}

// parseDrivers reads the DUMP_DRIVER_ENTRY array and the names it points at.
func (f *File) parseDrivers(t *Triage) error {
	if t.DriverCount == 0 {
		return nil
	}
	es := f.driverEntrySize()
	tbl, err := f.readAt(int64(t.DriverListOffset), int(t.DriverCount)*es, "driver list")
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	t.Drivers = make([]Driver, t.DriverCount)
	for i := range t.Drivers {
		e := tbl[i*es : (i+1)*es]
		d := &t.Drivers[i]
		nameOff := le.Uint32(e)
		if f.Header.Is64 {
			l := e[8:] // KLDR_DATA_TABLE_ENTRY64
			d.Base, d.EntryPoint = le.Uint64(l[48:]), le.Uint64(l[56:])
			d.Size = le.Uint32(l[64:])
			d.Flags, d.LoadCount = le.Uint32(l[104:]), le.Uint16(l[108:])
			d.Checksum, d.Timestamp = le.Uint32(l[120:]), le.Uint32(l[128:])
		} else {
			l := e[4:] // KLDR_DATA_TABLE_ENTRY32
			d.Base, d.EntryPoint = uint64(le.Uint32(l[24:])), uint64(le.Uint32(l[28:]))
			d.Size = le.Uint32(l[32:])
			d.Flags, d.LoadCount = le.Uint32(l[52:]), le.Uint16(l[56:])
			d.Checksum, d.Timestamp = le.Uint32(l[64:]), le.Uint32(l[68:])
		}
		entryOff := int64(t.DriverListOffset) + int64(i*es)
		name, err := f.dumpString(nameOff, entryOff)
		if err != nil {
			return err
		}
		d.Name = name
	}
	return nil
}

// dumpString reads a DUMP_STRING (a character count, then UTF-16 text).
// ref is the file offset of the field that pointed to it, for errors.
func (f *File) dumpString(off uint32, ref int64) (string, error) {
	if off == 0 {
		return "", nil
	}
	lb, err := f.readAt(int64(off), 4, "driver name")
	if err != nil {
		return "", f.errf(ref, "driver name offset %#x lies outside the file", off)
	}
	n := binary.LittleEndian.Uint32(lb)
	if n > maxStringChars || int64(off)+4+2*int64(n) > f.size {
		return "", f.errf(int64(off), "driver name of %d characters does not fit in the file", n)
	}
	b, err := f.readAt(int64(off)+4, int(2*n), "driver name")
	if err != nil {
		return "", err
	}
	return utf16String(b), nil
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u))
}

// parseUnloaded reads the unloaded driver list: a count, then
// DUMP_UNLOADED_DRIVERS entries with names cut to 12 characters.
func (f *File) parseUnloaded(t *Triage) error {
	if t.UnloadedDriversOffset == 0 {
		return nil
	}
	is64 := f.Header.Is64
	cb, err := f.readAt(int64(t.UnloadedDriversOffset), 4, "unloaded driver count")
	if err != nil {
		return err
	}
	n := binary.LittleEndian.Uint32(cb)
	es, hdr := unloadedSize32, 4
	if is64 {
		es, hdr = unloadedSize64, 8
	}
	start := int64(t.UnloadedDriversOffset) + int64(hdr)
	if n > 1024 || start+int64(n)*int64(es) > f.size {
		return f.errf(int64(t.UnloadedDriversOffset), "unloaded driver count %d does not fit in the file", n)
	}
	tbl, err := f.readAt(start, int(n)*es, "unloaded driver list")
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	for i := 0; i < int(n); i++ {
		e := tbl[i*es : (i+1)*es]
		var u UnloadedDriver
		nameLen := int(le.Uint16(e)) // UNICODE_STRING.Length, bytes
		var nameBytes []byte
		if is64 {
			nameBytes = e[16:40]
			u.Start, u.End = le.Uint64(e[40:]), le.Uint64(e[48:])
		} else {
			nameBytes = e[8:32]
			u.Start, u.End = uint64(le.Uint32(e[32:])), uint64(le.Uint32(e[36:]))
		}
		if nameLen < len(nameBytes) {
			nameBytes = nameBytes[:nameLen&^1]
		}
		u.Name = utf16String(nameBytes)
		t.Unloaded = append(t.Unloaded, u)
	}
	return nil
}

// parseDataBlocks reads the TRIAGE_DATA_BLOCK table and checks every block
// lies in the file.
func (f *File) parseDataBlocks(t *Triage) error {
	if t.DataBlocksCount == 0 {
		return nil
	}
	bs := f.blockSize()
	tbl, err := f.readAt(int64(t.DataBlocksOffset), int(t.DataBlocksCount)*bs, "data block table")
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	t.DataBlocks = make([]DataBlock, t.DataBlocksCount)
	for i := range t.DataBlocks {
		e := tbl[i*bs:]
		var d DataBlock
		if f.Header.Is64 {
			d = DataBlock{Addr: le.Uint64(e), Offset: le.Uint32(e[8:]), Size: le.Uint32(e[12:])}
		} else {
			d = DataBlock{Addr: uint64(le.Uint32(e)), Offset: le.Uint32(e[4:]), Size: le.Uint32(e[8:])}
		}
		if int64(d.Offset)+int64(d.Size) > f.size {
			return f.errf(int64(t.DataBlocksOffset)+int64(i*bs), "data block %d (%#x bytes at file offset %#x) runs past the end of the file (%#x bytes)", i, d.Size, d.Offset, f.size)
		}
		if d.Addr+uint64(d.Size) < d.Addr {
			return f.errf(int64(t.DataBlocksOffset)+int64(i*bs), "data block %d at %#x wraps around the address space", i, d.Addr)
		}
		t.DataBlocks[i] = d
	}
	return nil
}

// sizeBlobs bounds the PRCB, process and thread blobs by the next offset the
// dump uses after each of them.
func (t *Triage) sizeBlobs(fileSize int64) {
	offs := []uint32{t.ContextOffset, t.ExceptionOffset, t.MmOffset, t.UnloadedDriversOffset,
		t.PrcbOffset, t.ProcessOffset, t.ThreadOffset, t.CallStackOffset, t.DriverListOffset,
		t.StringPoolOffset, t.BrokenDriverOffset, t.DataPageOffset, t.DebuggerDataOffset,
		t.DataBlocksOffset, t.ValidOffset, t.SizeOfDump}
	for _, d := range t.DataBlocks {
		offs = append(offs, d.Offset)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	next := func(o uint32) uint32 {
		i := sort.Search(len(offs), func(i int) bool { return offs[i] > o })
		if i < len(offs) {
			return offs[i]
		}
		return uint32(min(fileSize, 1<<32-1))
	}
	blob := func(o uint32) Blob {
		if o == 0 || int64(o) >= fileSize {
			return Blob{}
		}
		return Blob{Offset: o, Size: next(o) - o}
	}
	t.Prcb, t.Process, t.Thread = blob(t.PrcbOffset), blob(t.ProcessOffset), blob(t.ThreadOffset)
}

// String describes the block briefly, for debugging.
func (t *Triage) String() string {
	return fmt.Sprintf("triage dump: %d drivers, %d unloaded, %d data blocks, stack %#x bytes at %#x",
		len(t.Drivers), len(t.Unloaded), len(t.DataBlocks), t.SizeOfCallStack, t.TopOfStack)
}

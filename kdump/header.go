package kdump

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"
)

// Header sizes and signatures.
const (
	HeaderSize64 = 0x2000
	HeaderSize32 = 0x1000
	Signature64  = "PAGEDU64"
	Signature32  = "PAGEDUMP"
)

// Offsets of the parts of the 64-bit header that the writer and reader share.
const (
	off64PhysMem   = 0x88
	off64Context   = 0x348
	off64Exception = 0xf00
	off32PhysMem   = 0x64
	off32Context   = 0x320
	off32Exception = 0x7d0
	ctxSize64      = 3000
	ctxSize32      = 1200
	physMemSize    = 700
)

// Header is the decoded dump header, common to every kernel dump type.
type Header struct {
	Signature           string // "PAGEDU64" or "PAGEDUMP"
	Is64                bool
	MajorVersion        uint32 // 0xf for a free (retail) build, 0xc for a checked one
	MinorVersion        uint32 // the OS build number, e.g. 19041
	DirectoryTableBase  uint64
	PfnDataBase         uint64
	PsLoadedModuleList  uint64
	PsActiveProcessHead uint64
	MachineImageType    uint32
	NumberProcessors    uint32
	BugCheckCode        uint32
	BugCheckParameters  [4]uint64
	VersionUser         string
	PaeEnabled          bool  // 32-bit headers only
	KdSecondaryVersion  uint8 // non-zero when KdDebuggerDataBlock is stored encoded
	KdDebuggerDataBlock uint64
	PhysicalMemory      *PhysicalMemoryDescriptor // nil when the header does not carry one
	ContextRecord       []byte                    // raw CONTEXT of the bug-checking processor
	Exception           ExceptionRecord
	DumpType            DumpType
	RequiredDumpSpace   uint64
	SystemTime          time.Time // crash time, UTC; zero when not recorded
	Comment             string
	SystemUpTime        time.Duration
	MiniDumpFields      uint32
	SecondaryDataState  uint32
	ProductType         uint32 // 1 workstation, 2 domain controller, 3 server
	SuiteMask           uint32
	WriterStatus        uint32
	Attributes          uint32 // 64-bit headers only
	BootID              uint32 // 64-bit headers only
}

// Size returns the size of the header in the file.
func (h *Header) Size() int64 {
	if h.Is64 {
		return HeaderSize64
	}
	return HeaderSize32
}

// PhysicalMemoryDescriptor lists the physical memory runs a full dump holds.
type PhysicalMemoryDescriptor struct {
	NumberOfRuns  uint32
	NumberOfPages uint64
	Runs          []PhysicalMemoryRun
}

// PhysicalMemoryRun is a run of contiguous physical pages.
type PhysicalMemoryRun struct {
	BasePage  uint64
	PageCount uint64
}

// ExceptionRecord is an EXCEPTION_RECORD32/64.
type ExceptionRecord struct {
	Code             uint32
	Flags            uint32
	Record           uint64 // address of a chained record
	Address          uint64
	NumberParameters uint32
	Information      [15]uint64
}

// Params returns the exception's parameters (at most 15).
func (e ExceptionRecord) Params() []uint64 {
	n := int(e.NumberParameters)
	if n > len(e.Information) {
		n = len(e.Information)
	}
	return e.Information[:n]
}

// Sizes of the exception records.
const (
	ExceptionRecordSize64 = 0x98
	ExceptionRecordSize32 = 0x50
)

// ParseExceptionRecord decodes an EXCEPTION_RECORD64 (is64) or
// EXCEPTION_RECORD32. It returns false when b is too short.
func ParseExceptionRecord(b []byte, is64 bool) (ExceptionRecord, bool) {
	var e ExceptionRecord
	le := binary.LittleEndian
	if is64 {
		if len(b) < ExceptionRecordSize64 {
			return e, false
		}
		e.Code, e.Flags = le.Uint32(b), le.Uint32(b[4:])
		e.Record, e.Address = le.Uint64(b[8:]), le.Uint64(b[0x10:])
		e.NumberParameters = le.Uint32(b[0x18:])
		for i := range e.Information {
			e.Information[i] = le.Uint64(b[0x20+8*i:])
		}
		return e, true
	}
	if len(b) < ExceptionRecordSize32 {
		return e, false
	}
	e.Code, e.Flags = le.Uint32(b), le.Uint32(b[4:])
	e.Record, e.Address = uint64(le.Uint32(b[8:])), uint64(le.Uint32(b[12:]))
	e.NumberParameters = le.Uint32(b[16:])
	for i := range e.Information {
		e.Information[i] = uint64(le.Uint32(b[20+4*i:]))
	}
	return e, true
}

// Bytes encodes the record in its 64- or 32-bit form.
func (e ExceptionRecord) Bytes(is64 bool) []byte {
	le := binary.LittleEndian
	if is64 {
		b := make([]byte, ExceptionRecordSize64)
		le.PutUint32(b, e.Code)
		le.PutUint32(b[4:], e.Flags)
		le.PutUint64(b[8:], e.Record)
		le.PutUint64(b[0x10:], e.Address)
		le.PutUint32(b[0x18:], e.NumberParameters)
		for i, v := range e.Information {
			le.PutUint64(b[0x20+8*i:], v)
		}
		return b
	}
	b := make([]byte, ExceptionRecordSize32)
	le.PutUint32(b, e.Code)
	le.PutUint32(b[4:], e.Flags)
	le.PutUint32(b[8:], uint32(e.Record))
	le.PutUint32(b[12:], uint32(e.Address))
	le.PutUint32(b[16:], e.NumberParameters)
	for i, v := range e.Information {
		le.PutUint32(b[20+4*i:], uint32(v))
	}
	return b
}

// FileTime converts a FILETIME (100 ns ticks since 1601) to UTC time. It
// returns the zero time for 0, for the "PAGE" filler and for values past
// the year 9999.
func FileTime(ft uint64) time.Time {
	if ft == 0 || ft == fill<<32|fill || ft > 2650467743990000000 {
		return time.Time{}
	}
	const epochDelta = 11644473600 // seconds from 1601-01-01 to 1970-01-01
	sec := int64(ft/10_000_000) - epochDelta
	return time.Unix(sec, int64(ft%10_000_000)*100).UTC()
}

// ToFileTime converts t to a FILETIME; the zero time gives 0.
func ToFileTime(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	const epochDelta = 11644473600
	t = t.UTC()
	return uint64(t.Unix()+epochDelta)*10_000_000 + uint64(t.Nanosecond()/100)
}

// ticks converts a count of 100 ns units to a duration, treating the filler
// as zero and saturating instead of overflowing.
func ticks(v uint64) time.Duration {
	if v == fill<<32|fill || v > uint64(1<<63-1)/100 {
		return 0
	}
	return time.Duration(v) * 100
}

// cstr returns the text of a fixed-size char field, empty when it still
// holds the "PAGE" filler.
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := string(b)
	if strings.Trim(s, "PAGE") == "" && len(s)%4 == 0 {
		return ""
	}
	return strings.ToValidUTF8(s, "?")
}

func unfill32(v uint32) uint32 {
	if v == fill {
		return 0
	}
	return v
}

// parseHeader decodes a header from the first bytes of a dump. b must hold
// the whole header (HeaderSize64 or HeaderSize32 bytes).
func parseHeader(b []byte) (*Header, error) {
	if len(b) < 8 {
		return nil, &FormatError{Msg: "file is too short to be a crash dump"}
	}
	sig := string(b[:8])
	switch sig {
	case Signature64:
		if len(b) < HeaderSize64 {
			return nil, &FormatError{Offset: int64(len(b)), Msg: "file ends inside the 64-bit dump header (0x2000 bytes)"}
		}
		return parseHeader64(b), nil
	case Signature32:
		if len(b) < HeaderSize32 {
			return nil, &FormatError{Offset: int64(len(b)), Msg: "file ends inside the 32-bit dump header (0x1000 bytes)"}
		}
		return parseHeader32(b), nil
	}
	msg := "not a Windows kernel crash dump (no PAGEDU64 or PAGEDUMP signature)"
	switch {
	case sig[:4] == "MDMP":
		msg = "this is a user-mode minidump (MDMP), not a kernel crash dump"
	case sig[:4] == "PAGE":
		msg = "unknown kernel dump signature " + quoteSig(sig)
	}
	return nil, &FormatError{Offset: 0, Msg: msg}
}

func quoteSig(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range []byte(s) {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteString("\\x")
			sb.WriteString(strings.ToUpper(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

func parseHeader64(b []byte) *Header {
	le := binary.LittleEndian
	h := &Header{
		Signature:           Signature64,
		Is64:                true,
		MajorVersion:        le.Uint32(b[0x08:]),
		MinorVersion:        le.Uint32(b[0x0c:]),
		DirectoryTableBase:  le.Uint64(b[0x10:]),
		PfnDataBase:         le.Uint64(b[0x18:]),
		PsLoadedModuleList:  le.Uint64(b[0x20:]),
		PsActiveProcessHead: le.Uint64(b[0x28:]),
		MachineImageType:    le.Uint32(b[0x30:]),
		NumberProcessors:    le.Uint32(b[0x34:]),
		BugCheckCode:        le.Uint32(b[0x38:]),
		VersionUser:         cstr(b[0x60:0x80]),
		KdDebuggerDataBlock: le.Uint64(b[0x80:]),
		ContextRecord:       append([]byte(nil), b[off64Context:off64Context+ctxSize64]...),
		DumpType:            DumpType(le.Uint32(b[0xf98:])),
		RequiredDumpSpace:   le.Uint64(b[0xfa0:]),
		SystemTime:          FileTime(le.Uint64(b[0xfa8:])),
		Comment:             cstr(b[0xfb0:0x1030]),
		SystemUpTime:        ticks(le.Uint64(b[0x1030:])),
		MiniDumpFields:      unfill32(le.Uint32(b[0x1038:])),
		SecondaryDataState:  unfill32(le.Uint32(b[0x103c:])),
		ProductType:         unfill32(le.Uint32(b[0x1040:])),
		SuiteMask:           unfill32(le.Uint32(b[0x1044:])),
		WriterStatus:        unfill32(le.Uint32(b[0x1048:])),
		KdSecondaryVersion:  b[0x104d],
		Attributes:          unfill32(le.Uint32(b[0x1050:])),
		BootID:              unfill32(le.Uint32(b[0x1054:])),
	}
	for i := range h.BugCheckParameters {
		h.BugCheckParameters[i] = le.Uint64(b[0x40+8*i:])
	}
	h.Exception, _ = ParseExceptionRecord(b[off64Exception:], true)
	h.PhysicalMemory = parsePhysMem(b[off64PhysMem:off64PhysMem+physMemSize], true)
	return h
}

func parseHeader32(b []byte) *Header {
	le := binary.LittleEndian
	h := &Header{
		Signature:           Signature32,
		MajorVersion:        le.Uint32(b[0x08:]),
		MinorVersion:        le.Uint32(b[0x0c:]),
		DirectoryTableBase:  uint64(le.Uint32(b[0x10:])),
		PfnDataBase:         uint64(le.Uint32(b[0x14:])),
		PsLoadedModuleList:  uint64(le.Uint32(b[0x18:])),
		PsActiveProcessHead: uint64(le.Uint32(b[0x1c:])),
		MachineImageType:    le.Uint32(b[0x20:]),
		NumberProcessors:    le.Uint32(b[0x24:]),
		BugCheckCode:        le.Uint32(b[0x28:]),
		VersionUser:         cstr(b[0x3c:0x5c]),
		PaeEnabled:          b[0x5c] == 1,
		KdSecondaryVersion:  b[0x5d],
		KdDebuggerDataBlock: uint64(le.Uint32(b[0x60:])),
		ContextRecord:       append([]byte(nil), b[off32Context:off32Context+ctxSize32]...),
		Comment:             cstr(b[0x820:0x8a0]),
		DumpType:            DumpType(le.Uint32(b[0xf88:])),
		MiniDumpFields:      unfill32(le.Uint32(b[0xf8c:])),
		SecondaryDataState:  unfill32(le.Uint32(b[0xf90:])),
		ProductType:         unfill32(le.Uint32(b[0xf94:])),
		SuiteMask:           unfill32(le.Uint32(b[0xf98:])),
		WriterStatus:        unfill32(le.Uint32(b[0xf9c:])),
		RequiredDumpSpace:   le.Uint64(b[0xfa0:]),
		SystemUpTime:        ticks(le.Uint64(b[0xfb8:])),
		SystemTime:          FileTime(le.Uint64(b[0xfc0:])),
	}
	for i := range h.BugCheckParameters {
		h.BugCheckParameters[i] = uint64(le.Uint32(b[0x2c+4*i:]))
	}
	h.Exception, _ = ParseExceptionRecord(b[off32Exception:], false)
	h.PhysicalMemory = parsePhysMem(b[off32PhysMem:off32PhysMem+physMemSize], false)
	return h
}

// parsePhysMem decodes PHYSICAL_MEMORY_DESCRIPTOR32/64 from the fixed-size
// header area. It returns nil when the area holds the filler or a run count
// that cannot fit, as it does in dump types that do not use it.
func parsePhysMem(b []byte, is64 bool) *PhysicalMemoryDescriptor {
	le := binary.LittleEndian
	n := le.Uint32(b)
	if n == fill {
		return nil
	}
	d := &PhysicalMemoryDescriptor{NumberOfRuns: n}
	hdr, runSize := 8, 8
	if is64 {
		hdr, runSize = 16, 16
		d.NumberOfPages = le.Uint64(b[8:])
	} else {
		d.NumberOfPages = uint64(le.Uint32(b[4:]))
	}
	if uint64(n) > uint64((len(b)-hdr)/runSize) {
		return nil
	}
	d.Runs = make([]PhysicalMemoryRun, n)
	for i := range d.Runs {
		o := hdr + i*runSize
		if is64 {
			d.Runs[i] = PhysicalMemoryRun{le.Uint64(b[o:]), le.Uint64(b[o+8:])}
		} else {
			d.Runs[i] = PhysicalMemoryRun{uint64(le.Uint32(b[o:])), uint64(le.Uint32(b[o+4:]))}
		}
	}
	return d
}

// Package evtx reads Windows XML event log files (.evtx), such as
// C:\Windows\System32\winevt\Logs\System.evtx, on any operating system.
//
// The file is a 4 KiB header followed by 64 KiB chunks. Each chunk holds
// event records whose body is "binary XML": a token stream in which element
// and attribute names are shared through chunk offsets and each event is an
// instance of a template (defined once per chunk) filled in with typed
// substitution values. This package parses all of it and returns each
// record as an Event with its System fields and its EventData or UserData
// as name/value pairs.
//
// We wrote our own reader because no maintained pure-Go EVTX library
// handles binary XML templates, nested BinXML substitutions and corrupt
// chunks well. The facts come from Joachim Metz's libevtx format
// documentation and the behaviour of omerbenamram/evtx and python-evtx.
//
// Reading streams chunk by chunk: only one 64 KiB chunk is in memory at a
// time. Corruption is never fatal beyond the file header: a chunk with a
// bad signature, or a record with a bad size, is skipped and recorded in
// File.Warnings with the file offset, and reading goes on.
package evtx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/bugcheck/bugcheck/internal/osfile"
)

const (
	fileHeaderSize  = 4096
	chunkSize       = 65536
	chunkHeaderSize = 512
	recordHeader    = 24
)

var (
	fileMagic   = []byte("ElfFile\x00")
	chunkMagic  = []byte("ElfChnk\x00")
	recordMagic = []byte("\x2a\x2a\x00\x00")
)

// Flags of the file header and chunk headers.
const (
	FlagDirty   = 0x1 // the log was not closed cleanly
	FlagFull    = 0x2
	FlagNoCRC32 = 0x4 // checksums are not maintained
)

// FormatError reports malformed data at a known file offset.
type FormatError struct {
	File   string // file name, when known
	Offset int64  // file offset of the bad data
	Msg    string // what is wrong
}

func (e *FormatError) Error() string {
	name := e.File
	if name == "" {
		name = "evtx"
	}
	return fmt.Sprintf("%s: offset %#x: %s", name, e.Offset, e.Msg)
}

// ErrNotEVTX is wrapped by the error returned for files that are not event
// logs at all.
var ErrNotEVTX = errors.New("not a Windows event log (.evtx) file")

// Warning is corruption that was skipped: a chunk or record that could not
// be read. It has the same fields as FormatError.
type Warning = FormatError

// Header is the file header.
type Header struct {
	FirstChunk   uint64 // oldest chunk number
	LastChunk    uint64 // current chunk number
	NextRecordID uint64
	MinorVersion uint16
	MajorVersion uint16
	ChunkCount   uint16
	Flags        uint32
	Checksum     uint32 // CRC32 of the first 120 bytes
	ChecksumOK   bool
}

// ChunkHeader is the header of one 64 KiB chunk.
type ChunkHeader struct {
	Index             int   // position in the file
	Offset            int64 // file offset
	FirstRecordNumber uint64
	LastRecordNumber  uint64
	FirstRecordID     uint64
	LastRecordID      uint64
	LastRecordOffset  uint32
	FreeSpaceOffset   uint32
	DataChecksum      uint32 // CRC32 of the records (512 up to the free space offset)
	Flags             uint32
	HeaderChecksum    uint32 // CRC32 of bytes 0-120 and 128-512
}

// Options change how a file is read.
type Options struct {
	// VerifyChecksums skips chunks whose header or data checksum does not
	// match. By default a mismatch is only a warning, because Windows leaves
	// stale checksums in logs that were not closed cleanly and every record
	// is checked on its own (signature, size, size copy) anyway.
	VerifyChecksums bool
}

// File is an open event log.
type File struct {
	Name     string // for messages; set by Open
	Header   Header
	Warnings []*Warning // corruption skipped so far while reading
	Options  Options

	r      io.ReaderAt
	size   int64
	closer io.Closer
}

// Open opens the named file and reads its header.
func Open(name string) (*File, error) {
	f, c, err := osfile.Open(name, NewFile)
	if err != nil {
		return nil, err
	}
	f.closer = c
	return f, nil
}

// NewFile reads the header of an event log of the given size read through
// r. The name is used in messages only.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{Name: name, r: r, size: size}
	var h [128]byte
	if size < int64(len(h)) {
		return nil, &FormatError{name, 0, fmt.Sprintf("%v: file of %d bytes is shorter than the header", ErrNotEVTX, size)}
	}
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, err
	}
	if !bytes.Equal(h[:8], fileMagic) {
		return nil, &FormatError{name, 0, fmt.Sprintf("%v: signature %q, want \"ElfFile\\x00\"", ErrNotEVTX, h[:8])}
	}
	le := binary.LittleEndian
	f.Header = Header{
		FirstChunk:   le.Uint64(h[8:]),
		LastChunk:    le.Uint64(h[16:]),
		NextRecordID: le.Uint64(h[24:]),
		MinorVersion: le.Uint16(h[36:]),
		MajorVersion: le.Uint16(h[38:]),
		ChunkCount:   le.Uint16(h[42:]),
		Flags:        le.Uint32(h[120:]),
		Checksum:     le.Uint32(h[124:]),
	}
	f.Header.ChecksumOK = crc32.ChecksumIEEE(h[:120]) == f.Header.Checksum
	if !f.Header.ChecksumOK && f.Header.Flags&FlagNoCRC32 == 0 {
		f.warn(0, fmt.Sprintf("file header checksum %#08x does not match its contents (%#08x)", f.Header.Checksum, crc32.ChecksumIEEE(h[:120])))
	}
	return f, nil
}

// Close closes the file if Open opened it.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

func (f *File) warn(off int64, msg string) {
	f.Warnings = append(f.Warnings, &Warning{File: f.Name, Offset: off, Msg: msg})
}

// NumChunks is the number of 64 KiB chunk slots in the file. It can exceed
// the header's chunk count: dirty logs have chunks the header does not
// count yet, and unused slots are all zero.
func (f *File) NumChunks() int {
	if f.size <= fileHeaderSize {
		return 0
	}
	return int((f.size - fileHeaderSize + chunkSize - 1) / chunkSize)
}

// Event is one event record.
type Event struct {
	RecordID uint64    // from the record header
	Written  time.Time // when the record was written (record header)
	Offset   int64     // file offset of the record

	Provider        string // System/Provider@Name
	ProviderGUID    string
	EventSourceName string // classic (NT event log) source name, when set
	EventID         uint16
	Qualifiers      uint16 // System/EventID@Qualifiers (upper half of the classic event ID)
	Version         uint8
	Level           uint8 // 1 critical, 2 error, 3 warning, 4 information
	Task            uint16
	Opcode          uint8
	Keywords        uint64
	TimeCreated     time.Time
	ProcessID       uint32
	ThreadID        uint32
	Channel         string
	Computer        string
	UserID          string

	// Data is EventData (Data elements by their Name attribute, Binary) or
	// UserData (the leaf elements of its one child) in document order.
	Data []Field
	Root *Element // the whole Event element
}

// Field is one named value of an event's EventData or UserData. Unnamed
// EventData values are named by position: "Data[0]", "Data[1]"...
type Field struct {
	Name  string
	Value Value
}

// Get returns the value of the first field named name and whether it
// exists.
func (e *Event) Get(name string) (Value, bool) {
	for _, f := range e.Data {
		if f.Name == name {
			return f.Value, true
		}
	}
	return Value{}, false
}

// Field returns the rendered value of the field named name, or "".
func (e *Event) Field(name string) string {
	v, _ := e.Get(name)
	return v.String()
}

// Records returns an iterator over the file's event records in file order.
func (f *File) Records() *Records {
	return &Records{f: f, chunk: -1}
}

// Records iterates over event records, one chunk in memory at a time.
type Records struct {
	f     *File
	chunk int
	buf   []byte
	hdr   ChunkHeader
	p     *chunkParser
	pos   int
	end   int
	ev    *Event
	err   error
}

// Chunk returns the header of the chunk being read.
func (it *Records) Chunk() ChunkHeader { return it.hdr }

// Next advances to the next readable record and reports whether there is
// one. Corrupt chunks and records are skipped and recorded in the File's
// Warnings.
func (it *Records) Next() bool {
	for it.err == nil {
		if it.p == nil {
			if !it.nextChunk() {
				return false
			}
			continue
		}
		ev, ok := it.record()
		if !ok {
			it.p = nil
			continue
		}
		if ev != nil {
			it.ev = ev
			return true
		}
	}
	return false
}

// Event returns the current event.
func (it *Records) Event() *Event { return it.ev }

// Err returns the I/O error that stopped the iteration, if any. Corruption
// is not an error: see File.Warnings.
func (it *Records) Err() error { return it.err }

// nextChunk loads the next chunk that has a valid header; false at the end
// of the file.
func (it *Records) nextChunk() bool {
	f := it.f
	if it.buf == nil {
		it.buf = make([]byte, chunkSize)
	}
	for {
		it.chunk++
		if it.chunk >= f.NumChunks() {
			return false
		}
		off := int64(fileHeaderSize) + int64(it.chunk)*chunkSize
		n, err := f.r.ReadAt(it.buf, off)
		if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
			if errors.Is(err, io.EOF) {
				return false
			}
			it.err = err
			return false
		}
		b := it.buf
		clear(b[n:])
		if !bytes.Equal(b[:8], chunkMagic) {
			if !allZero(b[:n]) {
				f.warn(off, fmt.Sprintf("chunk %d: bad signature %q, skipped", it.chunk, b[:8]))
			}
			continue
		}
		if n < chunkHeaderSize {
			f.warn(off, fmt.Sprintf("chunk %d: truncated to %d bytes, skipped", it.chunk, n))
			continue
		}
		if n < chunkSize {
			f.warn(off+int64(n), fmt.Sprintf("chunk %d: truncated to %d of %d bytes; reading the records it still holds", it.chunk, n, chunkSize))
		}
		h := parseChunkHeader(b, it.chunk, off)
		end := int(h.FreeSpaceOffset)
		if end < chunkHeaderSize || end > chunkSize {
			f.warn(off+48, fmt.Sprintf("chunk %d: free space offset %#x is outside the chunk; reading records up to its end", it.chunk, h.FreeSpaceOffset))
			end = chunkSize
		}
		if (h.Flags|f.Header.Flags)&FlagNoCRC32 == 0 {
			bad := ""
			crc := crc32.Update(crc32.ChecksumIEEE(b[:120]), crc32.IEEETable, b[128:chunkHeaderSize])
			if crc != h.HeaderChecksum {
				bad = fmt.Sprintf("header checksum %#08x, computed %#08x", h.HeaderChecksum, crc)
			} else if crc := crc32.ChecksumIEEE(b[chunkHeaderSize:end]); crc != h.DataChecksum {
				bad = fmt.Sprintf("records checksum %#08x, computed %#08x", h.DataChecksum, crc)
			}
			if bad != "" {
				if f.Options.VerifyChecksums {
					f.warn(off, fmt.Sprintf("chunk %d: %s, skipped", it.chunk, bad))
					continue
				}
				f.warn(off, fmt.Sprintf("chunk %d: %s; reading its records anyway", it.chunk, bad))
			}
		}
		it.hdr = h
		it.p = &chunkParser{b: b, templates: map[uint32]*template{}, names: map[uint32]string{}}
		it.pos = chunkHeaderSize
		it.end = end
		return true
	}
}

func parseChunkHeader(b []byte, index int, off int64) ChunkHeader {
	le := binary.LittleEndian
	return ChunkHeader{
		Index:             index,
		Offset:            off,
		FirstRecordNumber: le.Uint64(b[8:]),
		LastRecordNumber:  le.Uint64(b[16:]),
		FirstRecordID:     le.Uint64(b[24:]),
		LastRecordID:      le.Uint64(b[32:]),
		LastRecordOffset:  le.Uint32(b[44:]),
		FreeSpaceOffset:   le.Uint32(b[48:]),
		DataChecksum:      le.Uint32(b[52:]),
		Flags:             le.Uint32(b[120:]),
		HeaderChecksum:    le.Uint32(b[124:]),
	}
}

// ChunkHeaders returns the headers of the chunks that have a chunk
// signature, without checking checksums or reading records.
func (f *File) ChunkHeaders() ([]ChunkHeader, error) {
	var out []ChunkHeader
	b := make([]byte, 128)
	for i := 0; i < f.NumChunks(); i++ {
		off := int64(fileHeaderSize) + int64(i)*chunkSize
		if _, err := f.r.ReadAt(b, off); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return out, err
		}
		if bytes.Equal(b[:8], chunkMagic) {
			out = append(out, parseChunkHeader(b, i, off))
		}
	}
	return out, nil
}

// Declared is the number of records the chunk header says the chunk holds.
func (h ChunkHeader) Declared() uint64 {
	if h.LastRecordNumber < h.FirstRecordNumber {
		return 0
	}
	return h.LastRecordNumber - h.FirstRecordNumber + 1
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// record reads the record at it.pos. It returns (event, true) for a good
// record, (nil, true) for a skipped one and (nil, false) at the end of the
// chunk.
func (it *Records) record() (*Event, bool) {
	b, pos := it.p.b, it.pos
	if pos+recordHeader+4 > it.end {
		return nil, false
	}
	fileOff := it.hdr.Offset + int64(pos)
	if !bytes.Equal(b[pos:pos+4], recordMagic) {
		if allZero(b[pos:it.end]) {
			return nil, false
		}
		it.f.warn(fileOff, fmt.Sprintf("chunk %d: no record signature at chunk offset %#x", it.chunk, pos))
		return nil, it.resync(pos + 1)
	}
	le := binary.LittleEndian
	size := int(le.Uint32(b[pos+4:]))
	id := le.Uint64(b[pos+8:])
	if size < recordHeader+4 || pos+size > chunkSize || le.Uint32(b[pos+size-4:]) != uint32(size) {
		it.f.warn(fileOff, fmt.Sprintf("record %d: bad size %d (the copy at its end does not match or it runs past the chunk), skipped", id, size))
		return nil, it.resync(pos + 4)
	}
	it.pos = pos + size
	ev := &Event{RecordID: id, Written: FileTime(le.Uint64(b[pos+16:])), Offset: fileOff}
	it.p.nodes = 0
	c := &cursor{p: it.p, pos: pos + recordHeader, end: pos + size - 4}
	root := &Element{}
	nodes, err := c.fragment(false)
	if err == nil {
		err = (&expander{p: it.p}).expand(nodes, nil, root, 0)
	}
	if err != nil {
		at := fileOff
		var oe *offsetError
		if errors.As(err, &oe) {
			at = it.hdr.Offset + int64(oe.off)
		}
		it.f.warn(at, fmt.Sprintf("record %d: %v, skipped", id, err))
		return nil, true
	}
	ev.Root = root.Child("Event")
	if ev.Root == nil && len(root.Children) > 0 {
		ev.Root = root.Children[0]
	}
	fillEvent(ev)
	return ev, true
}

// resync looks for the next plausible record (signature, size and size
// copy agree) from chunk offset from; false when there is none.
func (it *Records) resync(from int) bool {
	b := it.p.b
	le := binary.LittleEndian
	for p := from; p+recordHeader+4 <= it.end; p++ {
		i := bytes.Index(b[p:it.end], recordMagic)
		if i < 0 {
			return false
		}
		p += i
		if p+recordHeader+4 > it.end {
			return false
		}
		size := int(le.Uint32(b[p+4:]))
		if size >= recordHeader+4 && p+size <= chunkSize && le.Uint32(b[p+size-4:]) == uint32(size) {
			it.pos = p
			return true
		}
	}
	return false
}

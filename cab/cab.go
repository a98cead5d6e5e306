// Package cab reads Microsoft Cabinet (.cab) files, the container symbol
// servers use for compressed files (basic32.pd_ is basic32.pdb in a
// cabinet): the CFHEADER with its reserve fields and cabinet-set links,
// the CFFOLDER and CFFILE tables, and the CFDATA blocks of each folder,
// whose checksums are verified when present. Folders stored without
// compression, with MSZIP and with LZX are decompressed; Quantum is
// reported as unsupported.
//
// No maintained pure-Go cabinet library handles both MSZIP and LZX, so
// this is our own, written from Microsoft's [MS-CAB] and LZX
// (MS-PATCH LZXD) format descriptions. Input is treated as hostile:
// counts are checked against the file size before anything is
// allocated, decompression streams one 32 KiB block at a time, and no
// block may produce more bytes than it declares.
package cab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/internal/osfile"
)

var le = binary.LittleEndian

// FormatError reports malformed cabinet data.
type FormatError struct {
	File   string
	Offset int64 // file offset of the bad data
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %#x: %s", e.File, e.Offset, e.Msg)
}

// UnsupportedError reports a compression method this package cannot
// decompress (Quantum, or an unknown method number). It matches
// errors.ErrUnsupported.
type UnsupportedError struct {
	File        string
	Compression Compression
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s compression is not supported", e.File, e.Compression)
}

// Is reports whether target is errors.ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }

// Compression is a folder's typeCompress field: the method in the low
// four bits and, for LZX and Quantum, a parameter in bits 8-12.
type Compression uint16

// Compression methods (Compression.Method).
const (
	None    Compression = 0
	MSZIP   Compression = 1
	Quantum Compression = 2
	LZX     Compression = 3
)

// Method returns the compression method without its parameter.
func (c Compression) Method() Compression { return c & 0xf }

// WindowBits returns the LZX window size as a power of two (15 to 21).
func (c Compression) WindowBits() int { return int(c>>8) & 0x1f }

func (c Compression) String() string {
	switch c.Method() {
	case None:
		return "none"
	case MSZIP:
		return "MSZIP"
	case Quantum:
		return "Quantum"
	case LZX:
		return fmt.Sprintf("LZX (window 2^%d)", c.WindowBits())
	}
	return fmt.Sprintf("method %d", uint16(c.Method()))
}

// Header flags.
const (
	FlagPrevCabinet    = 0x1
	FlagNextCabinet    = 0x2
	FlagReservePresent = 0x4
)

// Special CFFILE folder indexes for files split across cabinets.
const (
	ContinuedFromPrev    = 0xfffd
	ContinuedToNext      = 0xfffe
	ContinuedPrevAndNext = 0xffff
)

// attrNameIsUTF8 marks a CFFILE name as UTF-8 rather than the code page.
const attrNameIsUTF8 = 0x80

// Reader is an open cabinet.
type Reader struct {
	Name         string
	Size         int64 // cbCabinet, the size the header declares
	VersionMajor uint8
	VersionMinor uint8
	Flags        uint16
	SetID        uint16
	Index        uint16 // iCabinet, the number of this cabinet in its set

	HeaderReserve []byte // abReserve of the CFHEADER
	PrevCabinet   string // with FlagPrevCabinet
	PrevDisk      string
	NextCabinet   string // with FlagNextCabinet
	NextDisk      string

	Folders []*Folder

	r           io.ReaderAt
	size        int64
	dataReserve int // cbCFData
	files       []*File
	closer      io.Closer
}

// Folder is a CFFOLDER: a run of CFDATA blocks compressed as one stream.
type Folder struct {
	Index       int
	DataOffset  int64 // coffCabStart, the first CFDATA block
	Blocks      int   // cCFData
	Compression Compression
	Reserve     []byte
}

// File is a CFFILE entry.
type File struct {
	Name         string
	Size         uint32 // cbFile, the uncompressed size
	FolderOffset uint32 // uoffFolderStart, where the file starts in its folder's data
	Folder       uint16 // iFolder, or one of the Continued* values
	Modified     time.Time
	Attributes   uint16
}

const (
	headerSize = 36
	folderSize = 8
	fileSize   = 16 // without the name
	dataSize   = 8  // without the reserve
	maxName    = 256
	// blockMax is the most a CFDATA block may expand to.
	blockMax = 32768
	// dataMax is the most compressed data a CFDATA block may hold
	// (blockMax plus the worst expansion Microsoft's compressors allow).
	dataMax = blockMax + 6144
)

// Open opens and parses a cabinet file.
func Open(path string) (*Reader, error) {
	r, c, err := osfile.Open(path, NewReader)
	if err != nil {
		return nil, err
	}
	r.closer = c
	return r, nil
}

// Close closes the file if Open opened it.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// NewReader parses the cabinet of the given size read through r.
func NewReader(r io.ReaderAt, size int64, name string) (*Reader, error) {
	c := &Reader{Name: name, r: r, size: size}
	if err := c.parse(); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *Reader) errf(off int64, format string, args ...any) error {
	return &FormatError{File: r.Name, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// readAt reads n bytes at off, or fails naming what was being read.
func (r *Reader) readAt(off int64, n int, what string) ([]byte, error) {
	if off < 0 || n < 0 || off > r.size || int64(n) > r.size-off {
		return nil, r.errf(off, "%s (%d bytes) runs past the end of the %d-byte file", what, n, r.size)
	}
	return r.readInto(make([]byte, n), off, what)
}

// readInto fills b from off; the caller has checked the bounds.
func (r *Reader) readInto(b []byte, off int64, what string) ([]byte, error) {
	if off < 0 || off > r.size || int64(len(b)) > r.size-off {
		return nil, r.errf(off, "%s (%d bytes) runs past the end of the %d-byte file", what, len(b), r.size)
	}
	if _, err := r.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && len(b) > 0) {
		return nil, r.errf(off, "reading %s: %v", what, err)
	}
	return b, nil
}

// cstring reads a NUL-terminated string of at most maxName bytes at off and
// returns it and the offset after its terminator.
func (r *Reader) cstring(off int64, what string) (string, int64, error) {
	n := int64(maxName + 1)
	if r.size-off < n {
		n = r.size - off
	}
	if n <= 0 {
		return "", 0, r.errf(off, "%s runs past the end of the file", what)
	}
	b, err := r.readAt(off, int(n), what)
	if err != nil {
		return "", 0, err
	}
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), off + int64(i) + 1, nil
		}
	}
	return "", 0, r.errf(off, "%s is not NUL-terminated within %d bytes", what, len(b))
}

func (r *Reader) parse() error {
	h, err := r.readAt(0, headerSize, "CFHEADER")
	if err != nil {
		return err
	}
	if string(h[:4]) != "MSCF" {
		return r.errf(0, "not a cabinet: signature %q", h[:4])
	}
	r.Size = int64(le.Uint32(h[8:]))
	coffFiles := int64(le.Uint32(h[16:]))
	r.VersionMinor, r.VersionMajor = h[24], h[25]
	nFolders, nFiles := int(le.Uint16(h[26:])), int(le.Uint16(h[28:]))
	r.Flags = le.Uint16(h[30:])
	r.SetID = le.Uint16(h[32:])
	r.Index = le.Uint16(h[34:])
	if r.VersionMajor != 1 {
		return r.errf(25, "unsupported cabinet format version %d.%d", r.VersionMajor, r.VersionMinor)
	}
	if r.Size > r.size {
		return r.errf(8, "header declares %d bytes but the file has %d (truncated?)", r.Size, r.size)
	}
	// Everything below is inside the declared cabinet.
	r.size = r.Size
	off := int64(headerSize)
	folderReserve := 0
	if r.Flags&FlagReservePresent != 0 {
		rb, err := r.readAt(off, 4, "reserve sizes")
		if err != nil {
			return err
		}
		hdrReserve := int(le.Uint16(rb))
		folderReserve, r.dataReserve = int(rb[2]), int(rb[3])
		if r.HeaderReserve, err = r.readAt(off+4, hdrReserve, "header reserve"); err != nil {
			return err
		}
		off += 4 + int64(hdrReserve)
	}
	if r.Flags&FlagPrevCabinet != 0 {
		if r.PrevCabinet, off, err = r.cstring(off, "previous cabinet name"); err != nil {
			return err
		}
		if r.PrevDisk, off, err = r.cstring(off, "previous disk name"); err != nil {
			return err
		}
	}
	if r.Flags&FlagNextCabinet != 0 {
		if r.NextCabinet, off, err = r.cstring(off, "next cabinet name"); err != nil {
			return err
		}
		if r.NextDisk, off, err = r.cstring(off, "next disk name"); err != nil {
			return err
		}
	}
	if nFolders == 0 && nFiles > 0 {
		return r.errf(26, "%d files but no folders", nFiles)
	}
	// The folder table is read in one piece; its size must fit the file
	// before anything is allocated for it.
	entry := folderSize + folderReserve
	tbl, err := r.readAt(off, nFolders*entry, fmt.Sprintf("CFFOLDER table (%d entries)", nFolders))
	if err != nil {
		return err
	}
	folderTable := off
	headerEnd := off + int64(len(tbl))
	r.Folders = make([]*Folder, nFolders)
	for i := range r.Folders {
		e := tbl[i*entry:]
		f := &Folder{
			Index:       i,
			DataOffset:  int64(le.Uint32(e)),
			Blocks:      int(le.Uint16(e[4:])),
			Compression: Compression(le.Uint16(e[6:])),
		}
		if folderReserve > 0 {
			f.Reserve = e[folderSize:entry:entry]
		}
		r.Folders[i] = f
	}
	// Files: at most what the rest of the file can hold at 17 bytes each.
	if coffFiles < headerEnd || coffFiles > r.size {
		return r.errf(16, "CFFILE table offset %#x overlaps the header (ends at %#x) or lies outside the file", coffFiles, headerEnd)
	}
	if int64(nFiles)*(fileSize+1) > r.size-coffFiles {
		return r.errf(28, "%d files cannot fit in the %d bytes after offset %#x", nFiles, r.size-coffFiles, coffFiles)
	}
	r.files = make([]*File, 0, nFiles)
	off = coffFiles
	for i := 0; i < nFiles; i++ {
		e, err := r.readAt(off, fileSize, "CFFILE entry")
		if err != nil {
			return err
		}
		f := &File{
			Size:         le.Uint32(e),
			FolderOffset: le.Uint32(e[4:]),
			Folder:       le.Uint16(e[8:]),
			Attributes:   le.Uint16(e[14:]),
		}
		f.Modified = dosTime(le.Uint16(e[10:]), le.Uint16(e[12:]))
		var name string
		if name, off, err = r.cstring(off+fileSize, "file name"); err != nil {
			return err
		}
		f.Name = decodeName(name, f.Attributes&attrNameIsUTF8 != 0)
		if f.Folder < ContinuedFromPrev && int(f.Folder) >= nFolders {
			return r.errf(off, "file %q names folder %d of %d", f.Name, f.Folder, nFolders)
		}
		r.files = append(r.files, f)
	}
	// CFDATA blocks come after the tables; a folder pointing back into
	// them would make the tables double as compressed data.
	for _, f := range r.Folders {
		if f.Blocks > 0 && (f.DataOffset < off || f.DataOffset >= r.size) {
			return r.errf(folderTable+int64(f.Index*entry), "folder %d: data offset %#x overlaps the header and file tables (end at %#x) or lies outside the file", f.Index, f.DataOffset, off)
		}
	}
	return nil
}

// dosTime converts an MS-DOS date and time.
func dosTime(date, t uint16) time.Time {
	if date == 0 {
		return time.Time{}
	}
	return time.Date(1980+int(date>>9), time.Month(date>>5&0xf), int(date&0x1f),
		int(t>>11), int(t>>5&0x3f), int(t&0x1f)*2, 0, time.UTC)
}

// decodeName returns a file name as UTF-8: UTF-8 names as they are, others
// (a code page we cannot know) with bytes above 0x7f taken as Latin-1.
func decodeName(s string, utf8 bool) string {
	if utf8 {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// Files returns the cabinet's files in table order.
func (r *Reader) Files() []*File { return r.files }

// File returns the file with this name, ignoring letter case, or nil.
func (r *Reader) File(name string) *File {
	for _, f := range r.files {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// Open returns a reader of f's contents. It decompresses as it is read,
// one CFDATA block at a time, and fails with a FormatError when the data
// is corrupt, shorter than f.Size, or a block expands beyond what it
// declares.
func (r *Reader) Open(f *File) (io.Reader, error) {
	if f.Folder >= ContinuedFromPrev {
		return nil, &FormatError{File: r.Name, Msg: fmt.Sprintf("file %q is split across cabinets (folder %#x); cabinet sets are not supported", f.Name, f.Folder)}
	}
	if int(f.Folder) >= len(r.Folders) {
		return nil, &FormatError{File: r.Name, Msg: fmt.Sprintf("file %q names folder %d of %d", f.Name, f.Folder, len(r.Folders))}
	}
	fo := r.Folders[f.Folder]
	end := int64(f.FolderOffset) + int64(f.Size)
	if end > int64(fo.Blocks)*blockMax {
		return nil, r.errf(fo.DataOffset, "file %q ends at %d bytes into folder %d, but its %d blocks hold at most %d", f.Name, end, fo.Index, fo.Blocks, int64(fo.Blocks)*blockMax)
	}
	fr, err := r.newFolderReader(fo)
	if err != nil {
		return nil, err
	}
	if f.FolderOffset > 0 {
		if _, err := io.CopyN(io.Discard, fr, int64(f.FolderOffset)); err != nil {
			return nil, r.shortErr(fr, f, err)
		}
	}
	return &fileReader{r: r, fr: fr, f: f, left: int64(f.Size)}, nil
}

// ExtractTo writes f's contents to w and returns the number of bytes
// written.
func (r *Reader) ExtractTo(w io.Writer, f *File) (int64, error) {
	rd, err := r.Open(f)
	if err != nil {
		return 0, err
	}
	return io.Copy(w, rd)
}

func (r *Reader) shortErr(fr *folderReader, f *File, err error) error {
	if errors.Is(err, io.EOF) {
		return r.errf(fr.off, "folder %d ends before file %q does (%d bytes declared from folder offset %d)", fr.f.Index, f.Name, f.Size, f.FolderOffset)
	}
	return err
}

// fileReader bounds a folder stream to one file.
type fileReader struct {
	r    *Reader
	fr   *folderReader
	f    *File
	left int64
	err  error
}

func (fr *fileReader) Read(p []byte) (int, error) {
	if fr.err != nil {
		return 0, fr.err
	}
	if fr.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > fr.left {
		p = p[:fr.left]
	}
	n, err := fr.fr.Read(p)
	fr.left -= int64(n)
	if err != nil {
		if fr.left == 0 && errors.Is(err, io.EOF) {
			err = nil
		} else {
			err = fr.r.shortErr(fr.fr, fr.f, err)
			fr.err = err
		}
	}
	return n, err
}

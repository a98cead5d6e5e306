// Package peimage reads the parts of Windows PE images (drivers, DLLs,
// executables) that crash analysis needs: the CodeView record that names
// the matching PDB, version resources (the description, company and
// version sysadmins expect next to a driver name), exports, and x64
// exception data (RUNTIME_FUNCTION and UNWIND_INFO) for stack unwinding.
//
// Headers and sections come from the standard library's debug/pe; the
// directories debug/pe does not decode are parsed here, with every RVA,
// size and count checked against the image before use.
package peimage

import (
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// FormatError reports malformed image data.
type FormatError struct {
	File string
	RVA  uint32 // relative virtual address of the bad data, when known
	Msg  string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: rva %#x: %s", e.File, e.RVA, e.Msg)
}

// ErrNoDirectory means the image has no such data directory.
var ErrNoDirectory = errors.New("peimage: the image has no such directory")

// Data directory indexes.
const (
	DirExport    = 0
	DirResource  = 2
	DirException = 3
	DirDebug     = 6
)

// File is an open PE image.
type File struct {
	Name          string
	Machine       uint16
	TimeDateStamp uint32
	SizeOfImage   uint32
	ImageBase     uint64
	CheckSum      uint32
	Sections      []*pe.Section
	dirs          []pe.DataDirectory
	pf            *pe.File
	closer        io.Closer
}

// Open opens an image file.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	f, err := NewFile(fh, filepath.Base(path))
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// NewFile parses an image read through r; name is used in errors.
func NewFile(r io.ReaderAt, name string) (f *File, err error) {
	defer func() { // debug/pe is robust, but a hostile image must never crash the analyser
		if p := recover(); p != nil {
			f, err = nil, &FormatError{File: name, Msg: fmt.Sprintf("malformed PE headers (%v)", p)}
		}
	}()
	pf, err := pe.NewFile(r)
	if err != nil {
		return nil, &FormatError{File: name, Msg: err.Error()}
	}
	f = &File{Name: name, Machine: pf.Machine, TimeDateStamp: pf.TimeDateStamp, Sections: pf.Sections, pf: pf}
	switch oh := pf.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		f.SizeOfImage, f.ImageBase, f.CheckSum = oh.SizeOfImage, oh.ImageBase, oh.CheckSum
		f.dirs = oh.DataDirectory[:min(int(oh.NumberOfRvaAndSizes), len(oh.DataDirectory))]
	case *pe.OptionalHeader32:
		f.SizeOfImage, f.ImageBase, f.CheckSum = oh.SizeOfImage, uint64(oh.ImageBase), oh.CheckSum
		f.dirs = oh.DataDirectory[:min(int(oh.NumberOfRvaAndSizes), len(oh.DataDirectory))]
	default:
		return nil, &FormatError{File: name, Msg: "no optional header"}
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

// SymbolStoreKey is the directory name symbol servers file the image
// under: TimeDateStamp as %08X followed by SizeOfImage as %x.
func (f *File) SymbolStoreKey() string {
	return fmt.Sprintf("%08X%x", f.TimeDateStamp, f.SizeOfImage)
}

func (f *File) errf(rva uint32, format string, args ...any) error {
	return &FormatError{File: f.Name, RVA: rva, Msg: fmt.Sprintf(format, args...)}
}

// Directory returns a data directory's RVA and size.
func (f *File) Directory(i int) (rva, size uint32, err error) {
	if i >= len(f.dirs) || f.dirs[i].VirtualAddress == 0 || f.dirs[i].Size == 0 {
		return 0, 0, ErrNoDirectory
	}
	return f.dirs[i].VirtualAddress, f.dirs[i].Size, nil
}

// ReadRVA reads n bytes at a relative virtual address. Bytes a section
// declares but does not store in the file read as zero, as the loader
// maps them.
func (f *File) ReadRVA(rva uint32, n int) ([]byte, error) {
	if n < 0 || uint64(rva)+uint64(n) > uint64(f.SizeOfImage) && f.SizeOfImage != 0 {
		return nil, f.errf(rva, "%#x bytes run past the end of the image (%#x)", n, f.SizeOfImage)
	}
	for _, s := range f.Sections {
		span := max(s.VirtualSize, s.Size)
		if rva < s.VirtualAddress || rva-s.VirtualAddress >= span {
			continue
		}
		off := rva - s.VirtualAddress
		if uint64(off)+uint64(n) > uint64(span) {
			return nil, f.errf(rva, "%#x bytes run past the end of section %s", n, s.Name)
		}
		b := make([]byte, n)
		if off < s.Size {
			m := min(uint32(n), s.Size-off)
			if _, err := s.ReadAt(b[:m], int64(off)); err != nil && err != io.EOF {
				return nil, f.errf(rva, "reading section %s: %v", s.Name, err)
			}
		}
		return b, nil
	}
	return nil, f.errf(rva, "no section holds this address")
}

// CString reads a NUL-terminated string at rva (at most max bytes).
func (f *File) CString(rva uint32, maxLen int) (string, error) {
	var out []byte
	for len(out) < maxLen {
		chunk := min(64, maxLen-len(out))
		b, err := f.ReadRVA(rva+uint32(len(out)), chunk)
		if err != nil {
			// Near the end of a section: read byte by byte.
			b, err = f.ReadRVA(rva+uint32(len(out)), 1)
			if err != nil {
				return "", err
			}
		}
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			return string(append(out, b[:i]...)), nil
		}
		out = append(out, b...)
	}
	return string(out), nil
}

var le = binary.LittleEndian

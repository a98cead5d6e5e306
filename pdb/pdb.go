// Package pdb reads Microsoft program database (PDB) files: the MSF 7.00
// container, the PDB info stream (GUID and age, which must match the
// image's CodeView record), the DBI stream (modules, section headers,
// section contributions, OMAP), the public, global and procedure symbols
// that turn module+offset into function+offset and name variables, and the
// TPI/IPI type streams that give structure layouts (Struct, FieldOffset).
//
// No maintained Go PDB reader exists, so this is our own, written from the
// format descriptions LLVM publishes. Every block index, stream size and
// record length is checked before use; errors name the file and the
// stream. Open reads only what symbol look-up needs; the type stream is
// parsed on the first type query, and type references are followed with
// depth and work bounds, so cyclic or hostile records cannot loop.
package pdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/bugcheck/bugcheck/internal/osfile"
)

var le = binary.LittleEndian

// FormatError reports malformed PDB data.
type FormatError struct {
	File   string
	Stream int // -1 for the container itself
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Stream < 0 {
		return fmt.Sprintf("%s: offset %#x: %s", e.File, e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s: stream %d, offset %#x: %s", e.File, e.Stream, e.Offset, e.Msg)
}

const msfMagic = "Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"

// File is an open PDB.
type File struct {
	Name    string
	GUID    [16]byte
	Age     uint32 // from the DBI stream when present (it is what images match), else the info stream
	Machine uint16

	r         io.ReaderAt
	size      int64
	blockSize uint32
	numBlocks uint32
	streams   [][]uint32 // block lists
	sizes     []uint32
	closer    io.Closer
	symbols   []Symbol // sorted by RVA, one per address
	functions []Symbol // the code symbols among them
	publics   []Symbol // every public, sorted by RVA

	dbi          dbiHeader
	modules      []Module
	sections     []Section
	origSections []Section // the pre-OMAP layout symbols refer to
	omap         []byte    // OMAP-from-source pairs, nil without OMAP
	omapIndex    []uint32  // the from of every omapStride-th pair
	symrec       []byte    // the symbol record stream
	symrecStr    string    // the same as a string, which public names slice

	globalsHash, publicsHash hashStream

	tpiOnce, ipiOnce sync.Once
	tpi, ipi         *typeStream
	tpiErr, ipiErr   error
}

// Symbol is a function, public symbol or global variable with its image
// RVA.
type Symbol struct {
	Name     string
	RVA      uint32
	Size     uint32 // 0 when unknown (publics)
	Function bool   // code, not data
	// Type is a variable's or procedure's type (for S_GPROC32_ID procedures
	// an IPI item id, see IDName); 0 for publics.
	Type TypeIndex
}

// Open opens and parses a PDB file.
func Open(path string) (*File, error) {
	f, c, err := osfile.Open(path, NewFile)
	if err != nil {
		return nil, err
	}
	f.closer = c
	return f, nil
}

// Close closes the file if Open opened it.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// NewFile parses a PDB of the given size read through r.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{Name: name, r: r, size: size}
	if err := f.readDirectory(); err != nil {
		return nil, err
	}
	if err := f.readInfo(); err != nil {
		return nil, err
	}
	if err := f.readSymbols(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) errf(stream int, off int64, format string, args ...any) error {
	return &FormatError{File: f.Name, Stream: stream, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (f *File) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > f.size || int64(n) > f.size-off {
		return nil, f.errf(-1, off, "%#x bytes run past the end of the file (%#x)", n, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// readDirectory reads the superblock and the stream directory.
func (f *File) readDirectory() error {
	sb, err := f.readAt(0, 56)
	if err != nil {
		return f.errf(-1, 0, "too short to be a PDB")
	}
	if string(sb[:32]) != msfMagic {
		if bytes.HasPrefix(sb, []byte("MSCF")) {
			return f.errf(-1, 0, "this is a CAB-compressed PDB (.pd_); expand it first")
		}
		if bytes.HasPrefix(sb, []byte("Microsoft C/C++ program database 2.00")) {
			return f.errf(-1, 0, "old PDB 2.00 format is not supported")
		}
		return f.errf(-1, 0, "not an MSF 7.00 PDB file")
	}
	f.blockSize, f.numBlocks = le.Uint32(sb[32:]), le.Uint32(sb[40:])
	dirBytes, mapBlock := le.Uint32(sb[44:]), le.Uint32(sb[52:])
	switch f.blockSize {
	case 512, 1024, 2048, 4096, 8192, 16384, 32768:
	default:
		return f.errf(-1, 32, "block size %d", f.blockSize)
	}
	if uint64(f.numBlocks)*uint64(f.blockSize) > uint64(f.size)+uint64(f.blockSize) {
		return f.errf(-1, 40, "%d blocks of %d bytes do not fit in the file", f.numBlocks, f.blockSize)
	}
	if dirBytes == 0 || uint64(dirBytes) > uint64(f.size) {
		return f.errf(-1, 44, "stream directory of %d bytes", dirBytes)
	}
	nDirBlocks := (dirBytes + f.blockSize - 1) / f.blockSize
	if nDirBlocks > f.blockSize/4 {
		return f.errf(-1, 44, "stream directory needs %d blocks, more than one block map holds", nDirBlocks)
	}
	mb, err := f.block(mapBlock, -1)
	if err != nil {
		return err
	}
	var dir []byte
	for i := uint32(0); i < nDirBlocks; i++ {
		b, err := f.block(le.Uint32(mb[4*i:]), -1)
		if err != nil {
			return err
		}
		dir = append(dir, b...)
	}
	dir = dir[:dirBytes]
	n := le.Uint32(dir)
	if uint64(n)*4+4 > uint64(len(dir)) {
		return f.errf(-1, 0, "stream directory claims %d streams", n)
	}
	f.sizes = make([]uint32, n)
	pos := 4 + 4*int(n)
	f.streams = make([][]uint32, n)
	all := make([]uint32, 0, (len(dir)-pos)/4) // one array holds every block list
	for i := range f.sizes {
		sz := le.Uint32(dir[4+4*i:])
		if sz == 0xffffffff {
			sz = 0
		}
		if int64(sz) > f.size { // only blocks shared between streams could hold more
			return f.errf(-1, int64(4+4*i), "stream %d claims %d bytes, more than the file holds", i, sz)
		}
		f.sizes[i] = sz
		nb := int((uint64(sz) + uint64(f.blockSize) - 1) / uint64(f.blockSize))
		if pos+4*nb > len(dir) {
			return f.errf(-1, int64(pos), "stream %d (%d bytes) has more blocks than the directory lists", i, sz)
		}
		at := len(all)
		for j := range nb {
			b := le.Uint32(dir[pos+4*j:])
			if b >= f.numBlocks {
				return f.errf(-1, int64(pos+4*j), "stream %d uses block %d of %d", i, b, f.numBlocks)
			}
			all = append(all, b)
		}
		f.streams[i] = all[at:len(all):len(all)]
		pos += 4 * nb
	}
	return nil
}

func (f *File) block(i uint32, stream int) ([]byte, error) {
	if i >= f.numBlocks {
		return nil, f.errf(stream, 0, "block %d of %d", i, f.numBlocks)
	}
	return f.readAt(int64(i)*int64(f.blockSize), int(f.blockSize))
}

// Stream returns the bytes of stream i.
func (f *File) Stream(i int) ([]byte, error) {
	return f.streamRange(i, 0, -1)
}

// streamRange returns n bytes of stream i from offset off (to its end when
// n < 0 or the stream is shorter). Runs of consecutive blocks are read
// with one ReadAt each, straight into the result.
func (f *File) streamRange(i, off, n int) ([]byte, error) {
	if i < 0 || i >= len(f.streams) {
		return nil, f.errf(i, 0, "no such stream (the PDB has %d)", len(f.streams))
	}
	size := int(f.sizes[i])
	if off < 0 || off > size {
		return nil, f.errf(i, int64(off), "offset beyond the stream's %d bytes", size)
	}
	if n < 0 || n > size-off {
		n = size - off
	}
	out := make([]byte, n)
	bs := int(f.blockSize)
	blocks := f.streams[i]
	for done := 0; done < n; {
		bi, within := (off+done)/bs, (off+done)%bs
		run, k := bs-within, bi+1
		for done+run < n && blocks[k] == blocks[k-1]+1 { // blocks cover the stream, so k stays in range
			run += bs
			k++
		}
		run = min(run, n-done)
		at := int64(blocks[bi])*int64(bs) + int64(within)
		if at+int64(run) > f.size {
			return nil, f.errf(i, int64(off+done), "block %d runs past the end of the file", blocks[bi])
		}
		if got, err := f.r.ReadAt(out[done:done+run], at); got < run {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		done += run
	}
	return out, nil
}

// readInfo reads stream 1 (PDB info) and the DBI header of stream 3.
func (f *File) readInfo() error {
	info, err := f.Stream(1)
	if err != nil {
		return err
	}
	if len(info) < 28 {
		return f.errf(1, 0, "PDB info stream of %d bytes", len(info))
	}
	f.Age = le.Uint32(info[8:])
	copy(f.GUID[:], info[12:28])
	return nil
}

// GUIDString renders the GUID in registry form.
func (f *File) GUIDString() string {
	g := f.GUID
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(g[:]), le.Uint16(g[4:]), le.Uint16(g[6:]), g[8:10], g[10:16])
}

// SymbolStoreKey is the key a symbol server files this PDB under (GUID
// digits then age in hex), the same as peimage.CodeView.SymbolStoreKey of
// the matching image.
func (f *File) SymbolStoreKey() string {
	g := f.GUID
	return fmt.Sprintf("%08X%04X%04X%X%X%X", le.Uint32(g[:]), le.Uint16(g[4:]), le.Uint16(g[6:]), g[8:10], g[10:16], f.Age)
}

// Symbols returns the function and public symbols sorted by RVA.
func (f *File) Symbols() []Symbol { return f.symbols }

// Lookup returns the symbol covering rva and the offset into it.
func (f *File) Lookup(rva uint32) (Symbol, uint32, bool) { return lookup(f.symbols, rva) }

// LookupFunction returns the function covering a code address: procedures
// and public symbols marked as functions only, so a return address is
// never named after a data symbol.
func (f *File) LookupFunction(rva uint32) (Symbol, uint32, bool) { return lookup(f.functions, rva) }

func lookup(s []Symbol, rva uint32) (Symbol, uint32, bool) {
	i := sort.Search(len(s), func(i int) bool { return s[i].RVA > rva })
	if i == 0 {
		return Symbol{}, 0, false
	}
	sym := s[i-1]
	if sym.Size != 0 && rva-sym.RVA >= sym.Size {
		return Symbol{}, 0, false
	}
	return sym, rva - sym.RVA, true
}

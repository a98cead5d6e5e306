package pdb

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"sync"
)

// Symbol record kinds used here.
const (
	sConstant   = 0x1107
	sUDT        = 0x1108
	sLData32    = 0x110c
	sGData32    = 0x110d
	sPub32      = 0x110e
	sLProc32    = 0x110f
	sGProc32    = 0x1110
	sLThread32  = 0x1112
	sGThread32  = 0x1113
	sTrampoline = 0x112c
	sProcRef    = 0x1125
	sDataRef    = 0x1126
	sLProcRef   = 0x1127
	sLProc32ID  = 0x1146
	sGProc32ID  = 0x1147
)

// ErrNotFound is wrapped by the errors of name look-ups that find nothing.
var ErrNotFound = errors.New("not found")

// Module is one object file or import library the linker took code or
// data from (an entry of the DBI module list).
type Module struct {
	Name        string // the object file, or e.g. "Import:KERNEL32.dll"
	ObjectFile  string // the library it came from; the object file again when none
	Stream      int    // its symbol stream, -1 when it has none
	SymbolBytes uint32 // size of the symbol part of that stream
}

// Section is an image section header, as the linker wrote it into the PDB.
type Section struct {
	Name             string
	VirtualSize      uint32
	VirtualAddress   uint32
	SizeOfRawData    uint32
	PointerToRawData uint32
	Characteristics  uint32
}

// SectionContribution is a piece of a section that one module supplied.
type SectionContribution struct {
	Section         uint16 // 1-based section number
	Offset          uint32 // within the section
	Size            uint32
	RVA             uint32 // 0 when the section is unknown
	Characteristics uint32
	Module          int // index into Modules
}

// dbiHeader holds what the DBI stream header locates.
type dbiHeader struct {
	globals, publics, symRecords int // stream numbers, -1 when absent
	modInfo                      []byte
	secContrAt, secContrSize     int // where the section contributions are in the stream
}

// dbiStreams are the optional debug header's stream slots we use.
const (
	dbgOmapFromSrc = 4
	dbgSectionHdr  = 5
	dbgSectionOrig = 10
)

// streamIndex turns a 16-bit stream number into an index, -1 for "none".
func (f *File) streamIndex(v uint16) int {
	if v == 0xffff || int(v) >= len(f.streams) {
		return -1
	}
	return int(v)
}

// readSymbols reads the DBI stream (3): its header names the symbol record
// stream (publics and globals) and the optional debug header names the
// section header stream that maps segment:offset to RVAs. Module streams
// add procedures with their sizes.
func (f *File) readSymbols() error {
	if len(f.streams) <= 3 || f.sizes[3] == 0 {
		return nil // a PDB without DBI holds no symbols
	}
	// Read the header, the module list and the optional debug header;
	// section contributions are read when asked for, and the file, type
	// server and EC substreams (megabytes in kernel PDBs) never.
	dbi, err := f.streamRange(3, 0, 64)
	if err != nil {
		return err
	}
	if len(dbi) < 64 {
		return f.errf(3, 0, "DBI stream of %d bytes", len(dbi))
	}
	f.Age = le.Uint32(dbi[8:])
	h := dbiHeader{
		globals:    f.streamIndex(le.Uint16(dbi[12:])),
		publics:    f.streamIndex(le.Uint16(dbi[16:])),
		symRecords: f.streamIndex(le.Uint16(dbi[20:])),
	}
	sizes := [...]int{int(int32(le.Uint32(dbi[24:]))), int(int32(le.Uint32(dbi[28:]))), int(int32(le.Uint32(dbi[32:]))),
		int(int32(le.Uint32(dbi[36:]))), int(int32(le.Uint32(dbi[40:]))), int(int32(le.Uint32(dbi[52:])))}
	optSize := int(int32(le.Uint32(dbi[48:])))
	f.Machine = le.Uint16(dbi[58:])
	pos, total := 64, int(f.sizes[3])
	for _, s := range sizes {
		if s < 0 || s > total-pos {
			return f.errf(3, int64(pos), "DBI substream of %d bytes overruns the stream", s)
		}
		pos += s
	}
	if optSize < 0 || optSize > total-pos {
		return f.errf(3, int64(pos), "optional debug header of %d bytes overruns the stream", optSize)
	}
	h.secContrAt, h.secContrSize = 64+sizes[0], sizes[1]
	if h.modInfo, err = f.streamRange(3, 64, sizes[0]); err != nil {
		return err
	}
	opt, err := f.streamRange(3, pos, optSize)
	if err != nil {
		return err
	}
	dbgStream := func(slot int) int {
		if 2*slot+2 > len(opt) {
			return -1
		}
		return f.streamIndex(le.Uint16(opt[2*slot:]))
	}
	if f.sections, err = f.readSections(dbgStream(dbgSectionHdr)); err != nil {
		return err
	}
	// An image rearranged after linking (OMAP) keeps its symbols in the
	// original layout: map them through the original sections and the
	// OMAP table.
	if om := dbgStream(dbgOmapFromSrc); om >= 0 && f.sizes[om] >= 8 {
		if orig := dbgStream(dbgSectionOrig); orig >= 0 {
			if f.origSections, err = f.readSections(orig); err != nil {
				return err
			}
			b, err := f.Stream(om)
			if err != nil {
				return err
			}
			f.omap = b[:len(b)&^7]
			f.omapIndex = make([]uint32, 0, (len(f.omap)/8+omapStride-1)/omapStride)
			for i := 0; i < len(f.omap); i += 8 * omapStride {
				f.omapIndex = append(f.omapIndex, le.Uint32(f.omap[i:]))
			}
		}
	}
	f.dbi = h
	if err := f.readModules(h.modInfo); err != nil {
		return err
	}

	var procs []Symbol
	type thunk struct{ rva, size, target uint32 }
	var thunks []thunk
	read := make([]bool, len(f.streams)) // a hostile module list could name one big stream many times
	for _, m := range f.modules {
		if m.Stream < 0 || m.SymbolBytes <= 4 || read[m.Stream] {
			continue
		}
		read[m.Stream] = true
		ms, err := f.streamRange(m.Stream, 0, int(min(m.SymbolBytes, 1<<31-1))) // line information follows
		if err != nil {
			return err
		}
		if len(ms) <= 4 {
			continue
		}
		var names string // the stream as a string, made once there is a name to slice from it
		walkRecords(ms[4:], 4, func(kind uint16, p int, r []byte) {
			if kind == sTrampoline && len(r) >= 16 && le.Uint16(r) == 0 { // an incremental-linking thunk
				from, okf := f.RVA(le.Uint16(r[12:]), le.Uint32(r[4:]))
				to, okt := f.RVA(le.Uint16(r[14:]), le.Uint32(r[8:]))
				if okf && okt {
					thunks = append(thunks, thunk{from, uint32(le.Uint16(r[2:])), to})
				}
				return
			}
			if kind != sGProc32 && kind != sLProc32 && kind != sGProc32ID && kind != sLProc32ID || len(r) < 36 {
				return
			}
			// parent, end, next (3×4), length, dbgStart, dbgEnd, typeIndex (4×4), offset, segment, flags, name
			length, off, seg := le.Uint32(r[12:]), le.Uint32(r[28:]), le.Uint16(r[32:])
			if a, ok := f.RVA(seg, off); ok {
				if names == "" {
					names = string(ms)
				}
				procs = append(procs, Symbol{Name: cstrAt(names, p+39), RVA: a, Size: length, Function: true, Type: TypeIndex(le.Uint32(r[24:]))})
			}
		})
	}
	if h.symRecords >= 0 {
		if f.symrec, err = f.Stream(h.symRecords); err != nil {
			return err
		}
		f.symrecStr = string(f.symrec)
		n := 0
		walkRecords(f.symrec, 0, func(kind uint16, p int, r []byte) {
			if kind == sPub32 {
				n++
			}
		})
		f.publics = make([]Symbol, 0, n)
		walkRecords(f.symrec, 0, func(kind uint16, p int, r []byte) {
			if kind != sPub32 || len(r) < 11 {
				return
			}
			flags, off, seg := le.Uint32(r), le.Uint32(r[4:]), le.Uint16(r[8:])
			if a, ok := f.RVA(seg, off); ok {
				f.publics = append(f.publics, Symbol{Name: cstrAt(f.symrecStr, p+14), RVA: a, Function: flags&2 != 0}) // CVPSF_FUNCTION
			}
		})
	}
	f.publics = sortByRVA(f.publics)
	procs = sortByRVA(procs)
	if len(thunks) > 0 {
		// Name thunks after their targets as WinDbg does: @ILT+n(target),
		// n counted from the first thunk.
		first := slices.MinFunc(thunks, func(a, b thunk) int { return int(int64(a.rva) - int64(b.rva)) }).rva
		n := len(procs)
		var buf []byte // all thunk names, made one string below
		ends := make([]int, 0, len(thunks))
		for _, t := range thunks {
			target, _, ok := lookup(procs[:n], t.target)
			if !ok || target.RVA != t.target {
				target, _, ok = lookup(f.publics, t.target)
			}
			if ok && target.RVA == t.target {
				buf = append(strconv.AppendUint(append(buf, "@ILT+"...), uint64(t.rva-first), 10), '(')
				buf = append(append(buf, target.Name...), ')')
				ends = append(ends, len(buf))
				procs = append(procs, Symbol{RVA: t.rva, Size: t.size, Function: true})
			}
		}
		names, start := string(buf), 0
		for i, end := range ends {
			procs[n+i].Name, start = names[start:end], end
		}
		procs = sortByRVA(procs)
	}
	// Merge the two sorted lists, one symbol per address; procedures come
	// first, so at a shared address their name and size win.
	f.symbols = make([]Symbol, 0, len(procs)+len(f.publics))
	nf := 0
	add := func(s Symbol) {
		if k := len(f.symbols) - 1; k >= 0 && f.symbols[k].RVA == s.RVA {
			if f.symbols[k].Size == 0 && s.Size != 0 {
				f.symbols[k].Size = s.Size
			}
			if s.Function && !f.symbols[k].Function {
				f.symbols[k].Function = true
				nf++
			}
			return
		}
		f.symbols = append(f.symbols, s)
		if s.Function {
			nf++
		}
	}
	for i, j := 0, 0; i < len(procs) || j < len(f.publics); {
		if j == len(f.publics) || i < len(procs) && procs[i].RVA <= f.publics[j].RVA {
			add(procs[i])
			i++
		} else {
			add(f.publics[j])
			j++
		}
	}
	f.functions = make([]Symbol, 0, nf)
	for _, s := range f.symbols {
		if s.Function {
			f.functions = append(f.functions, s)
		}
	}
	return nil
}

// sortByRVA returns the symbols sorted by RVA, keeping the order of those
// at the same address. It sorts packed keys (RVA, then position) with a
// radix sort instead of moving the symbols' strings around.
func sortByRVA(in []Symbol) []Symbol {
	sorted := true
	for i := 1; i < len(in) && sorted; i++ {
		sorted = in[i-1].RVA <= in[i].RVA
	}
	if sorted {
		return in
	}
	keys, tmp := make([]uint64, len(in)), make([]uint64, len(in))
	for i, s := range in {
		keys[i] = uint64(s.RVA)<<32 | uint64(i)
	}
	// Four stable passes over the RVA's bytes, lowest first.
	for shift := 32; shift < 64; shift += 8 {
		var count [257]int
		for _, k := range keys {
			count[k>>shift&0xff+1]++
		}
		for d := 1; d < len(count); d++ {
			count[d] += count[d-1]
		}
		for _, k := range keys {
			d := k >> shift & 0xff
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	out := make([]Symbol, len(in))
	for i, k := range keys {
		out[i] = in[uint32(k)]
	}
	return out
}

// readSections reads a stream of 40-byte IMAGE_SECTION_HEADERs.
func (f *File) readSections(stream int) ([]Section, error) {
	if stream < 0 {
		return nil, nil
	}
	b, err := f.Stream(stream)
	if err != nil {
		return nil, err
	}
	out := make([]Section, 0, len(b)/40)
	for i := 0; i+40 <= len(b); i += 40 {
		out = append(out, Section{
			Name:             string(bytes.TrimRight(b[i:i+8], "\x00")),
			VirtualSize:      le.Uint32(b[i+8:]),
			VirtualAddress:   le.Uint32(b[i+12:]),
			SizeOfRawData:    le.Uint32(b[i+16:]),
			PointerToRawData: le.Uint32(b[i+20:]),
			Characteristics:  le.Uint32(b[i+36:]),
		})
	}
	return out, nil
}

// readModules reads the DBI module list: a 64-byte fixed part, two
// NUL-terminated names, padded to 4 bytes.
func (f *File) readModules(b []byte) error {
	str := string(b) // names are slices of one copy
	for p := 0; p+64 <= len(b); {
		stream := f.streamIndex(le.Uint16(b[p+34:]))
		m := Module{Stream: stream, SymbolBytes: le.Uint32(b[p+36:])}
		q := p + 64
		for k := 0; k < 2; k++ {
			e := bytes.IndexByte(b[q:], 0)
			if e < 0 {
				return f.errf(3, int64(64+q), "unterminated module name")
			}
			if k == 0 {
				m.Name = str[q : q+e]
			} else {
				m.ObjectFile = str[q : q+e]
			}
			q += e + 1
		}
		f.modules = append(f.modules, m)
		p = (q + 3) &^ 3
	}
	return nil
}

// Modules returns the DBI module list.
func (f *File) Modules() []Module { return f.modules }

// Sections returns the image's section headers as the PDB records them
// (after any OMAP rearrangement: the layout of the shipped image).
func (f *File) Sections() []Section { return f.sections }

// RVA converts a section:offset address (sections numbered from 1, as in
// symbol records) into an image RVA.
func (f *File) RVA(seg uint16, off uint32) (uint32, bool) {
	if f.omap != nil {
		if seg == 0 || int(seg) > len(f.origSections) {
			return 0, false
		}
		return f.mapOmap(f.origSections[seg-1].VirtualAddress + off)
	}
	if seg == 0 || int(seg) > len(f.sections) {
		return 0, false
	}
	return f.sections[seg-1].VirtualAddress + off, true
}

// omapStride is how many OMAP entries one index entry stands for.
const omapStride = 64

// mapOmap translates an original-layout RVA through the OMAP-from-source
// table (pairs of from, to sorted by from); a target of 0 means the code
// was dropped.
func (f *File) mapOmap(rva uint32) (uint32, bool) {
	n := len(f.omap) / 8
	// Find the first entry with from > rva: first among every 64th entry
	// (a small index that stays in cache), then within that run of 64.
	j, _ := slices.BinarySearch(f.omapIndex, rva+1) // rva+1 cannot wrap: from values are RVAs below 4 GB
	if rva == 0xffffffff {
		j = len(f.omapIndex)
	}
	lo, hi := max(0, (j-1)*omapStride), min(n, j*omapStride)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if le.Uint32(f.omap[8*m:]) <= rva {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, false
	}
	from, to := le.Uint32(f.omap[8*(lo-1):]), le.Uint32(f.omap[8*(lo-1)+4:])
	if to != 0 {
		return to + (rva - from), true
	}
	// Optimisers drop the padding a function starts with (e.g. a 2-byte
	// hot-patch no-op); the symbol then belongs where the next kept range
	// begins, which is where the shipped image's exports point.
	if lo < n {
		if to := le.Uint32(f.omap[8*lo+4:]); to != 0 {
			return to, true
		}
	}
	return 0, false
}

// SectionContributions returns the DBI section contribution list: which
// module supplied each piece of each section.
func (f *File) SectionContributions() ([]SectionContribution, error) {
	if f.dbi.secContrSize < 4 {
		return nil, nil
	}
	b, err := f.streamRange(3, f.dbi.secContrAt, f.dbi.secContrSize)
	if err != nil {
		return nil, err
	}
	var size int
	switch v := le.Uint32(b); v {
	case 0xeffe0000 + 19970605:
		size = 28
	case 0xeffe0000 + 20140516: // V2 adds the COFF section index
		size = 32
	default:
		return nil, f.errf(3, 0, "section contribution version %#x", v)
	}
	out := make([]SectionContribution, 0, (len(b)-4)/size)
	for p := 4; p+size <= len(b); p += size {
		c := SectionContribution{
			Section:         le.Uint16(b[p:]),
			Offset:          le.Uint32(b[p+4:]),
			Size:            le.Uint32(b[p+8:]),
			Characteristics: le.Uint32(b[p+12:]),
			Module:          int(le.Uint16(b[p+16:])),
		}
		c.RVA, _ = f.RVA(c.Section, c.Offset)
		out = append(out, c)
	}
	return out, nil
}

// symbolRVA sets the RVA of a symbol found by name, or says why it has
// none (absolute symbols such as __guard_flags hold a value, not an
// address; OMAP may have dropped the code).
func (f *File) symbolRVA(s *Symbol, seg uint16, off uint32) error {
	a, ok := f.RVA(seg, off)
	if !ok {
		return fmt.Errorf("%s: symbol %q at %04x:%08x has no address in the image", f.Name, s.Name, seg, off)
	}
	s.RVA = a
	return nil
}

// Publics returns every public symbol sorted by RVA, aliases included
// (Symbols keeps one name per address).
func (f *File) Publics() []Symbol { return f.publics }

// Public finds a public symbol by its exact (decorated) name through the
// publics hash table. For a C name that is not found, the x86 spelling with
// a leading underscore is tried too.
func (f *File) Public(name string) (Symbol, error) {
	for _, n := range []string{name, "_" + name} {
		s, ok, err := f.hashLookup(&f.publicsHash, f.dbi.publics, 28, n, func(kind uint16, r []byte, p int) (Symbol, bool, error) {
			if kind != sPub32 || len(r) < 11 {
				return Symbol{}, false, nil
			}
			s := Symbol{Name: cstrAt(f.symrecStr, p+14), Function: le.Uint32(r)&2 != 0}
			return s, s.Name == n, f.symbolRVA(&s, le.Uint16(r[8:]), le.Uint32(r[4:]))
		})
		if err != nil || ok {
			return s, err
		}
		if len(name) == 0 || name[0] == '?' || name[0] == '@' {
			break
		}
	}
	return Symbol{}, fmt.Errorf("%s: public symbol %q: %w", f.Name, name, ErrNotFound)
}

// Global finds a global or file-static variable (S_GDATA32, S_LDATA32) by
// name through the global symbol hash table; its Type is the variable's
// type index.
func (f *File) Global(name string) (Symbol, error) {
	s, ok, err := f.hashLookup(&f.globalsHash, f.dbi.globals, 0, name, func(kind uint16, r []byte, p int) (Symbol, bool, error) {
		if kind != sGData32 && kind != sLData32 || len(r) < 11 {
			return Symbol{}, false, nil
		}
		s := Symbol{Name: cstrAt(f.symrecStr, p+14), Type: TypeIndex(le.Uint32(r))}
		return s, s.Name == name, f.symbolRVA(&s, le.Uint16(r[8:]), le.Uint32(r[4:]))
	})
	if err != nil || ok {
		return s, err
	}
	return Symbol{}, fmt.Errorf("%s: global variable %q: %w", f.Name, name, ErrNotFound)
}

const (
	gsiHashVersion = 0xeffe0000 + 19990810
	gsiBuckets     = 4096 // IPHR_HASH
)

// hashStream is a GSI hash stream, read on first use.
type hashStream struct {
	once sync.Once
	data []byte
	err  error
}

// hashLookup finds name in a GSI hash table (the globals stream, or the
// publics stream after its header of skip bytes): hash the name into one
// of 4096 buckets, then compare the names of the bucket's records, which
// point into the symbol record stream. match turns a record into a symbol.
func (f *File) hashLookup(h *hashStream, stream, skip int, name string, match func(kind uint16, rec []byte, pos int) (Symbol, bool, error)) (Symbol, bool, error) {
	if stream < 0 || f.symrec == nil {
		return Symbol{}, false, nil
	}
	h.once.Do(func() { h.data, h.err = f.Stream(stream) })
	b, err := h.data, h.err
	if err != nil {
		return Symbol{}, false, err
	}
	if len(b) < skip+16 || le.Uint32(b[skip:]) != 0xffffffff || le.Uint32(b[skip+4:]) != gsiHashVersion {
		return Symbol{}, false, f.errf(stream, int64(skip), "not a symbol hash table")
	}
	hrSize, bucketSize := int(le.Uint32(b[skip+8:])), int(le.Uint32(b[skip+12:]))
	hr := skip + 16
	if hrSize < 0 || hrSize > len(b)-hr || bucketSize < 0 || bucketSize > len(b)-hr-hrSize {
		return Symbol{}, false, f.errf(stream, int64(skip+8), "hash table of %d+%d bytes overruns the stream", hrSize, bucketSize)
	}
	records := b[hr : hr+hrSize]
	buckets := b[hr+hrSize : hr+hrSize+bucketSize]
	const bitmapBytes = (gsiBuckets + 1 + 31) / 32 * 4
	if len(buckets) < bitmapBytes {
		return Symbol{}, false, nil // an empty table
	}
	bitmap, offsets := buckets[:bitmapBytes], buckets[bitmapBytes:]
	// A bucket's records run from its offset to the next used bucket's.
	bucket := int(hashV1(name) % gsiBuckets)
	if bitmap[bucket/8]&(1<<(bucket%8)) == 0 {
		return Symbol{}, false, nil
	}
	k := bits.OnesCount8(bitmap[bucket/8] & (1<<(bucket%8) - 1)) // index of the bucket among the used ones
	for _, m := range bitmap[:bucket/8] {
		k += bits.OnesCount8(m)
	}
	if 4*k+4 > len(offsets) {
		return Symbol{}, false, f.errf(stream, int64(hr+hrSize+bitmapBytes), "hash bucket %d has no offset", bucket)
	}
	// Offsets count 12-byte in-memory records; on disk they take 8.
	start, end := int(le.Uint32(offsets[4*k:]))/12, len(records)/8
	if 4*k+8 <= len(offsets) {
		end = int(le.Uint32(offsets[4*k+4:])) / 12
	}
	end = min(end, len(records)/8)
	for i := start; i < end; i++ {
		off := int(int32(le.Uint32(records[8*i:]))) - 1
		if off < 0 || off+4 > len(f.symrec) {
			continue
		}
		n := int(le.Uint16(f.symrec[off:]))
		if n < 2 || off+2+n > len(f.symrec) {
			continue
		}
		if s, ok, err := match(le.Uint16(f.symrec[off+2:]), f.symrec[off+4:off+2+n], off); ok {
			return s, true, err
		}
	}
	return Symbol{}, false, nil
}

// hashV1 is the PDB string hash of the GSI tables: XOR of the
// little-endian 32-bit words, then of a 16-bit and an 8-bit tail,
// case-folded and mixed.
func hashV1(s string) uint32 {
	var h uint32
	i := 0
	for ; i+4 <= len(s); i += 4 {
		h ^= uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
	}
	if i+2 <= len(s) {
		h ^= uint32(s[i]) | uint32(s[i+1])<<8
		i += 2
	}
	if i < len(s) {
		h ^= uint32(s[i])
	}
	h |= 0x20202020
	h ^= h >> 11
	return h ^ h>>16
}

// walkRecords calls fn for each CodeView symbol record with its kind, its
// position (base plus its offset in b) and its data after the kind.
func walkRecords(b []byte, base int, fn func(kind uint16, pos int, data []byte)) {
	for p := 0; p+4 <= len(b); {
		n := int(le.Uint16(b[p:]))
		if n < 2 || p+2+n > len(b) {
			return // a damaged tail: keep what was read
		}
		fn(le.Uint16(b[p+2:]), base+p, b[p+4:p+2+n])
		p += 2 + n
	}
}

// cstrAt returns the NUL-terminated string at s[i:] without copying.
func cstrAt(s string, i int) string {
	if i >= len(s) {
		return ""
	}
	s = s[i:]
	for j := 0; j < len(s); j++ {
		if s[j] == 0 {
			return s[:j]
		}
	}
	return s
}

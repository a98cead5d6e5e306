package pdb

import (
	"sort"
	"strings"
)

// Symbol record kinds used here.
const (
	sPub32     = 0x110e
	sGProc32   = 0x1110
	sLProc32   = 0x110f
	sGProc32ID = 0x1147
	sLProc32ID = 0x1146
)

// readSymbols reads the DBI stream (3): its header names the symbol record
// stream (publics) and the optional debug header names the section header
// stream that maps segment:offset to RVAs. Module streams add procedures
// with their sizes.
func (f *File) readSymbols() error {
	if len(f.streams) <= 3 || f.sizes[3] == 0 {
		return nil // a PDB without DBI holds no symbols
	}
	dbi, err := f.Stream(3)
	if err != nil {
		return err
	}
	if len(dbi) < 64 {
		return f.errf(3, 0, "DBI stream of %d bytes", len(dbi))
	}
	f.Age = le.Uint32(dbi[8:])
	symRecords := int(le.Uint16(dbi[20:]))
	sizes := []int{int(int32(le.Uint32(dbi[24:]))), int(int32(le.Uint32(dbi[28:]))), int(int32(le.Uint32(dbi[32:]))),
		int(int32(le.Uint32(dbi[36:]))), int(int32(le.Uint32(dbi[40:])))}
	optSize, ecSize := int(int32(le.Uint32(dbi[48:]))), int(int32(le.Uint32(dbi[52:])))
	f.Machine = le.Uint16(dbi[58:])
	pos := 64
	for _, s := range append(sizes, ecSize) {
		if s < 0 || pos+s > len(dbi) {
			return f.errf(3, int64(pos), "DBI substream of %d bytes overruns the stream", s)
		}
		pos += s
	}
	modInfo := dbi[64 : 64+sizes[0]]
	if optSize < 0 || pos+optSize > len(dbi) {
		return f.errf(3, int64(pos), "optional debug header of %d bytes overruns the stream", optSize)
	}
	opt := dbi[pos : pos+optSize]
	var sections []uint32 // VirtualAddress of each section, segment n is sections[n-1]
	if len(opt) >= 12 {
		if sh := int(le.Uint16(opt[10:])); sh != 0xffff && sh < len(f.streams) {
			b, err := f.Stream(sh)
			if err != nil {
				return err
			}
			for i := 0; i+40 <= len(b); i += 40 {
				sections = append(sections, le.Uint32(b[i+12:]))
			}
		}
	}
	rva := func(seg uint16, off uint32) (uint32, bool) {
		if seg == 0 || int(seg) > len(sections) {
			return 0, false
		}
		return sections[seg-1] + off, true
	}
	seen := map[uint32]int{}
	add := func(s Symbol) {
		if i, ok := seen[s.RVA]; ok {
			if f.symbols[i].Size == 0 && s.Size != 0 { // a procedure record knows its size
				f.symbols[i].Size = s.Size
			}
			f.symbols[i].Function = f.symbols[i].Function || s.Function
			return
		}
		seen[s.RVA] = len(f.symbols)
		f.symbols = append(f.symbols, s)
	}
	// Procedures from the module streams.
	for p := 0; p+64 <= len(modInfo); {
		stream := int(le.Uint16(modInfo[p+34:]))
		symBytes := int(le.Uint32(modInfo[p+36:]))
		// Two NUL-terminated names follow the fixed 64-byte part; entries are 4-aligned.
		q := p + 64
		for k := 0; k < 2; k++ {
			e := strings.IndexByte(string(modInfo[q:]), 0)
			if e < 0 {
				return f.errf(3, int64(64+q), "unterminated module name")
			}
			q += e + 1
		}
		p = (q + 3) &^ 3
		if stream == 0xffff || stream >= len(f.streams) || symBytes <= 4 {
			continue
		}
		ms, err := f.Stream(stream)
		if err != nil {
			return err
		}
		if symBytes > len(ms) {
			symBytes = len(ms)
		}
		f.walkRecords(stream, ms[4:symBytes], func(kind uint16, r []byte) {
			if kind != sGProc32 && kind != sLProc32 && kind != sGProc32ID && kind != sLProc32ID || len(r) < 35 {
				return
			}
			// parent, end, next (3×4), length, dbgStart, dbgEnd, typeIndex (4×4), offset, segment, flags, name
			length, off, seg := le.Uint32(r[12:]), le.Uint32(r[28:]), le.Uint16(r[32:])
			if a, ok := rva(seg, off); ok {
				add(Symbol{Name: cstr(r[35:]), RVA: a, Size: length, Function: true})
			}
		})
	}
	// Publics from the symbol record stream.
	if symRecords != 0xffff && symRecords < len(f.streams) {
		recs, err := f.Stream(symRecords)
		if err != nil {
			return err
		}
		f.walkRecords(symRecords, recs, func(kind uint16, r []byte) {
			if kind != sPub32 || len(r) < 10 {
				return
			}
			flags, off, seg := le.Uint32(r), le.Uint32(r[4:]), le.Uint16(r[8:])
			if a, ok := rva(seg, off); ok {
				add(Symbol{Name: cstr(r[10:]), RVA: a, Function: flags&2 != 0}) // CVPSF_FUNCTION
			}
		})
	}
	sort.Slice(f.symbols, func(i, j int) bool { return f.symbols[i].RVA < f.symbols[j].RVA })
	for _, s := range f.symbols {
		if s.Function {
			f.functions = append(f.functions, s)
		}
	}
	return nil
}

// walkRecords calls fn for each CodeView symbol record (length, kind, data).
func (f *File) walkRecords(stream int, b []byte, fn func(kind uint16, data []byte)) {
	for p := 0; p+4 <= len(b); {
		n := int(le.Uint16(b[p:]))
		if n < 2 || p+2+n > len(b) {
			return // a damaged tail: keep what was read
		}
		fn(le.Uint16(b[p+2:]), b[p+4:p+2+n])
		p += 2 + n
	}
}

func cstr(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

package pdb

import (
	"fmt"
	"sync"
)

// Type and ID stream numbers.
const (
	tpiStream = 2
	ipiStream = 4
)

// TypeIndex identifies a type: below 0x1000 a built-in (simple) type, from
// there on a record of the TPI stream (or, for item IDs, of the IPI
// stream).
type TypeIndex uint32

// TypeStreamInfo is the header of the TPI or IPI stream.
type TypeStreamInfo struct {
	Version     uint32    // 20040203 for every PDB written since VC 8
	Begin, End  TypeIndex // the first record's index and one past the last
	RecordBytes uint32
	HashStream  int // -1 when none
	Records     int // the records actually present
}

// typeStream is a parsed TPI or IPI stream: its records indexed by type
// index. Name indexes are built with it, as forward references need them.
type typeStream struct {
	file     string
	stream   int
	info     TypeStreamInfo
	data     []byte
	offs     []uint32 // offset in data of the record of index Begin+i
	byName   map[string]TypeIndex
	byUnique map[string]TypeIndex

	mu      sync.Mutex
	structs map[TypeIndex]*Struct // decoded layouts
}

// parseTypeStream indexes the records of a TPI/IPI stream. A damaged tail
// ends the index; a bad header is an error.
func parseTypeStream(data []byte, file string, stream int) (*typeStream, error) {
	ts := &typeStream{file: file, stream: stream, data: data}
	if len(data) < 56 {
		return nil, ts.errf(0, "type stream header of %d bytes", len(data))
	}
	hdrSize := le.Uint32(data[4:])
	ts.info = TypeStreamInfo{
		Version:     le.Uint32(data),
		Begin:       TypeIndex(le.Uint32(data[8:])),
		End:         TypeIndex(le.Uint32(data[12:])),
		RecordBytes: le.Uint32(data[16:]),
		HashStream:  -1,
	}
	if h := le.Uint16(data[20:]); h != 0xffff {
		ts.info.HashStream = int(h)
	}
	switch {
	case hdrSize < 56 || uint64(hdrSize) > uint64(len(data)):
		return nil, ts.errf(4, "header size %d", hdrSize)
	case ts.info.Begin < 0x1000 || ts.info.End < ts.info.Begin || ts.info.End >= 0x80000000:
		return nil, ts.errf(8, "type indexes %#x to %#x", ts.info.Begin, ts.info.End)
	case uint64(ts.info.RecordBytes) > uint64(len(data))-uint64(hdrSize):
		return nil, ts.errf(16, "%d bytes of records in a stream of %d", ts.info.RecordBytes, len(data))
	}
	recs := data[:int(hdrSize)+int(ts.info.RecordBytes)]
	// Never trust the claimed count beyond what the bytes can hold.
	n := min(uint64(ts.info.End-ts.info.Begin), uint64(ts.info.RecordBytes)/4)
	ts.offs = make([]uint32, 0, n)
	for p := int(hdrSize); p+4 <= len(recs) && uint64(len(ts.offs)) < n; {
		l := int(le.Uint16(recs[p:]))
		if l < 2 || p+2+l > len(recs) {
			break
		}
		ts.offs = append(ts.offs, uint32(p))
		p += 2 + l
	}
	ts.data = recs
	ts.info.Records = len(ts.offs)
	ts.indexNames()
	return ts, nil
}

func (ts *typeStream) errf(off int, format string, args ...any) error {
	return &FormatError{File: ts.file, Stream: ts.stream, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

// record returns the kind and the bytes after the kind of record ti, and
// the stream offset of those bytes.
func (ts *typeStream) record(ti TypeIndex) (kind uint16, b []byte, off int, ok bool) {
	if ts == nil || ti < ts.info.Begin || uint64(ti-ts.info.Begin) >= uint64(len(ts.offs)) {
		return 0, nil, 0, false
	}
	p := int(ts.offs[ti-ts.info.Begin])
	l := int(le.Uint16(ts.data[p:]))
	return le.Uint16(ts.data[p+2:]), ts.data[p+4 : p+2+l], p + 4, true
}

// indexNames maps the names and unique names of complete aggregate and
// enum definitions to their records, for look-up by name and to resolve
// forward references. When a name has several definitions the largest
// wins (kernel PDBs carry a cut-down _KPRCB beside the real one), then the
// first.
func (ts *typeStream) indexNames() {
	ts.byName, ts.byUnique = map[string]TypeIndex{}, map[string]TypeIndex{}
	sizes := map[TypeIndex]uint64{} // of the definitions indexed so far
	better := func(m map[string]TypeIndex, key string, ti TypeIndex, size uint64) {
		if old, dup := m[key]; !dup || size > sizes[old] {
			m[key] = ti
			sizes[ti] = size
		}
	}
	for i := range ts.offs {
		ti := ts.info.Begin + TypeIndex(i)
		kind, b, _, _ := ts.record(ti)
		a, ok := parseAggregate(kind, b)
		if !ok || a.prop&propFwdRef != 0 {
			continue
		}
		better(ts.byName, a.name, ti, a.size)
		if a.unique != "" {
			better(ts.byUnique, a.unique, ti, a.size)
		}
	}
}

// Leaf kinds of type records.
const (
	lfModifier     = 0x1001
	lfPointer      = 0x1002
	lfProcedure    = 0x1008
	lfMFunction    = 0x1009
	lfArglist      = 0x1201
	lfFieldList    = 0x1203
	lfBitfield     = 0x1205
	lfArray        = 0x1503
	lfClass        = 0x1504
	lfStructure    = 0x1505
	lfUnion        = 0x1506
	lfEnum         = 0x1507
	lfInterface    = 0x1519
	lfClass2       = 0x1608 // the 0x1608 series: a 32-bit property field and a numeric member count
	lfStructure2   = 0x1609
	lfUnion2       = 0x160a
	lfInterface2   = 0x160b
	lfFuncID       = 0x1601
	lfMFuncID      = 0x1602
	lfStringID     = 0x1605
	lfBClass       = 0x1400
	lfVBClass      = 0x1401
	lfIVBClass     = 0x1402
	lfIndex        = 0x1404
	lfVFuncTab     = 0x1409
	lfFriendCls    = 0x140a
	lfVFuncOff     = 0x140c
	lfEnumerate    = 0x1502
	lfFriendFcn    = 0x150c
	lfMember       = 0x150d
	lfSTMember     = 0x150e
	lfMethod       = 0x150f
	lfNestType     = 0x1510
	lfOneMethod    = 0x1511
	lfNestTypeEx   = 0x1512
	lfMemberModify = 0x1513
	lfBInterface   = 0x151a
)

// Property bits of aggregates.
const (
	propFwdRef     = 0x80
	propUniqueName = 0x200
)

// aggregate is the common part of LF_CLASS, LF_STRUCTURE, LF_INTERFACE,
// LF_UNION and LF_ENUM records, and of the newer LF_CLASS2 series.
type aggregate struct {
	kind         uint16
	prop         uint32
	fields       TypeIndex
	underlying   TypeIndex // enums
	size         uint64    // not for enums
	name, unique string
}

// parseAggregate decodes an aggregate record; ok is false for other kinds
// and for records too short for their fixed part.
func parseAggregate(kind uint16, b []byte) (a aggregate, ok bool) {
	a.kind = kind
	var p int
	switch kind {
	case lfClass, lfStructure, lfInterface: // count, property, field, derived, vshape, size
		if len(b) < 16 {
			return a, false
		}
		a.fields = TypeIndex(le.Uint32(b[4:]))
		sz, n, ok := numeric(b[16:])
		if !ok {
			return a, false
		}
		a.size, p = sz, 16+n
	case lfUnion: // count, property, field, size
		if len(b) < 8 {
			return a, false
		}
		a.fields = TypeIndex(le.Uint32(b[4:]))
		sz, n, ok := numeric(b[8:])
		if !ok {
			return a, false
		}
		a.size, p = sz, 8+n
	case lfEnum: // count, property, underlying type, field
		if len(b) < 12 {
			return a, false
		}
		a.underlying, a.fields, p = TypeIndex(le.Uint32(b[4:])), TypeIndex(le.Uint32(b[8:])), 12
	case lfClass2, lfStructure2, lfInterface2, lfUnion2:
		// property (32 bits), field, then for classes derived and vshape;
		// then count and size as numeric leaves.
		p = 16
		if kind == lfUnion2 {
			p = 8
		}
		if len(b) < p {
			return a, false
		}
		a.prop, a.fields = le.Uint32(b), TypeIndex(le.Uint32(b[4:]))
		_, n, ok := numeric(b[p:])
		if !ok {
			return a, false
		}
		sz, m, ok := numeric(b[p+n:])
		if !ok {
			return a, false
		}
		a.size, p = sz, p+n+m
	default:
		return a, false
	}
	if kind < lfClass2 {
		a.prop = uint32(le.Uint16(b[2:]))
	}
	a.name, p = cstring(b, p)
	if a.prop&propUniqueName != 0 {
		a.unique, _ = cstring(b, p)
	}
	return a, true
}

// cstring returns the NUL-terminated string at b[p:] (the rest of b when
// unterminated) and the position after it.
func cstring(b []byte, p int) (string, int) {
	if p >= len(b) {
		return "", len(b)
	}
	for i := p; i < len(b); i++ {
		if b[i] == 0 {
			return string(b[p:i]), i + 1
		}
	}
	return string(b[p:]), len(b)
}

// numeric decodes a numeric leaf: a value below 0x8000 is itself,
// otherwise a leaf kind says what follows. It returns the value (signed
// kinds sign-extended), the bytes used and whether it was understood.
func numeric(b []byte) (uint64, int, bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	v := le.Uint16(b)
	if v < 0x8000 {
		return uint64(v), 2, true
	}
	b = b[2:]
	var n int
	switch v {
	case 0x8000: // LF_CHAR
		n = 1
	case 0x8001, 0x8002, 0x801c: // LF_SHORT, LF_USHORT, LF_REAL16
		n = 2
	case 0x8003, 0x8004, 0x8005: // LF_LONG, LF_ULONG, LF_REAL32
		n = 4
	case 0x800b: // LF_REAL48
		n = 6
	case 0x8006, 0x8009, 0x800a, 0x800c, 0x801a: // LF_REAL64, LF_QUADWORD, LF_UQUADWORD, LF_COMPLEX32, LF_DATE
		n = 8
	case 0x8007: // LF_REAL80
		n = 10
	case 0x8008, 0x800d, 0x8017, 0x8018, 0x8019: // LF_REAL128, LF_COMPLEX64, LF_OCTWORD, LF_UOCTWORD, LF_DECIMAL
		n = 16
	case 0x800e: // LF_COMPLEX80
		n = 20
	case 0x800f: // LF_COMPLEX128
		n = 32
	case 0x8010: // LF_VARSTRING: a counted string
		if len(b) < 2 || int(le.Uint16(b)) > len(b)-2 {
			return 0, 0, false
		}
		return 0, 4 + int(le.Uint16(b)), true
	case 0x801b: // LF_UTF8STRING
		_, n := cstring(b, 0)
		return 0, 2 + n, true
	default:
		return 0, 0, false
	}
	if len(b) < n {
		return 0, 0, false
	}
	switch v {
	case 0x8000:
		return uint64(int64(int8(b[0]))), 3, true
	case 0x8001:
		return uint64(int64(int16(le.Uint16(b)))), 4, true
	case 0x8002:
		return uint64(le.Uint16(b)), 4, true
	case 0x8003:
		return uint64(int64(int32(le.Uint32(b)))), 6, true
	case 0x8004:
		return uint64(le.Uint32(b)), 6, true
	case 0x8009, 0x800a, 0x8017, 0x8018: // 128-bit values keep their low half
		return le.Uint64(b), 2 + n, true
	}
	return 0, 2 + n, true
}

// types parses the TPI stream on first use.
func (f *File) types() (*typeStream, error) {
	f.tpiOnce.Do(func() {
		f.tpi, f.tpiErr = f.loadTypeStream(tpiStream)
	})
	return f.tpi, f.tpiErr
}

// ids parses the IPI stream on first use.
func (f *File) ids() (*typeStream, error) {
	f.ipiOnce.Do(func() {
		f.ipi, f.ipiErr = f.loadTypeStream(ipiStream)
	})
	return f.ipi, f.ipiErr
}

func (f *File) loadTypeStream(i int) (*typeStream, error) {
	if i >= len(f.streams) || f.sizes[i] == 0 {
		return nil, f.errf(i, 0, "the PDB has no type stream %d", i)
	}
	b, err := f.Stream(i)
	if err != nil {
		return nil, err
	}
	return parseTypeStream(b, f.Name, i)
}

// TypeInfo returns the TPI stream header (parsing the type records).
func (f *File) TypeInfo() (TypeStreamInfo, error) {
	ts, err := f.types()
	if err != nil {
		return TypeStreamInfo{}, err
	}
	return ts.info, nil
}

// IDInfo returns the IPI (item ID) stream header.
func (f *File) IDInfo() (TypeStreamInfo, error) {
	ts, err := f.ids()
	if err != nil {
		return TypeStreamInfo{}, err
	}
	return ts.info, nil
}

// IDName returns the name an IPI record carries: the function of an
// LF_FUNC_ID or LF_MFUNC_ID (the type of S_GPROC32_ID procedures), or the
// text of an LF_STRING_ID.
func (f *File) IDName(id TypeIndex) (string, error) {
	ts, err := f.ids()
	if err != nil {
		return "", err
	}
	kind, b, off, ok := ts.record(id)
	if !ok {
		return "", fmt.Errorf("%s: item id %#x: %w", f.Name, uint32(id), ErrNotFound)
	}
	switch {
	case (kind == lfFuncID || kind == lfMFuncID) && len(b) >= 8: // scope or class, type, name
		s, _ := cstring(b, 8)
		return s, nil
	case kind == lfStringID && len(b) >= 4: // substring list, text
		s, _ := cstring(b, 4)
		return s, nil
	}
	return "", ts.errf(off, "item id %#x is a record of kind %#x, not a function or string id", uint32(id), kind)
}

package pdb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Struct is the layout of a structure, class or union.
type Struct struct {
	Name   string
	Kind   string    // "struct", "class", "union" or "interface"
	Index  TypeIndex // the defining record
	Size   uint64
	Fields []Field // data members in declaration order; static members are left out
	Bases  []Base
}

// Field is a data member.
type Field struct {
	Name     string
	Offset   uint64    // from the start of the structure
	Type     TypeIndex // for a bit field, the type it is carved from
	TypeName string    // in C syntax, e.g. "unsigned long", "_LIST_ENTRY*", "unsigned char[15]"
	Size     uint64    // bytes of Type
	BitPos   uint8     // bit fields: first bit within the unit at Offset
	BitLen   uint8     // bit fields: width in bits; 0 for ordinary members
}

// Base is a base class.
type Base struct {
	Type    TypeIndex
	Name    string
	Offset  uint64 // 0 for virtual bases, whose offset is only known at run time
	Virtual bool
}

// maxDepth bounds how deep type references are followed, so that cyclic
// or absurdly nested records end instead of looping.
const maxDepth = 24

// Struct returns the layout of the structure, class or union with this
// name (e.g. "_EPROCESS"); of several complete definitions, the largest.
// The result is shared between callers and must not be modified.
func (f *File) Struct(name string) (*Struct, error) {
	ts, err := f.types()
	if err != nil {
		return nil, err
	}
	return ts.structNamed(name)
}

// StructAt returns the layout of the aggregate of type index ti, following
// a forward reference to its definition. The result is shared, like
// Struct's.
func (f *File) StructAt(ti TypeIndex) (*Struct, error) {
	ts, err := f.types()
	if err != nil {
		return nil, err
	}
	return ts.structAt(ti)
}

// TypeName names type ti in C syntax; simple types by their C names.
func (f *File) TypeName(ti TypeIndex) (string, error) {
	ts, err := f.types()
	if err != nil {
		return "", err
	}
	return ts.name(ti, 0), nil
}

// TypeSize returns the size in bytes of type ti (0 when it has none, like
// void or a function, or when it cannot be known).
func (f *File) TypeSize(ti TypeIndex) (uint64, error) {
	ts, err := f.types()
	if err != nil {
		return 0, err
	}
	return ts.size(ti, 0), nil
}

// FieldOffset returns the offset of a member within a structure. The path
// may descend into embedded structures ("Pcb.DirectoryTableBase"), index
// arrays ("ExceptionInformation[2]") and finds members of base classes.
// For a bit field it is the offset of the unit holding the bits (Struct
// gives their position).
func (f *File) FieldOffset(structName, path string) (uint64, error) {
	ts, err := f.types()
	if err != nil {
		return 0, err
	}
	s, err := ts.structNamed(structName)
	if err != nil {
		return 0, err
	}
	var off uint64
	parts := strings.Split(path, ".")
	for i, part := range parts {
		name, idx, hasIdx, err := splitIndex(part)
		if err != nil {
			return 0, fmt.Errorf("%s: %s.%s: %w", ts.file, structName, path, err)
		}
		fld, ok := ts.findField(s, name, map[TypeIndex]bool{})
		if !ok {
			return 0, fmt.Errorf("%s: %s has no member %q: %w", ts.file, s.Name, name, ErrNotFound)
		}
		off += fld.Offset
		t := ts.strip(fld.Type)
		if hasIdx {
			kind, b, _, _ := ts.record(t)
			if kind != lfArray || len(b) < 8 {
				return 0, fmt.Errorf("%s: %s.%s is not an array", ts.file, s.Name, name)
			}
			elem := TypeIndex(le.Uint32(b))
			n, _, _ := numeric(b[8:])
			es := ts.size(elem, 0)
			if es == 0 || idx >= n/es {
				return 0, fmt.Errorf("%s: %s.%s[%d] is out of bounds", ts.file, s.Name, name, idx)
			}
			off += idx * es
			t = ts.strip(elem)
		}
		if i == len(parts)-1 {
			break
		}
		if s, err = ts.structAt(t); err != nil {
			return 0, fmt.Errorf("%s.%s: %w", structName, strings.Join(parts[:i+1], "."), err)
		}
	}
	return off, nil
}

// splitIndex splits "Name[3]" into "Name", 3.
func splitIndex(part string) (string, uint64, bool, error) {
	i := strings.IndexByte(part, '[')
	if i < 0 {
		return part, 0, false, nil
	}
	if !strings.HasSuffix(part, "]") {
		return "", 0, false, fmt.Errorf("bad index in %q", part)
	}
	n, err := strconv.ParseUint(part[i+1:len(part)-1], 0, 64)
	if err != nil {
		return "", 0, false, fmt.Errorf("bad index in %q", part)
	}
	return part[:i], n, true, nil
}

// findField finds a member of s or, failing that, of its non-virtual base
// classes. Each base is searched once: C++ rejects a member name that two
// paths reach, and hostile records could otherwise branch without end.
func (ts *typeStream) findField(s *Struct, name string, seen map[TypeIndex]bool) (Field, bool) {
	for _, fl := range s.Fields {
		if fl.Name == name {
			return fl, true
		}
	}
	for _, b := range s.Bases {
		if b.Virtual || seen[b.Type] {
			continue
		}
		seen[b.Type] = true
		bs, err := ts.structAt(b.Type)
		if err != nil {
			continue
		}
		if fl, ok := ts.findField(bs, name, seen); ok {
			fl.Offset += b.Offset
			return fl, true
		}
	}
	return Field{}, false
}

// strip follows modifiers (const, volatile) to the type they qualify.
func (ts *typeStream) strip(ti TypeIndex) TypeIndex {
	for range maxDepth {
		kind, b, _, _ := ts.record(ti)
		if kind != lfModifier || len(b) < 4 {
			break
		}
		ti = TypeIndex(le.Uint32(b))
	}
	return ti
}

// resolve turns a forward reference into its definition when the PDB has
// one (by unique name when the record has it, else by name).
func (ts *typeStream) resolve(ti TypeIndex) TypeIndex {
	kind, b, _, _ := ts.record(ti)
	a, ok := parseAggregate(kind, b)
	if !ok || a.prop&propFwdRef == 0 {
		return ti
	}
	if a.unique != "" {
		if d, ok := ts.byUnique[a.unique]; ok {
			return d
		}
	}
	if d, ok := ts.byName[a.name]; ok {
		return d
	}
	return ti
}

// errForwardOnly is wrapped when a type is only declared.
var errForwardOnly = errors.New("only a forward declaration, no definition")

func (ts *typeStream) structNamed(name string) (*Struct, error) {
	ti, ok := ts.byName[name]
	if !ok {
		for i := range ts.offs { // declared but never defined?
			kind, b, _, _ := ts.record(ts.info.Begin + TypeIndex(i))
			if a, ok := parseAggregate(kind, b); ok && a.name == name {
				return nil, fmt.Errorf("%s: type %q: %w", ts.file, name, errForwardOnly)
			}
		}
		return nil, fmt.Errorf("%s: type %q: %w", ts.file, name, ErrNotFound)
	}
	return ts.structAt(ti)
}

// structAt returns the layout of aggregate ti, decoded once and then
// shared: analyses ask for the same few kernel structures again and again.
func (ts *typeStream) structAt(ti TypeIndex) (*Struct, error) {
	ti = ts.resolve(ts.strip(ti))
	ts.mu.Lock()
	s, ok := ts.structs[ti]
	ts.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := ts.decodeStruct(ti)
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	if ts.structs == nil {
		ts.structs = map[TypeIndex]*Struct{}
	}
	ts.structs[ti] = s
	ts.mu.Unlock()
	return s, nil
}

func (ts *typeStream) decodeStruct(ti TypeIndex) (*Struct, error) {
	kind, b, off, ok := ts.record(ti)
	if !ok {
		return nil, fmt.Errorf("%s: type %s is not a structure: %w", ts.file, ti, ErrNotFound)
	}
	a, ok := parseAggregate(kind, b)
	if !ok || kind == lfEnum {
		return nil, fmt.Errorf("%s: type %s (%s) is not a structure", ts.file, ti, ts.name(ti, 0))
	}
	if a.prop&propFwdRef != 0 {
		return nil, fmt.Errorf("%s: type %q: %w", ts.file, a.name, errForwardOnly)
	}
	s := &Struct{Name: a.name, Index: ti, Size: a.size, Kind: kindName(kind)}
	err := ts.fieldList(a.fields, func(kind uint16, m member) {
		switch kind {
		case lfMember:
			fl := Field{Name: m.name, Offset: m.offset, Type: m.typ}
			if k, b, _, _ := ts.record(ts.strip(m.typ)); k == lfBitfield && len(b) >= 6 {
				fl.Type, fl.BitLen, fl.BitPos = TypeIndex(le.Uint32(b)), b[4], b[5]
			}
			fl.TypeName, fl.Size = ts.name(fl.Type, 0), ts.size(fl.Type, 0)
			s.Fields = append(s.Fields, fl)
		case lfBClass, lfBInterface:
			s.Bases = append(s.Bases, Base{Type: m.typ, Name: ts.name(m.typ, 0), Offset: m.offset})
		case lfVBClass, lfIVBClass:
			s.Bases = append(s.Bases, Base{Type: m.typ, Name: ts.name(m.typ, 0), Virtual: true})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s (type %s at offset %#x): %w", a.name, ti, off, err)
	}
	return s, nil
}

func kindName(kind uint16) string {
	switch kind {
	case lfClass, lfClass2:
		return "class"
	case lfUnion, lfUnion2:
		return "union"
	case lfInterface, lfInterface2:
		return "interface"
	}
	return "struct"
}

// member is what a field list entry says, as far as layouts need it.
type member struct {
	name   string
	typ    TypeIndex
	offset uint64
}

// fieldList calls fn for each entry of an LF_FIELDLIST, following LF_INDEX
// continuations. Entries whose layout is known but uninteresting (methods,
// nested types, enumerators, vtable pointers) are skipped; an unknown entry
// ends the list with an error, as its length cannot be known.
func (ts *typeStream) fieldList(ti TypeIndex, fn func(kind uint16, m member)) error {
	var seen map[TypeIndex]bool // continuations visited, made when there is one
	for first, hop := ti, 0; ti != 0; hop++ {
		kind, b, base, ok := ts.record(ti)
		if !ok || kind != lfFieldList {
			return ts.errf(base, "field list %s is a record of kind %#x", ti, kind)
		}
		if hop > 0 {
			if seen == nil {
				seen = map[TypeIndex]bool{first: true}
			}
			if seen[ti] {
				return ts.errf(base, "field list continuations loop back to %s", ti)
			}
			seen[ti] = true
		}
		next := TypeIndex(0)
		for p := 0; p < len(b); {
			if b[p] >= 0xf0 { // LF_PADn: skip to the next 4-byte boundary
				p += max(int(b[p]&0x0f), 1)
				continue
			}
			if p+2 > len(b) {
				return ts.errf(base+p, "truncated field list entry")
			}
			k := le.Uint16(b[p:])
			q, m, err := fieldEntry(k, b, p+2)
			if err != nil {
				return ts.errf(base+p, "field list entry of kind %#x: %v", k, err)
			}
			if k == lfIndex {
				next = m.typ
			} else {
				fn(k, m)
			}
			p = q
		}
		ti = next
	}
	return nil
}

// fieldEntry decodes the field list entry of kind k whose data starts at
// b[p:], returning the position after it.
func fieldEntry(k uint16, b []byte, p int) (int, member, error) {
	var m member
	need := func(n int) error {
		if p+n > len(b) {
			return fmt.Errorf("needs %d bytes, %d left", n, len(b)-p)
		}
		return nil
	}
	num := func() (uint64, error) {
		v, n, ok := numeric(b[p:])
		if !ok {
			return 0, errors.New("bad numeric leaf")
		}
		p += n
		return v, nil
	}
	name := func() {
		m.name, p = cstring(b, p)
	}
	var err error
	switch k {
	case lfMember: // attributes, type, offset, name
		if err = need(6); err == nil {
			m.typ = TypeIndex(le.Uint32(b[p+2:]))
			p += 6
			if m.offset, err = num(); err == nil {
				name()
			}
		}
	case lfBClass, lfBInterface: // attributes, type, offset
		if err = need(6); err == nil {
			m.typ = TypeIndex(le.Uint32(b[p+2:]))
			p += 6
			m.offset, err = num()
		}
	case lfVBClass, lfIVBClass: // attributes, base type, vbptr type, vbptr offset, vbtable index
		if err = need(10); err == nil {
			m.typ = TypeIndex(le.Uint32(b[p+2:]))
			p += 10
			if _, err = num(); err == nil {
				_, err = num()
			}
		}
	case lfSTMember, lfNestType, lfNestTypeEx, lfFriendFcn, lfMemberModify: // 2 bytes, type, name
		if err = need(6); err == nil {
			m.typ = TypeIndex(le.Uint32(b[p+2:]))
			p += 6
			name()
		}
	case lfMethod: // count, method list, name
		if err = need(6); err == nil {
			p += 6
			name()
		}
	case lfOneMethod: // attributes, type, [vtable offset], name
		if err = need(6); err == nil {
			attr := le.Uint16(b[p:])
			p += 6
			if mp := attr >> 2 & 7; mp == 4 || mp == 6 { // introducing virtual: has a vtable offset
				if err = need(4); err == nil {
					p += 4
				}
			}
			if err == nil {
				name()
			}
		}
	case lfEnumerate: // attributes, value, name
		if err = need(2); err == nil {
			p += 2
			if _, err = num(); err == nil {
				name()
			}
		}
	case lfVFuncTab, lfFriendCls, lfIndex: // padding, type
		if err = need(6); err == nil {
			m.typ = TypeIndex(le.Uint32(b[p+2:]))
			p += 6
		}
	case lfVFuncOff: // padding, type, offset
		if err = need(10); err == nil {
			p += 10
		}
	default:
		err = errors.New("unknown kind")
	}
	return p, m, err
}

// String names a simple type the way CodeView does ("T_ULONG",
// "T_64PUCHAR"); other indexes print in hex.
func (t TypeIndex) String() string {
	if t < 0x1000 {
		if st, ok := simpleTypes[uint8(t)]; ok {
			if mode := (t >> 8) & 0xf; mode == 0 {
				return "T_" + st.name
			} else if int(mode) < len(pointerModes) && pointerModes[mode].prefix != "" {
				return "T_" + pointerModes[mode].prefix + st.name
			}
		}
	}
	return fmt.Sprintf("%#x", uint32(t))
}

// simpleType describes a built-in type (the low byte of a simple index).
type simpleType struct {
	name, c string
	size    uint8
}

var simpleTypes = map[uint8]simpleType{
	0x00: {"NOTYPE", "<no type>", 0}, 0x03: {"VOID", "void", 0}, 0x08: {"HRESULT", "HRESULT", 4},
	0x10: {"CHAR", "signed char", 1}, 0x20: {"UCHAR", "unsigned char", 1}, 0x70: {"RCHAR", "char", 1},
	0x71: {"WCHAR", "wchar_t", 2}, 0x7a: {"CHAR16", "char16_t", 2}, 0x7b: {"CHAR32", "char32_t", 4}, 0x7c: {"CHAR8", "char8_t", 1},
	0x68: {"INT1", "__int8", 1}, 0x69: {"UINT1", "unsigned __int8", 1},
	0x11: {"SHORT", "short", 2}, 0x21: {"USHORT", "unsigned short", 2}, 0x72: {"INT2", "__int16", 2}, 0x73: {"UINT2", "unsigned __int16", 2},
	0x12: {"LONG", "long", 4}, 0x22: {"ULONG", "unsigned long", 4}, 0x74: {"INT4", "int", 4}, 0x75: {"UINT4", "unsigned int", 4},
	0x13: {"QUAD", "__int64", 8}, 0x23: {"UQUAD", "unsigned __int64", 8}, 0x76: {"INT8", "__int64", 8}, 0x77: {"UINT8", "unsigned __int64", 8},
	0x14: {"OCT", "__int128", 16}, 0x24: {"UOCT", "unsigned __int128", 16}, 0x78: {"INT16", "__int128", 16}, 0x79: {"UINT16", "unsigned __int128", 16},
	0x46: {"REAL16", "_Float16", 2}, 0x40: {"REAL32", "float", 4}, 0x45: {"REAL32PP", "float", 4}, 0x44: {"REAL48", "__real48", 6},
	0x41: {"REAL64", "double", 8}, 0x42: {"REAL80", "long double", 10}, 0x43: {"REAL128", "__float128", 16},
	0x50: {"CPLX32", "_Complex float", 8}, 0x51: {"CPLX64", "_Complex double", 16}, 0x52: {"CPLX80", "_Complex long double", 20}, 0x53: {"CPLX128", "_Complex __float128", 32},
	0x30: {"BOOL08", "bool", 1}, 0x31: {"BOOL16", "__bool16", 2}, 0x32: {"BOOL32", "__bool32", 4}, 0x33: {"BOOL64", "__bool64", 8},
}

// pointerModes are the pointer kinds of simple indexes (bits 8-11).
var pointerModes = [...]struct {
	prefix string
	size   uint8
}{{"", 0}, {"P", 2}, {"PF", 4}, {"PH", 4}, {"32P", 4}, {"32PF", 6}, {"64P", 8}}

// name renders type ti in C syntax.
func (ts *typeStream) name(ti TypeIndex, depth int) string {
	budget := 500 // records visited: argument lists make the type graph branch
	return ts.render(ti, depth, &budget)
}

func (ts *typeStream) render(ti TypeIndex, depth int, budget *int) string {
	if ti < 0x1000 {
		st, ok := simpleTypes[uint8(ti)]
		mode := int(ti>>8) & 0xf
		switch {
		case !ok || mode >= len(pointerModes) || ti>>12 != 0:
			return ti.String()
		case mode != 0:
			return st.c + "*"
		}
		return st.c
	}
	if *budget--; depth >= maxDepth || *budget < 0 {
		return "..."
	}
	kind, b, _, ok := ts.record(ti)
	if !ok {
		return fmt.Sprintf("<type %s>", ti)
	}
	if a, ok := parseAggregate(kind, b); ok {
		return a.name
	}
	switch {
	case kind == lfPointer && len(b) >= 8:
		attr := le.Uint32(b[4:])
		to := TypeIndex(le.Uint32(b))
		suffix := "*"
		switch attr >> 5 & 7 { // pointer mode
		case 1:
			suffix = "&"
		case 4:
			suffix = "&&"
		}
		if k, fb, _, _ := ts.record(to); (k == lfProcedure || k == lfMFunction) && len(fb) >= 4 {
			return ts.render(TypeIndex(le.Uint32(fb)), depth+1, budget) + " (" + suffix + ")" + ts.args(k, fb, depth+1, budget)
		}
		return ts.render(to, depth+1, budget) + suffix
	case kind == lfModifier && len(b) >= 6:
		var q string
		if attr := le.Uint16(b[4:]); attr&1 != 0 {
			q += "const "
		} else if attr&2 != 0 {
			q += "volatile "
		}
		return q + ts.render(TypeIndex(le.Uint32(b)), depth+1, budget)
	case kind == lfArray && len(b) >= 10:
		elem := TypeIndex(le.Uint32(b))
		en := ts.render(elem, depth+1, budget)
		total, _, _ := numeric(b[8:])
		dim := "[]"
		if es := ts.size(elem, depth+1); es != 0 {
			dim = "[" + strconv.FormatUint(total/es, 10) + "]"
		}
		if i := strings.IndexByte(en, '['); i >= 0 { // an array of arrays: the outer bound comes first
			return en[:i] + dim + en[i:]
		}
		return en + dim
	case kind == lfBitfield && len(b) >= 6:
		return ts.render(TypeIndex(le.Uint32(b)), depth+1, budget)
	case (kind == lfProcedure || kind == lfMFunction) && len(b) >= 4:
		return ts.render(TypeIndex(le.Uint32(b)), depth+1, budget) + " " + ts.args(kind, b, depth+1, budget)
	}
	return fmt.Sprintf("<type %s, kind %#x>", ti, kind)
}

// args renders the parameter list of a procedure or member function.
func (ts *typeStream) args(kind uint16, b []byte, depth int, budget *int) string {
	at := 8 // LF_PROCEDURE: return type, call, attributes, count, arglist
	if kind == lfMFunction {
		at = 16 // return, class, this, call, attributes, count, arglist
	}
	if len(b) < at+4 || depth >= maxDepth || *budget < 0 {
		return "(...)"
	}
	k, l, _, _ := ts.record(TypeIndex(le.Uint32(b[at:])))
	if k != lfArglist || len(l) < 4 {
		return "()"
	}
	n := min(int(le.Uint32(l)), (len(l)-4)/4)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = ts.render(TypeIndex(le.Uint32(l[4+4*i:])), depth+1, budget)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// size returns the size in bytes of type ti.
func (ts *typeStream) size(ti TypeIndex, depth int) uint64 {
	if ti < 0x1000 {
		st, ok := simpleTypes[uint8(ti)]
		mode := int(ti>>8) & 0xf
		switch {
		case !ok || mode >= len(pointerModes) || ti>>12 != 0:
			return 0
		case mode != 0:
			return uint64(pointerModes[mode].size)
		}
		return uint64(st.size)
	}
	if depth >= maxDepth {
		return 0
	}
	ti = ts.resolve(ti)
	kind, b, _, _ := ts.record(ti)
	if a, ok := parseAggregate(kind, b); ok {
		if kind == lfEnum {
			return ts.size(a.underlying, depth+1)
		}
		return a.size
	}
	switch {
	case kind == lfPointer && len(b) >= 8:
		return uint64(le.Uint32(b[4:]) >> 13 & 0x3f)
	case kind == lfModifier && len(b) >= 4, kind == lfBitfield && len(b) >= 4:
		return ts.size(TypeIndex(le.Uint32(b)), depth+1)
	case kind == lfArray && len(b) >= 10:
		n, _, _ := numeric(b[8:])
		return n
	}
	return 0
}

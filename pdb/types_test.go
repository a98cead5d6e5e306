package pdb

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

// TestStructLayouts checks structure sizes, member offsets, types and bit
// fields read from the corpus PDBs against the layouts the Windows SDK
// headers define (x86 SimplePDB, x64 exceptions-test).
func TestStructLayouts(t *testing.T) {
	type fieldWant struct {
		path     string
		off      uint64
		typeName string // checked for top-level members when not empty
		size     uint64
	}
	cases := []struct {
		pdb, name string
		kind      string
		size      uint64
		fields    []fieldWant
	}{
		{"SimplePDB.pdb", "_CONTEXT", "struct", 0x2cc, []fieldWant{
			{"ContextFlags", 0, "unsigned long", 4}, {"Dr7", 0x18, "unsigned long", 4},
			{"FloatSave", 0x1c, "_FLOATING_SAVE_AREA", 0x70}, {"FloatSave.StatusWord", 0x20, "", 0},
			{"Eip", 0xb8, "unsigned long", 4}, {"Esp", 0xc4, "", 0}, {"ExtendedRegisters", 0xcc, "unsigned char[512]", 512},
		}},
		{"SimplePDB.pdb", "_EXCEPTION_RECORD", "struct", 0x50, []fieldWant{
			{"ExceptionRecord", 8, "_EXCEPTION_RECORD*", 4}, {"ExceptionAddress", 0xc, "void*", 4},
			{"ExceptionInformation", 0x14, "unsigned long[15]", 60}, {"ExceptionInformation[2]", 0x1c, "", 0},
		}},
		{"SimplePDB.pdb", "_EXCEPTION_POINTERS", "struct", 8, []fieldWant{{"ContextRecord", 4, "_CONTEXT*", 4}}},
		{"exceptions-test.pdb", "_CONTEXT", "struct", 0x4d0, []fieldWant{
			{"ContextFlags", 0x30, "unsigned long", 4}, {"SegCs", 0x38, "unsigned short", 2}, {"Rsp", 0x98, "unsigned __int64", 8},
			{"Rip", 0xf8, "unsigned __int64", 8}, {"FltSave", 0x100, "_XSAVE_FORMAT", 512}, {"FltSave.MxCsr", 0x118, "", 0},
			{"Xmm0", 0x1a0, "_M128A", 16}, {"Xmm0.High", 0x1a8, "", 0}, {"Xmm15", 0x290, "", 0},
			{"VectorRegister", 0x300, "_M128A[26]", 416}, {"VectorRegister[1].Low", 0x310, "", 0}, {"LastExceptionFromRip", 0x4c8, "", 0},
		}},
		{"exceptions-test.pdb", "_EXCEPTION_RECORD", "struct", 0x98, []fieldWant{
			{"ExceptionCode", 0, "unsigned long", 4}, {"ExceptionRecord", 8, "_EXCEPTION_RECORD*", 8},
			{"ExceptionAddress", 0x10, "void*", 8}, {"NumberParameters", 0x18, "unsigned long", 4},
			{"ExceptionInformation", 0x20, "unsigned __int64[15]", 120}, {"ExceptionInformation[14]", 0x90, "", 0},
		}},
		{"exceptions-test.pdb", "_GUID", "struct", 16, []fieldWant{{"Data3", 6, "unsigned short", 2}, {"Data4", 8, "unsigned char[8]", 8}}},
		{"exceptions-test.pdb", "_LIST_ENTRY", "struct", 16, []fieldWant{{"Flink", 0, "_LIST_ENTRY*", 8}, {"Blink", 8, "_LIST_ENTRY*", 8}}},
		{"exceptions-test.pdb", "_UNICODE_STRING", "struct", 16, []fieldWant{{"MaximumLength", 2, "unsigned short", 2}, {"Buffer", 8, "wchar_t*", 8}}},
		{"exceptions-test.pdb", "_TP_CALLBACK_ENVIRON_V3", "struct", 0x48, []fieldWant{
			{"CleanupGroupCancelCallback", 0x18, "void (*)(void*, void*)", 8}, {"u", 0x38, "_TP_CALLBACK_ENVIRON_V3::<unnamed-type-u>", 4},
			{"u.s", 0x38, "", 0}, {"u.Flags", 0x38, "", 0}, {"CallbackPriority", 0x3c, "_TP_CALLBACK_PRIORITY", 4}, {"Size", 0x40, "", 0},
		}},
		// A C++ class: its member comes from its base class.
		{"exceptions-test.pdb", "std::bad_typeid", "class", 0x18, []fieldWant{{"_Data", 8, "", 0}, {"_Data._DoFree", 0x10, "", 0}}},
		// This PDB's Windows structures are LF_STRUCTURE2 records.
		{"vs2019_cpp_override.pdb", "_CONTEXT", "struct", 0x2cc, []fieldWant{
			{"Eip", 0xb8, "unsigned long", 4}, {"FloatSave", 0x1c, "_FLOATING_SAVE_AREA", 0x70}, {"FloatSave.RegisterArea", 0x38, "", 0},
			{"FloatSave.RegisterArea[79]", 0x87, "", 0}, {"SegSs", 0xc8, "", 0},
		}},
		{"vs2019_cpp_override.pdb", "_EXCEPTION_RECORD", "struct", 0x50, []fieldWant{{"ExceptionInformation", 0x14, "unsigned long[15]", 60}}},
		{"vs2019_cpp_override.pdb", "std::unique_ptr<CTest,std::default_delete<CTest> >", "class", 4, []fieldWant{
			{"_Mypair", 0, "std::_Compressed_pair<std::default_delete<CTest>,CTest *,1>", 4}, {"_Mypair._Myval2", 0, "", 0},
		}},
	}
	open := cachedOpen(t)
	for _, c := range cases {
		f := open(c.pdb)
		s, err := f.Struct(c.name)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s.Size != c.size || s.Kind != c.kind || s.Name != c.name {
			t.Errorf("%s %s: %s %s of %#x bytes, want %s of %#x", c.pdb, c.name, s.Kind, s.Name, s.Size, c.kind, c.size)
		}
		for _, w := range c.fields {
			off, err := f.FieldOffset(c.name, w.path)
			if err != nil || off != w.off {
				t.Errorf("%s %s.%s at %#x (%v), want %#x", c.pdb, c.name, w.path, off, err, w.off)
			}
			if w.typeName == "" {
				continue
			}
			var got *Field
			for i := range s.Fields {
				if s.Fields[i].Name == w.path {
					got = &s.Fields[i]
				}
			}
			if got == nil || got.TypeName != w.typeName || got.Size != w.size || got.Offset != w.off {
				t.Errorf("%s %s.%s = %+v, want %s of %d bytes", c.pdb, c.name, w.path, got, w.typeName, w.size)
			}
		}
	}
}

// TestBitFieldsAndTypes checks bit positions, simple type names and base
// classes.
func TestBitFieldsAndTypes(t *testing.T) {
	open := cachedOpen(t)
	f := open("exceptions-test.pdb")
	s, err := f.Struct("_TP_CALLBACK_ENVIRON_V3::<unnamed-type-u>::<unnamed-type-s>")
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{
		{Name: "LongFunction", Type: 0x22, TypeName: "unsigned long", Size: 4, BitPos: 0, BitLen: 1},
		{Name: "Persistent", Type: 0x22, TypeName: "unsigned long", Size: 4, BitPos: 1, BitLen: 1},
		{Name: "Private", Type: 0x22, TypeName: "unsigned long", Size: 4, BitPos: 2, BitLen: 30},
	}
	if len(s.Fields) != len(want) {
		t.Fatalf("fields %+v", s.Fields)
	}
	for i, w := range want {
		if s.Fields[i] != w {
			t.Errorf("field %d = %+v, want %+v", i, s.Fields[i], w)
		}
	}
	if s.Fields[0].Type.String() != "T_ULONG" {
		t.Errorf("type %s", s.Fields[0].Type)
	}
	u, err := f.Struct("_UNICODE_STRING")
	if err != nil {
		t.Fatal(err)
	}
	if b := u.Fields[2]; b.Type.String() != "T_64PWCHAR" || b.Type != 0x671 {
		t.Errorf("Buffer is %s (%#x)", b.Type, uint32(b.Type))
	}
	bt, err := f.Struct("std::bad_typeid")
	if err != nil {
		t.Fatal(err)
	}
	if len(bt.Bases) != 1 || bt.Bases[0].Name != "std::exception" || bt.Bases[0].Offset != 0 || bt.Bases[0].Virtual {
		t.Errorf("bases %+v", bt.Bases)
	}
	for ti, name := range map[TypeIndex]string{0x0620: "T_64PUCHAR", 0x0022: "T_ULONG", 0x0403: "T_32PVOID", 0x0070: "T_RCHAR", 0x0603: "T_64PVOID", 0x1234: "0x1234"} {
		if ti.String() != name {
			t.Errorf("%#x is %s, want %s", uint32(ti), ti, name)
		}
	}
	for ti, want := range map[TypeIndex]struct {
		name string
		size uint64
	}{0x0620: {"unsigned char*", 8}, 0x0422: {"unsigned long*", 4}, 0x0013: {"__int64", 8}, 0x0003: {"void", 0}, 0x0071: {"wchar_t", 2}} {
		n, _ := f.TypeName(ti)
		sz, _ := f.TypeSize(ti)
		if n != want.name || sz != want.size {
			t.Errorf("%s: %q of %d bytes, want %q of %d", ti, n, sz, want.name, want.size)
		}
	}
}

// TestEveryAggregateParses decodes every complete structure, class and
// union of the corpus PDBs: every field list entry kind they use must be
// understood, or the entries after it would be lost.
func TestEveryAggregateParses(t *testing.T) {
	open := cachedOpen(t)
	for name, want := range map[string]struct{ aggregates, records int }{
		"SimplePDB.pdb":           {52, 395},
		"exceptions-test.pdb":     {315, 5018},
		"vs2019_cpp_override.pdb": {365, 5107},
	} {
		f := open(name)
		ts, err := f.types()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range ts.offs {
			ti := ts.info.Begin + TypeIndex(i)
			kind, b, _, _ := ts.record(ti)
			a, ok := parseAggregate(kind, b)
			if !ok || kind == lfEnum || a.prop&propFwdRef != 0 {
				continue
			}
			n++
			if _, err := ts.structAt(ti); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if n != want.aggregates || ts.info.Records != want.records || int(ts.info.End-ts.info.Begin) != want.records {
			t.Errorf("%s: %d aggregates in %d records (%s..%s), want %d in %d", name, n, ts.info.Records, ts.info.Begin, ts.info.End, want.aggregates, want.records)
		}
	}
}

// TestIDStream reads the IPI header and names procedures of the *_ID kind.
func TestIDStream(t *testing.T) {
	f := cachedOpen(t)("exceptions-test.pdb")
	if f.tpi != nil || f.ipi != nil {
		t.Error("Open parsed the type streams")
	}
	info, err := f.IDInfo()
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 20040203 || info.Begin != 0x1000 || info.End != 0x12f4 || info.Records != 0x2f4 {
		t.Errorf("IPI header %+v", info)
	}
	for id, want := range map[TypeIndex]string{0x1041: "terminate", 0x1054: "__dllonexit", 0x100d: "main.cpp"} {
		if name, err := cachedOpen(t)("SimplePDB.pdb").IDName(id); err != nil || name != want {
			t.Errorf("id %s = %q, %v; want %q", id, name, err, want)
		}
	}
	if _, err := f.IDName(0x5000); !errors.Is(err, ErrNotFound) {
		t.Errorf("id 0x5000: %v", err)
	}
	tinfo, err := f.TypeInfo()
	if err != nil || tinfo.End != 0x239a || tinfo.RecordBytes != 316312 {
		t.Errorf("TPI header %+v, %v", tinfo, err)
	}
}

// TestConcurrentUse queries one File from several goroutines: the lazy
// type, ID and hash-table loading must be race-free (go test -race).
func TestConcurrentUse(t *testing.T) {
	f, err := Open(corpus.Path(t, "pdb", "exceptions-test.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if off, err := f.FieldOffset("_CONTEXT", "Xmm0.High"); err != nil || off != 0x1a8 {
				errs <- fmt.Errorf("Xmm0.High at %#x, %v", off, err)
			}
			if _, err := f.IDInfo(); err != nil {
				errs <- err
			}
			if s, err := f.Global("__security_cookie"); err != nil || s.RVA != 0x11008 {
				errs <- fmt.Errorf("cookie %+v, %v", s, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// cachedOpen opens corpus PDBs once per test.
func cachedOpen(t *testing.T) func(name string) *File {
	files := map[string]*File{}
	t.Cleanup(func() {
		for _, f := range files {
			f.Close()
		}
	})
	return func(name string) *File {
		if f, ok := files[name]; ok {
			return f
		}
		f, err := Open(corpus.Path(t, "pdb", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
		return f
	}
}

// Hostile type streams, built by the test MSF writer.
func TestHostileTypes(t *testing.T) {
	const (
		tA       = 0x1000 + iota // struct A { A* self; B b; M m; Arr arr; } at 0x1000
		tAList                   // its field list
		tAPtr                    // A*
		tB                       // forward reference to B, never defined
		tM1                      // const M2
		tM2                      // const M1: a modifier cycle
		tArr                     // an array of itself
		tLoop                    // a field list continuing into itself
		tC                       // struct C with the looping field list
		tBad                     // struct Bad: a member whose numeric leaf is cut off
		tBadList                 //
		tArgs                    // an argument list claiming 2^32-1 entries
		tProc                    // a procedure taking them
		tPP                      // pointer to it
		tD                       // struct D { PP fn; }
		tDList
	)
	types := [][]byte{
		rec(lfStructure, u16(4), u16(0), u32(tAList), u32(0), u32(0), u16(0x20), "A"),
		fieldList(
			mem("self", tAPtr, 0), mem("b", tB, 8), mem("m", tM1, 0x10), mem("arr", tArr, 0x18),
			leaf(lfOneMethod, u16(4<<2), u32(tProc), u32(0), "virt"), // an introducing virtual: 4 extra bytes
			leaf(lfNestType, u16(0), u32(tB), "Nested"),
			leaf(lfVFuncTab, u16(0), u32(tAPtr)),
		),
		rec(lfPointer, u32(tA), u32(8<<13|0x0c)),
		rec(lfStructure, u16(0), u16(propFwdRef), u32(0), u32(0), u32(0), u16(0), "B"),
		rec(lfModifier, u32(tM2), u16(1)),
		rec(lfModifier, u32(tM1), u16(1)),
		rec(lfArray, u32(tArr), u32(0x22), u16(0x8004), u32(0xffffffff), ""),
		rec(lfFieldList, u16(lfIndex), u16(0), u32(tLoop)),
		rec(lfStructure, u16(0xffff), u16(0), u32(tLoop), u32(0), u32(0), u16(4), "C"),
		rec(lfStructure, u16(1), u16(0), u32(tBadList), u32(0), u32(0), u16(4), "Bad"),
		rec(lfFieldList, u16(lfMember), u16(3), u32(0x22), u16(0x800a), u16(0)),
		rec(lfArglist, u32(0xffffffff), u32(0x74), u32(0x22)),
		rec(lfProcedure, u32(0x74), u8(0), u8(0), u16(0xffff), u32(tArgs)),
		rec(lfPointer, u32(tProc), u32(8<<13|0x0c)),
		rec(lfStructure, u16(1), u16(0), u32(tDList), u32(0), u32(0), u16(8), "D"),
		fieldList(mem("fn", tPP, 0)),
	}
	f := newTestPDB(t, tpi(0x7ffffff0, types...)) // an absurd end index: only the records present count
	info, err := f.TypeInfo()
	if err != nil || info.Records != len(types) {
		t.Fatalf("info %+v, %v", info, err)
	}
	a, err := f.Struct("A")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, typeName string
		size           uint64
	}{{"self", "A*", 8}, {"b", "B", 0}, {"m", strings.Repeat("const ", maxDepth) + "...", 0}, {"arr", "..." + strings.Repeat("[1]", maxDepth-1) + "[]", 0xffffffff}}
	if len(a.Fields) != len(want) || a.Size != 0x20 {
		t.Fatalf("A = %+v", a)
	}
	for i, w := range want {
		if fl := a.Fields[i]; fl.Name != w.name || fl.TypeName != w.typeName || fl.Size != w.size {
			t.Errorf("field %d = %+v, want %+v", i, fl, w)
		}
	}
	if off, err := f.FieldOffset("A", "arr"); err != nil || off != 0x18 {
		t.Errorf("A.arr at %#x, %v", off, err)
	}
	for path, wantErr := range map[string]error{"b.x": errForwardOnly, "nothing": ErrNotFound, "arr[5]": nil, "self.self": nil, "m.x": nil} {
		_, err := f.FieldOffset("A", path)
		if err == nil || wantErr != nil && !errors.Is(err, wantErr) {
			t.Errorf("A.%s: %v, want %v", path, err, wantErr)
		}
	}
	if _, err := f.Struct("B"); !errors.Is(err, errForwardOnly) {
		t.Errorf("B: %v", err)
	}
	if _, err := f.Struct("Z"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Z: %v", err)
	}
	var fe *FormatError
	if _, err := f.Struct("C"); !errors.As(err, &fe) || fe.Stream != 2 {
		t.Errorf("C: %v", err)
	}
	if _, err := f.Struct("Bad"); !errors.As(err, &fe) || fe.Stream != 2 {
		t.Errorf("Bad: %v", err)
	}
	d, err := f.Struct("D")
	if err != nil || d.Fields[0].TypeName != "int (*)(int, unsigned long)" || d.Fields[0].Size != 8 {
		t.Errorf("D = %+v, %v", d, err)
	}

	// Type graphs that branch: an argument list of 64 pointers to a
	// procedure taking that same list, and a structure that is 8 times its
	// own base class.
	args := []any{u32(64)}
	for range 64 {
		args = append(args, u32(0x1001))
	}
	bases := []byte(nil)
	for range 8 {
		bases = append(bases, leaf(lfBClass, u16(3), u32(0x1005), u16(0))...)
	}
	f = newTestPDB(t, tpi(0x1007,
		rec(lfArglist, args...), // 0x1000
		rec(lfPointer, u32(0x1002), u32(8<<13|0x0c)),
		rec(lfProcedure, u32(0x74), u8(0), u8(0), u16(64), u32(0x1000)),
		rec(lfStructure, u16(1), u16(0), u32(0x1004), u32(0), u32(0), u16(8), "E"),
		fieldList(mem("f", 0x1001, 0)),
		rec(lfStructure, u16(9), u16(0), u32(0x1006), u32(0), u32(0), u16(8), "G"), // 0x1005
		fieldList(bases, mem("x", 0x74, 4)),
	))
	if e, err := f.Struct("E"); err != nil || len(e.Fields[0].TypeName) > 20000 || !strings.HasPrefix(e.Fields[0].TypeName, "int (*)(int (*)(") {
		t.Errorf("E = %+v, %v", e, err)
	}
	if _, err := f.FieldOffset("G", "y"); !errors.Is(err, ErrNotFound) {
		t.Errorf("G.y: %v", err)
	}
	if off, err := f.FieldOffset("G", "x"); err != nil || off != 4 {
		t.Errorf("G.x at %#x, %v", off, err)
	}

	// A field list claiming more bytes than the stream has ends the index;
	// the records before it stay, and the structure using it fails.
	cut := fieldList(mem("a", 0x74, 0), mem("b", 0x74, 4))
	le.PutUint16(cut, uint16(len(cut)+100))
	f = newTestPDB(t, tpi(0x1002, rec(lfStructure, u16(2), u16(0), u32(0x1001), u32(0), u32(0), u16(8), "S"), cut))
	if info, err := f.TypeInfo(); err != nil || info.Records != 1 {
		t.Errorf("cut record: %+v, %v", info, err)
	}
	if _, err := f.Struct("S"); !errors.As(err, &fe) || fe.Stream != 2 {
		t.Errorf("S with a cut field list: %v", err)
	}
	// Headers that lie.
	for name, mutate := range map[string]func(h []byte){
		"record bytes": func(h []byte) { le.PutUint32(h[16:], 1<<30) },
		"header size":  func(h []byte) { le.PutUint32(h[4:], 1<<20) },
		"begin":        func(h []byte) { le.PutUint32(h[8:], 0x20) },
	} {
		s := tpi(0x1001, types[0])
		mutate(s)
		f := newTestPDB(t, s)
		if _, err := f.Struct("A"); !errors.As(err, &fe) || fe.Stream != 2 {
			t.Errorf("%s: %v", name, err)
		}
	}
	// No type stream at all.
	if _, err := newTestPDB(t, nil).Struct("A"); !errors.As(err, &fe) {
		t.Errorf("no TPI: %v", err)
	}
}

// TestClass2Records reads the LF_STRUCTURE2 series (a 32-bit property
// field and a numeric count; kernel PDBs use them), forward references
// resolved through their unique names, and LF_ULONG numeric leaves.
func TestClass2Records(t *testing.T) {
	const fwd, unique = propFwdRef | propUniqueName, propUniqueName
	f := newTestPDB(t, tpi(0x1008,
		rec(lfStructure2, u32(fwd), u32(0), u32(0), u32(0), u16(0), u16(0), "_KPROCESS", ".?AU_KPROCESS@@"), // 0x1000
		fieldList(mem("Header", 0x1006, 0), mem("DirectoryTableBase", 0x23, 0x28)),
		rec(lfStructure2, u32(unique), u32(0x1001), u32(0), u32(0), u16(2), u16(0x438), "_KPROCESS", ".?AU_KPROCESS@@"),
		fieldList(mem("Pcb", 0x1000, 0), leaf(lfMember, u16(3), u32(0x1004), u16(0x8004), u32(0x5a8), "ImageFileName")),
		rec(lfArray, u32(0x20), u32(0x23), u16(15), ""),
		rec(lfStructure2, u32(unique), u32(0x1003), u32(0), u32(0), u16(2), u16(0x8004), u32(0xa40), "_EPROCESS", ".?AU_EPROCESS@@"),
		rec(lfUnion2, u32(0), u32(0x1007), u16(1), u16(0x18), "_DISPATCHER_HEADER"), // 0x1006
		fieldList(mem("Lock", 0x12, 0)),
	))
	s, err := f.Struct("_EPROCESS")
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind != "struct" || s.Size != 0xa40 || len(s.Fields) != 2 {
		t.Fatalf("_EPROCESS = %+v", s)
	}
	if pcb := s.Fields[0]; pcb.TypeName != "_KPROCESS" || pcb.Size != 0x438 {
		t.Errorf("Pcb = %+v", pcb)
	}
	if name := s.Fields[1]; name.Offset != 0x5a8 || name.TypeName != "unsigned char[15]" || name.Size != 15 {
		t.Errorf("ImageFileName = %+v", name)
	}
	for path, want := range map[string]uint64{"Pcb.DirectoryTableBase": 0x28, "ImageFileName": 0x5a8, "ImageFileName[14]": 0x5b6, "Pcb.Header.Lock": 0} {
		if off, err := f.FieldOffset("_EPROCESS", path); err != nil || off != want {
			t.Errorf("_EPROCESS.%s at %#x (%v), want %#x", path, off, err, want)
		}
	}
	if u, err := f.Struct("_DISPATCHER_HEADER"); err != nil || u.Kind != "union" || u.Size != 0x18 || u.Fields[0].TypeName != "long" {
		t.Errorf("union = %+v, %v", u, err)
	}

	// Two definitions of one name: the full one wins, for look-ups by name
	// and for forward references.
	f = newTestPDB(t, tpi(0x1004,
		rec(lfStructure, u16(0), u16(fwd), u32(0), u32(0), u32(0), u16(0), "_KPRCB", ".?AU_KPRCB@@"), // 0x1000
		rec(lfStructure, u16(0), u16(unique), u32(0), u32(0), u32(0), u16(0x100), "_KPRCB", ".?AU_KPRCB@@"),
		rec(lfStructure, u16(0), u16(unique), u32(0), u32(0), u32(0), u16(0x8004), u32(0x8f00), "_KPRCB", ".?AU_KPRCB@@"),
		rec(lfStructure, u16(0), u16(unique), u32(0), u32(0), u32(0), u16(0x10), "_KPRCB", ".?AU_KPRCB@@"),
	))
	if s, err := f.Struct("_KPRCB"); err != nil || s.Size != 0x8f00 || s.Index != 0x1002 {
		t.Errorf("_KPRCB = %+v, %v", s, err)
	}
	if n, err := f.TypeSize(0x1000); err != nil || n != 0x8f00 {
		t.Errorf("forward _KPRCB has %#x bytes, %v", n, err)
	}
}

func FuzzTypes(f *testing.F) {
	if root, ok := corpus.Root(); ok {
		for _, n := range []string{"SimplePDB.pdb", "exceptions-test.pdb", "vs2019_cpp_override.pdb"} {
			p, err := Open(root + "/pdb/" + n)
			if err != nil {
				continue
			}
			if b, err := p.Stream(tpiStream); err == nil && len(b) > 56 {
				b = b[:min(len(b), 16<<10)]
				le.PutUint32(b[16:], uint32(len(b)-56)) // the records kept
				f.Add(b)
			}
			p.Close()
		}
	}
	f.Add(tpi(0x1003,
		rec(lfStructure, u16(1), u16(0), u32(0x1001), u32(0), u32(0), u16(8), "S"),
		fieldList(mem("p", 0x1002, 0)),
		rec(lfPointer, u32(0x1000), u32(8<<13|0x0c))))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := parseTypeStream(data, "fuzz.pdb", tpiStream)
		if err != nil {
			return
		}
		for i := range min(len(ts.offs), 2000) {
			ti := ts.info.Begin + TypeIndex(i)
			ts.name(ti, 0)
			ts.size(ti, 0)
			if s, err := ts.structAt(ti); err == nil && len(s.Fields) > 0 {
				p := s.Fields[0].Name
				ts.structNamed(s.Name) // possibly another definition of that name
				ts.findField(s, p+"x", map[TypeIndex]bool{})
			}
		}
	})
}

// --- a tiny MSF/PDB writer for generated fixtures ---

// newTestPDB builds a PDB whose stream 2 is tpi (nil: none) and parses it.
func newTestPDB(t *testing.T, tpiStream []byte, extra ...[]byte) *File {
	t.Helper()
	info := make([]byte, 28)
	le.PutUint32(info, 20000404)
	le.PutUint32(info[8:], 1) // age
	streams := append([][]byte{nil, info, tpiStream, nil}, extra...)
	data := buildMSF(streams)
	f, err := NewFile(bytes.NewReader(data), int64(len(data)), "gen.pdb")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// buildMSF lays out streams in 512-byte blocks: superblock, two free
// block maps, then the block map, the directory and the streams.
func buildMSF(streams [][]byte) []byte {
	const bs = 512
	var blocks [][]byte
	alloc := func(b []byte) []uint32 {
		var idx []uint32
		for len(b) > 0 {
			blk := make([]byte, bs)
			n := copy(blk, b)
			b = b[n:]
			idx = append(idx, uint32(len(blocks)))
			blocks = append(blocks, blk)
		}
		return idx
	}
	blocks = make([][]byte, 3) // superblock and the free block maps
	dir := u32(uint32(len(streams)))
	var lists []byte
	for _, s := range streams {
		dir = append(dir, u32(uint32(len(s)))...)
		for _, b := range alloc(s) {
			lists = append(lists, u32(b)...)
		}
	}
	dir = append(dir, lists...)
	var mapBlock []byte
	for _, b := range alloc(dir) {
		mapBlock = append(mapBlock, u32(b)...)
	}
	mapAt := alloc(mapBlock)[0]
	sb := make([]byte, bs)
	copy(sb, msfMagic)
	le.PutUint32(sb[32:], bs)
	le.PutUint32(sb[36:], 1)
	le.PutUint32(sb[40:], uint32(len(blocks)))
	le.PutUint32(sb[44:], uint32(len(dir)))
	le.PutUint32(sb[52:], mapAt)
	blocks[0] = sb
	out := make([]byte, 0, bs*len(blocks))
	for _, b := range blocks {
		if b == nil {
			b = make([]byte, bs)
		}
		out = append(out, b...)
	}
	return out
}

// tpi builds a TPI stream holding records from index 0x1000; end is the
// end index the header claims.
func tpi(end uint32, records ...[]byte) []byte {
	var body []byte
	for _, r := range records {
		body = append(body, r...)
	}
	h := make([]byte, 56)
	le.PutUint32(h, 20040203)
	le.PutUint32(h[4:], 56)
	le.PutUint32(h[8:], 0x1000)
	le.PutUint32(h[12:], end)
	le.PutUint32(h[16:], uint32(len(body)))
	le.PutUint32(h[20:], 0xffffffff) // no hash streams
	return append(h, body...)
}

func u8(v uint8) []byte   { return []byte{v} }
func u16(v uint16) []byte { return le.AppendUint16(nil, v) }
func u32(v uint32) []byte { return le.AppendUint32(nil, v) }

// leaf encodes a field list entry or the body of a record: kind then the
// parts ([]byte as is, strings NUL-terminated).
func leaf(kind uint16, parts ...any) []byte {
	b := u16(kind)
	for _, p := range parts {
		switch p := p.(type) {
		case []byte:
			b = append(b, p...)
		case string:
			b = append(append(b, p...), 0)
		}
	}
	return b
}

// rec encodes a whole type record.
func rec(kind uint16, parts ...any) []byte { return record(leaf(kind, parts...)) }

// record prefixes a record with its length, padding it to 4 bytes.
func record(b []byte) []byte {
	for pad := (4 - (len(b)+2)%4) % 4; pad > 0; pad-- {
		b = append(b, byte(0xf0+pad))
	}
	return append(u16(uint16(len(b))), b...)
}

// fieldList joins field list entries, each padded with LF_PADn bytes.
func fieldList(entries ...[]byte) []byte {
	b := u16(lfFieldList)
	for _, e := range entries {
		b = append(b, e...)
		for pad := (4 - (len(b)+2)%4) % 4; pad > 0; pad-- {
			b = append(b, byte(0xf0+pad))
		}
	}
	return append(u16(uint16(len(b))), b...)
}

func mem(name string, ti TypeIndex, off uint16) []byte {
	return leaf(lfMember, u16(3), u32(uint32(ti)), u16(off), name)
}

// BenchmarkFirstStruct opens a PDB and answers one layout question: the
// cost of the lazy type stream parse.
func BenchmarkFirstStruct(b *testing.B) {
	path := corpus.Path(b, "pdb", "exceptions-test.pdb")
	b.ReportAllocs()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if off, err := f.FieldOffset("_CONTEXT", "Rip"); err != nil || off != 0xf8 {
			b.Fatal(off, err)
		}
		f.Close()
	}
}

package csrc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

func TestPrepare(t *testing.T) {
	src := []byte("_IRQL_requires_max_(DISPATCH_LEVEL)\n_Use_decl_annotations_\nNTSTATUS NTAPI\nFoo(_In_ PVOID p, _Out_writes_bytes_(n) PUCHAR b, IN ULONG n OPTIONAL)\n{\n    s = \"_In_ stays\"; /* _Out_ stays */ __drv_maxIRQL(2) x = _DRIVER_NAME_;\n}\n#pragma alloc_text(PAGE, Foo, Bar)\n#pragma code_seg(\"PAGE\")\n")
	out, annots, pragmas := Prepare(src)
	if len(out) != len(src) || bytes.Count(out, []byte("\n")) != bytes.Count(src, []byte("\n")) {
		t.Fatalf("Prepare moved bytes: %d vs %d", len(out), len(src))
	}
	for _, keep := range []string{"NTSTATUS", "Foo(", "PVOID p", `"_In_ stays"`, "_DRIVER_NAME_"} {
		if !bytes.Contains(out, []byte(keep)) {
			t.Errorf("lost %q:\n%s", keep, out)
		}
	}
	// Comments are blanked whole (their annotations are not recorded).
	for _, gone := range []string{"_IRQL_requires_max_", "DISPATCH_LEVEL", "NTAPI", "_Out_writes_bytes_(n)", " IN ", "OPTIONAL", "__drv_maxIRQL", "_Out_ stays"} {
		if bytes.Contains(out, []byte(gone)) {
			t.Errorf("kept %q:\n%s", gone, out)
		}
	}
	want := []struct {
		name, args string
		line, col  int
	}{
		{"_IRQL_requires_max_", "DISPATCH_LEVEL", 1, 1},
		{"_Use_decl_annotations_", "", 2, 1},
		{"NTAPI", "", 3, 10},
		{"_In_", "", 4, 5},
		{"_Out_writes_bytes_", "n", 4, 19},
		{"IN", "", 4, 51},
		{"OPTIONAL", "", 4, 62},
		{"__drv_maxIRQL", "2", 6, 41},
	}
	if len(annots) != len(want) {
		t.Fatalf("got %d annotations %+v, want %d", len(annots), annots, len(want))
	}
	for i, w := range want {
		a := annots[i]
		if a.Name != w.name || a.Args != w.args || a.Pos.Line != w.line || a.Pos.Col != w.col {
			t.Errorf("annotation %d = %s(%s) at %d:%d, want %s(%s) at %d:%d", i, a.Name, a.Args, a.Pos.Line, a.Pos.Col, w.name, w.args, w.line, w.col)
		}
	}
	if len(pragmas) != 2 || pragmas[0].Kind != "alloc_text" || pragmas[0].Section != "PAGE" || strings.Join(pragmas[0].Funcs, ",") != "Foo,Bar" || pragmas[0].Pos.Line != 8 ||
		pragmas[1].Kind != "code_seg" || pragmas[1].Section != "PAGE" {
		t.Errorf("pragmas = %+v", pragmas)
	}
}

func TestParseModel(t *testing.T) {
	if !HasFrontEnd {
		if _, err := NewParser(); err != ErrNoFrontEnd {
			t.Fatalf("NewParser without cgo: %v, want ErrNoFrontEnd", err)
		}
		t.Skip("built without cgo")
	}
	src := "DRIVER_UNLOAD Unload;\n#pragma alloc_text(PAGE, Unload)\nPVOID g;\n_IRQL_requires_(DISPATCH_LEVEL)\nVOID Dpc(_In_ PKDPC d)\n{\n#ifdef A\n    g = ExAllocatePool(NonPagedPool, 8);\n#else\n    g = NULL;\n#endif\n    if (g == NULL) { return; }\n}\nVOID Unload(PDRIVER_OBJECT o) { PAGED_CODE(); ExFreePool(g); }\n"
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f, err := p.Parse("m.c", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if f.ErrorNodes != 0 || f.Lines != 14 {
		t.Errorf("errors %d, lines %d", f.ErrorNodes, f.Lines)
	}
	if f.Roles["Unload"] != "DRIVER_UNLOAD" || f.Sections["Unload"] != "PAGE" || f.Global("g") == nil || !f.Global("g").IsPointer() {
		t.Errorf("roles %v sections %v globals %v", f.Roles, f.Sections, f.Globals)
	}
	dpc := f.Func("Dpc")
	if dpc == nil || dpc.Pos.Line != 5 || len(dpc.Annots) != 1 || dpc.Annots[0].Name != "_IRQL_requires_" || dpc.Annots[0].Args != "DISPATCH_LEVEL" {
		t.Fatalf("Dpc = %+v", dpc)
	}
	if len(dpc.Params) != 1 || dpc.Params[0].Name != "d" || dpc.Params[0].Type != "PKDPC" || len(dpc.Params[0].Annots) != 1 {
		t.Errorf("params = %+v", dpc.Params)
	}
	var names []string
	for _, c := range dpc.Calls() {
		names = append(names, c.Callee())
	}
	if strings.Join(names, ",") != "ExAllocatePool" {
		t.Errorf("calls in both #ifdef arms = %v", names)
	}
	if s := dpc.Body.Body[0]; s.Kind != SIf || !s.Preproc || s.Else == nil {
		t.Errorf("#ifdef statement = %+v", s)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("_IRQL_requires_max_(DISPATCH_LEVEL) VOID f(_In_ PVOID p) { KeAcquireSpinLock(&l, &o); }"))
	f.Add([]byte("#pragma alloc_text(PAGE, f)\n#if X\nvoid f(void){\n#else\nvoid g(void){\n#endif\n}"))
	if root, ok := corpus.Root(); ok {
		for _, rel := range []string{"driver-src/wds/tools/sdv/samples/SDV-FailDriver-WDM/driver/fail_driver1.c", "driver-src/codeql/src/drivers/general/queries/IrqlTooHigh/driver_snippet.c"} {
			if b, err := os.ReadFile(filepath.Join(root, rel)); err == nil {
				f.Add(b)
			}
		}
	}
	// Every front end this build has: the Go parser, and tree-sitter's
	// in cgo builds.
	var parsers []*Parser
	for _, fe := range []string{FrontEndGo, FrontEndTreeSitter} {
		if fe == FrontEndTreeSitter && !HasTreeSitter {
			continue
		}
		p, err := NewParserFor(fe)
		if err != nil {
			f.Fatal(err)
		}
		defer p.Close()
		parsers = append(parsers, p)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, annots, _ := Prepare(src)
		if len(out) != len(src) {
			t.Fatalf("Prepare changed the length: %d -> %d", len(src), len(out))
		}
		for _, a := range annots {
			if a.Pos.Off < 0 || a.End > len(src) || a.Pos.Off >= a.End {
				t.Fatalf("annotation %+v out of range", a)
			}
		}
		for _, p := range parsers {
			file, err := p.Parse("fuzz.c", src)
			if err != nil {
				continue
			}
			for _, fn := range file.Funcs {
				fn.Calls()
			}
			if s := file.ErrorShare(); s < 0 || s > 1 {
				t.Fatalf("error share %v", s)
			}
		}
	})
}

// A #define whose body is all annotations must not swallow the function
// after it (the grammar reads a blank-ended directive as running on).
func TestBlankedDefine(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Skip(err)
	}
	defer p.Close()
	for _, src := range []string{
		"#define PAGED_CODE_SEG __declspec(code_seg(\"PAGE\"))\r\n// comment\r\nPAGED_CODE_SEG\r\nNTSTATUS f(){\r\n return 0;\r\n}\r\n",
		"#define PAGED_CODE_SEG __declspec(code_seg(\"PAGE\"))\nNTSTATUS f(){ return 0; }\n",
	} {
		f, err := p.Parse("t.c", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Funcs) != 1 || f.Funcs[0].Name != "f" || f.ErrorNodes != 0 {
			t.Errorf("%q: %d functions, %d error nodes", src, len(f.Funcs), f.ErrorNodes)
		}
	}
}

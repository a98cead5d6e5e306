package csrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

func goParse(t testing.TB, src string) *File {
	t.Helper()
	p, err := NewParserFor(FrontEndGo)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f, err := p.Parse("t.c", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func funcNames(f *File) string {
	var names []string
	for _, fn := range f.Funcs {
		names = append(names, fn.Name)
	}
	return strings.Join(names, ",")
}

func callNames(fn *Func) string {
	if fn == nil {
		return "<no function>"
	}
	var names []string
	for _, c := range fn.Calls() {
		names = append(names, c.Callee())
	}
	return strings.Join(names, ",")
}

// firstStmt is the first statement of the function's body.
func firstStmt(fn *Func) *Stmt {
	if fn == nil || fn.Body == nil || len(fn.Body.Body) == 0 {
		return nil
	}
	return fn.Body.Body[0]
}

func TestGoFrontEnd(t *testing.T) {
	tests := []struct {
		name, src string
		funcs     string // function names, in order
		fn        string // the function whose calls are checked
		calls     string
		errors    bool // whether error nodes are expected
		check     func(t *testing.T, f *File)
	}{
		{name: "declarations and calls",
			src:   "NTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r)\n{\n    NTSTATUS s;\n    PUCHAR *p = NULL, q[4];\n    s = IoCreateDevice(d, 0, NULL, 0, 0, FALSE, &g);\n    return s;\n}\n",
			funcs: "DriverEntry", fn: "DriverEntry", calls: "IoCreateDevice",
			check: func(t *testing.T, f *File) {
				fn := f.Func("DriverEntry")
				if len(fn.Params) != 2 || fn.Params[1].Name != "r" || fn.Params[1].Type != "PUNICODE_STRING" {
					t.Errorf("params %+v", fn.Params)
				}
				d := firstStmt(fn)
				if d == nil || d.Kind != SDecl || d.Decls[0].Name != "s" || d.Decls[0].Type != "NTSTATUS" {
					t.Fatalf("first statement %+v", d)
				}
				pq := fn.Body.Body[1]
				if len(pq.Decls) != 2 || !pq.Decls[0].Pointer || pq.Decls[0].Init == nil || !pq.Decls[1].Array {
					t.Errorf("p, q = %+v", pq.Decls)
				}
				if fn.End.Line != 7 {
					t.Errorf("end line %d", fn.End.Line)
				}
			}},
		{name: "casts",
			src:   "VOID f(PVOID c)\n{\n    PFOO x = (PFOO)(ULONG_PTR)c;\n    g((PLONG)&x->n, sizeof(FOO) * 2, (ULONG)-1);\n}\n",
			funcs: "f", fn: "f", calls: "g",
			check: func(t *testing.T, f *File) {
				fn := f.Func("f")
				if in := firstStmt(fn).Decls[0].Init; in.Kind != ECast || in.Name != "PFOO" || in.X.Kind != ECast || in.X.Name != "ULONG_PTR" {
					t.Errorf("init = %s", in)
				}
				call := fn.Body.Body[1].Expr
				if got := call.String(); got != "g((PLONG)&x->n, sizeof(FOO) * 2, (ULONG)-1)" {
					t.Errorf("call = %s", got)
				}
				if a := call.Args[1]; a.Kind != EBinary || a.X.Kind != ESizeof || a.X.X == nil || a.X.X.Strip().Name != "FOO" {
					t.Errorf("sizeof(FOO) * 2 = %+v", a)
				}
			}},
		{name: "both arms of #ifdef in a body",
			src:   "VOID f(VOID)\n{\n#ifdef A\n    a();\n#elif B\n    b();\n#else\n    c();\n#endif\n}\n",
			funcs: "f", fn: "f", calls: "a,b,c",
			check: func(t *testing.T, f *File) {
				if s := firstStmt(f.Func("f")); s.Kind != SIf || !s.Preproc || s.Else == nil || s.Else.Kind != SIf {
					t.Errorf("#ifdef = %+v", s)
				}
			}},
		{name: "#if 0 is dead",
			src:   "#if 0\nVOID dead(VOID) { x(); }\n#else\nVOID live(VOID) { y(); }\n#endif\n",
			funcs: "live", fn: "live", calls: "y"},
		{name: "a header split by #if keeps the first and its body",
			src:   "#if A\nNTSTATUS f(int a)\n#else\nNTSTATUS f(int a, int b)\n#endif\n{\n    return g(a);\n}\nVOID h(VOID) { k(); }\n",
			funcs: "f,h", fn: "f", calls: "g"},
		{name: "an #if arm opening a brace",
			src:   "VOID f(VOID)\n{\n#if A\n    if (a()) {\n#else\n    if (b()) {\n#endif\n        c();\n    }\n}\nVOID g(VOID) { d(); }\n",
			funcs: "f,g", fn: "f", calls: "a,c"},
		{name: "#if around a parameter",
			src:   "VOID f(PVOID a,\n#if WIN7\n    const VOID *ctx,\n#endif\n    PVOID b)\n{\n    use(b);\n}\n",
			funcs: "f", fn: "f", calls: "use",
			check: func(t *testing.T, f *File) {
				if n := len(f.Func("f").Params); n != 3 {
					t.Errorf("%d params", n)
				}
			}},
		{name: "__try, __except, __finally and __leave",
			src:   "VOID f(PVOID p)\n{\n    __try {\n        ProbeForRead(p, 4, 1);\n        __leave;\n    } __except (EXCEPTION_EXECUTE_HANDLER) {\n        fail();\n    }\n    __try { a(); } __finally { b(); }\n}\n",
			funcs: "f", fn: "f", calls: "ProbeForRead,fail,a,b",
			check: func(t *testing.T, f *File) {
				s := firstStmt(f.Func("f"))
				if s.Kind != STry || s.Expr == nil || s.Expr.Name != "EXCEPTION_EXECUTE_HANDLER" || s.Else == nil {
					t.Errorf("try = %+v", s)
				}
			}},
		{name: "switch, loops, goto and labels",
			src:   "int f(int n)\n{\n    for (int i = 0; i < n; i++) { x(i); }\n    while (n--) y();\n    do { z(); } while (0);\n    switch (n) {\n    case 1:\n    case 2: a(); break;\n    default: b();\n    }\n    goto out;\nout:\n    return 0;\n}\n",
			funcs: "f", fn: "f", calls: "x,y,z,a,b",
			check: func(t *testing.T, f *File) {
				body := f.Func("f").Body.Body
				kinds := []StmtKind{SLoop, SLoop, SLoop, SSwitch, SGoto, SLabel}
				if len(body) != len(kinds) {
					t.Fatalf("%d statements", len(body))
				}
				for i, k := range kinds {
					if body[i].Kind != k {
						t.Errorf("statement %d kind %d, want %d", i, body[i].Kind, k)
					}
				}
				if sw := body[3]; len(sw.Body) != 3 || sw.Body[1].Kind != SCase || len(sw.Body[1].Body) != 2 || sw.Body[2].Expr != nil {
					t.Errorf("switch = %+v", sw.Body)
				}
				if l := body[5]; l.Label != "out" || len(l.Body) != 1 || l.Body[0].Kind != SReturn {
					t.Errorf("label = %+v", l)
				}
			}},
		{name: "roles, prototypes, globals and C++ members",
			src:   "DRIVER_UNLOAD Unload;\n_IRQL_requires_(PASSIVE_LEVEL) NTSTATUS Proto(PVOID);\nstatic KSPIN_LOCK Lock;\nWDF_DECLARE_CONTEXT_TYPE(CTX)\nclass C : public B {\npublic:\n    void M() { m(); }\n};\nVOID Unload(PDRIVER_OBJECT o) { u(); }\n",
			funcs: "M,Unload", fn: "Unload", calls: "u",
			check: func(t *testing.T, f *File) {
				if f.Roles["Unload"] != "DRIVER_UNLOAD" || len(f.Protos) != 1 || f.Protos[0].Name != "Proto" || len(f.Protos[0].Annots) != 1 || f.Global("Lock") == nil {
					t.Errorf("roles %v protos %+v globals %+v", f.Roles, f.Protos, f.Globals)
				}
			}},
		{name: "garbage is an error, and the next function is found",
			src:   "VOID f(VOID) { a(; ]] ); }\n@@ $$ ]]\nVOID g(VOID) { b(); }\n",
			funcs: "f,g", fn: "g", calls: "b",
			errors: true},
		{name: "an unclosed function",
			src:   "VOID f(VOID) {\n    if (x) {\n        a();\n",
			funcs: "f", fn: "f", calls: "a",
			errors: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goParse(t, tt.src)
			if got := funcNames(f); got != tt.funcs {
				t.Errorf("functions %q, want %q", got, tt.funcs)
			}
			if got := callNames(f.Func(tt.fn)); got != tt.calls {
				t.Errorf("calls in %s: %q, want %q", tt.fn, got, tt.calls)
			}
			if (f.ErrorNodes > 0) != tt.errors {
				t.Errorf("%d error nodes of %d", f.ErrorNodes, f.Nodes)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

// Hostile nesting is cut off, not followed into a stack overflow, and
// every input ends.
func TestGoFrontEndHostile(t *testing.T) {
	for _, src := range []string{
		"VOID f(VOID) { x = " + strings.Repeat("(", 200000) + "1; }",
		strings.Repeat("{", 200000),
		"VOID f(VOID) " + strings.Repeat("{ if (a) ", 100000),
		strings.Repeat("#if A\n", 50000) + "VOID f(VOID) { a(); }\n",
		strings.Repeat("#else\n", 1000) + strings.Repeat("#endif\n", 1000) + "VOID f(VOID) { a(); }\n",
		"VOID f(VOID) { x = " + strings.Repeat("-", 200000) + "1; }",
		"int a[] = " + strings.Repeat("{", 100000),
		strings.Repeat("*", 100000) + "x;",
		"\"unterminated\n'x\n#define A \\\n",
	} {
		f := goParse(t, src)
		if f.Nodes <= 0 || f.ErrorNodes > f.Nodes {
			t.Errorf("%.20q...: %d error nodes of %d", src, f.ErrorNodes, f.Nodes)
		}
	}
}

// On the corpus the Go front end finds every function tree-sitter finds.
func TestGoFrontEndCorpus(t *testing.T) {
	dir := corpus.Path(t, "driver-src")
	gp, err := NewParserFor(FrontEndGo)
	if err != nil {
		t.Fatal(err)
	}
	defer gp.Close()
	var ts *Parser
	if HasTreeSitter {
		if ts, err = NewParserFor(FrontEndTreeSitter); err != nil {
			t.Fatal(err)
		}
		defer ts.Close()
	}
	files, funcs, nodes, bad := 0, 0, 0, 0
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".c") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		g, err := gp.Parse(p, src)
		if err != nil {
			return err
		}
		files++
		funcs += len(g.Funcs)
		nodes += g.Nodes
		bad += g.ErrorNodes
		if ts == nil {
			return nil
		}
		want, err := ts.Parse(p, src)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, fn := range g.Funcs {
			have[fn.Name] = true
		}
		for _, fn := range want.Funcs {
			// tree-sitter reads "} __except (EXCEPTION_EXECUTE_HANDLER) {"
			// after a misread __try as a function definition.
			if !have[fn.Name] && fn.Name != "EXCEPTION_EXECUTE_HANDLER" {
				t.Errorf("%s: tree-sitter finds %s (line %d), the Go front end does not", p, fn.Name, fn.Pos.Line)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 || funcs < 500 {
		t.Errorf("%d files, %d functions", files, funcs)
	}
	if share := float64(bad) / float64(nodes); share > 0.001 {
		t.Errorf("error share %.4f", share)
	}
	t.Logf("%d files, %d functions, error share %.4f", files, funcs, float64(bad)/float64(nodes))
}

// Array declarations keep their first dimension, with either front end.
func TestArrayLen(t *testing.T) {
	const src = `UCHAR g[16];
void f(ULONG n)
{
    ULONG b[N][2];
    PVOID *c[4];
    UCHAR d[] = "x";
    UCHAR (*e)[8];
    int v;
}`
	fronts := []string{FrontEndGo}
	if HasTreeSitter {
		fronts = append(fronts, FrontEndTreeSitter)
	}
	for _, fe := range fronts {
		p, err := NewParserFor(fe)
		if err != nil {
			t.Fatal(err)
		}
		f, err := p.Parse("t.c", []byte(src))
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, g := range f.Globals {
			got[g.Name] = g.Len.String()
		}
		WalkStmt(f.Funcs[0].Body, func(s *Stmt) bool {
			for _, d := range s.Decls {
				got[d.Name] = d.Len.String()
			}
			return true
		})
		want := map[string]string{"g": "16", "b": "N", "c": "", "d": "", "e": "", "v": ""}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s: Len %q, want %q", fe, k, got[k], v)
			}
		}
	}
}

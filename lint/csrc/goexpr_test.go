package csrc

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// shape renders an expression with its kind, position and texts, so a
// test states the model the Go front end makes for it exactly.
func shape(e *Expr) string {
	if e == nil {
		return "nil"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d@%d:%d", e.Kind, e.Pos.Line, e.Pos.Col)
	if e.Op != "" {
		fmt.Fprintf(&b, " op=%s", e.Op)
	}
	if e.Name != "" {
		fmt.Fprintf(&b, " %q", e.Name)
	}
	var kids []string
	for _, k := range []*Expr{e.X, e.Y, e.Z} {
		if k != nil {
			kids = append(kids, shape(k))
		}
	}
	for _, a := range e.Args {
		kids = append(kids, shape(a))
	}
	if len(kids) > 0 {
		b.WriteString("(" + strings.Join(kids, " ") + ")")
	}
	return b.String()
}

// The Go front end builds the expressions of the model itself; these are
// the shapes (kinds, positions, texts) the tree builder made of the same
// syntax before, and tree-sitter's builder makes.
func TestGoExprShapes(t *testing.T) {
	tests := []struct{ expr, want string }{
		// (a + b) * c: the product starts at the parenthesis, its left
		// operand at a.
		{"(a + b) * c", `9@2:5 op=*(9@2:6 op=+(1@2:6 "a" 1@2:10 "b") 1@2:15 "c")`},
		// A parenthesised upper-case pointer typedef before one argument
		// is a cast; with two arguments it stays a call.
		{"(PFOO)(x)", `11@2:5 "PFOO"(1@2:12 "x")`},
		{"(PFOO)(x, y)", `5@2:5(1@2:6 "PFOO" 1@2:12 "x" 1@2:15 "y")`},
		{"(foo)(x)", `5@2:5(1@2:6 "foo" 1@2:11 "x")`},
		{"p->a.b[2]++", `8@2:5 op=post++(7@2:5(6@2:5 op=. "b"(6@2:5 op=-> "a"(1@2:5 "p")) 2@2:12 "2"))`},
		{"--*pp", `8@2:5 op=--(8@2:7 op=*(1@2:8 "pp"))`},
		{"x = y ? f(1, \"a  b\" \"c\") : sizeof(struct  _S)", `10@2:5 op==(1@2:5 "x" 13@2:9(1@2:9 "y" 5@2:13(1@2:13 "f" 2@2:15 "1" 4@2:18 "\"a b\" \"c\"") 12@2:32 "struct _S"))`},
		{"sizeof(x) * n", `9@2:5 op=*(12@2:5(1@2:12 "x") 1@2:17 "n")`},
		{"a, b", `14@2:5(1@2:5 "a" 1@2:8 "b")`},
		{"g((int){1, 2})", `5@2:5(1@2:5 "g" 0@2:7 "compound_literal_expression"(0@2:8 "type_descriptor"(0@2:8 "primitive_type") 15@2:12(2@2:13 "1" 2@2:16 "2")))`},
		{"g(__alignof(LONG))", `5@2:5(1@2:5 "g" 0@2:7 "alignof_expression"(1@2:17 "LONG"))`},
		{"g(__alignof(LONG *))", `5@2:5(1@2:5 "g" 0@2:7 "alignof_expression"(0@2:17 "type_descriptor"(1@2:17 "LONG" 0@2:22 "abstract_pointer_declarator")))`},
		{"g(x ! y)", `5@2:5(1@2:5 "g" 1@2:7 "x" 0@2:9 "ERROR")`},
	}
	for _, tc := range tests {
		f := goParse(t, "VOID f(VOID) {\n    "+tc.expr+";\n}\n")
		fn := f.Func("f")
		s := firstStmt(fn)
		if s == nil || s.Kind != SExpr {
			t.Errorf("%s: statement %+v", tc.expr, s)
			continue
		}
		if got := shape(s.Expr); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.expr, got, tc.want)
		}
	}
}

// Initializers: designators and nested lists, as EInit and
// initializer_pair expressions.
func TestGoExprInitializer(t *testing.T) {
	f := goParse(t, "VOID f(VOID) {\n    S s = { .a = 1, [2] = { x }, y };\n}\n")
	in := firstStmt(f.Func("f")).Decls[0].Init
	want := `15@2:11(0@2:13 "initializer_pair"(1@2:14 "a" 2@2:18 "1") 0@2:21 "initializer_pair"(2@2:22 "2" 15@2:27(1@2:29 "x")) 1@2:34 "y")`
	if got := shape(in); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestKey(t *testing.T) {
	f := goParse(t, "VOID f(VOID) {\n    p; ctx->Buffer; *pp; a.b.c; a[1]; a[i]; ((PVOID)p)->x; *(q->r); f(); a[i + 1]; *&p;\n}\n")
	want := []string{"p", "ctx->Buffer", "*pp", "a.b.c", "a[1]", "a[i]", "p->x", "*q->r", "", "", ""}
	body := f.Func("f").Body.Body
	if len(body) != len(want) {
		t.Fatalf("%d statements", len(body))
	}
	for i, s := range body {
		if got := s.Expr.Key(); got != want[i] {
			t.Errorf("Key(%s) = %q, want %q", s.Expr, got, want[i])
		}
	}
}

// Calls is made once and shared; appending to it copies, so the shared
// list stays as it is.
func TestCallsShared(t *testing.T) {
	f := goParse(t, "VOID f(VOID) {\n    a(b(1));\n    c();\n}\n")
	fn := f.Func("f")
	first := fn.Calls()
	if got := callNames(fn); got != "a,b,c" {
		t.Fatalf("calls %s", got)
	}
	more := append(first, &Expr{Kind: ECall, X: &Expr{Kind: EIdent, Name: "z"}})
	if got := callNames(fn); got != "a,b,c" || len(more) != 4 {
		t.Errorf("after an append to the list: calls %s", got)
	}
	if &fn.Calls()[0] != &first[0] {
		t.Errorf("Calls made a new list")
	}
}

// One Parser parses many files: each model stays whole after the next
// file is parsed (no array is shared between files), and names are
// interned across files.
func TestParserReuse(t *testing.T) {
	p, err := NewParserFor(FrontEndGo)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, err := p.Parse("a.c", []byte("VOID f(PIRP Irp) {\n    IoCompleteRequest(Irp, IO_NO_INCREMENT);\n    x->y = g(Irp->Tail.Overlay);\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	before := shape(a.Func("f").Body.Body[1].Expr)
	var last *File
	for i := 0; i < 50; i++ {
		src := fmt.Sprintf("VOID h%d(PIRP Irp) {\n    IoCompleteRequest(Irp, %d);\n    s.t%d = (q + %d) * r;\n}\n", i, i, i, i)
		if last, err = p.Parse("b.c", []byte(src)); err != nil {
			t.Fatal(err)
		}
	}
	if got := callNames(a.Func("f")); got != "IoCompleteRequest,g" {
		t.Errorf("first file's calls now %s", got)
	}
	if after := shape(a.Func("f").Body.Body[1].Expr); after != before {
		t.Errorf("first file's model changed:\n%s\n%s", before, after)
	}
	if got := shape(last.Funcs[0].Body.Body[1].Expr); got != `10@3:5 op==(6@3:5 op=. "t49"(1@3:5 "s") 9@3:13 op=*(9@3:14 op=+(1@3:14 "q" 2@3:18 "49") 1@3:24 "r"))` {
		t.Errorf("last file: %s", got)
	}
	n1 := a.Func("f").Body.Body[0].Expr.Callee()
	n2 := last.Funcs[0].Body.Body[0].Expr.Callee()
	if n1 != "IoCompleteRequest" || n2 != n1 {
		t.Fatalf("callees %q %q", n1, n2)
	}
	if unsafe.StringData(n1) != unsafe.StringData(n2) {
		t.Errorf("IoCompleteRequest is not interned across files")
	}
}

// Every distinct short text comes back as itself, whatever slot it
// shares; texts over 64 bytes are not interned but still cleaned.
func TestInterner(t *testing.T) {
	var in interner
	clean := func(b []byte) string { return collapse(strings.TrimSpace(string(b))) }
	for round := 0; round < 2; round++ {
		for i := 0; i < 3*internSlots; i++ {
			raw := fmt.Sprintf("name_%d_x", i)
			if got := in.intern([]byte(raw), clean); got != raw {
				t.Fatalf("intern(%q) = %q", raw, got)
			}
		}
	}
	if got := in.intern([]byte(" a \t b "), clean); got != "a b" {
		t.Errorf("cleaned text %q", got)
	}
	b := &builder{src: []byte(strings.Repeat("x ", 40)), pool: &pools{}}
	if got := b.textRange(0, 80); got != strings.TrimSpace(strings.Repeat("x ", 40)) {
		t.Errorf("long text %q", got)
	}
}

// Loops build chains of any length (a + b + ..., p->a->...); the model
// keeps maxDepth levels of them, as of any other nesting, so that no walk
// of it (Key, the checks) costs more than that.
func TestGoExprDepthBound(t *testing.T) {
	var height func(e *Expr) int
	height = func(e *Expr) int {
		if e == nil {
			return 0
		}
		h := max(height(e.X), height(e.Y), height(e.Z))
		for _, a := range e.Args {
			h = max(h, height(a))
		}
		return h + 1
	}
	for _, body := range []string{
		"x" + strings.Repeat("->y", 100000),
		strings.Repeat("a + ", 100000) + "b",
		strings.Repeat("((", 20) + strings.Repeat("a + ", 100) + "b" + strings.Repeat("))", 20) + "[1]",
		strings.Repeat("(", 100) + strings.Repeat("f(p->a->b->c->d->e->f->g->h->i, ", 30) + strings.Repeat(")", 130),
	} {
		f := goParse(t, "VOID f(VOID) {\n    "+body+";\n}\n")
		e := firstStmt(f.Func("f")).Expr
		if h := height(e); h > maxDepth+2 {
			t.Errorf("%.20s...: height %d", body, h)
		}
		if k := len(e.Key()); k > 4*maxDepth {
			t.Errorf("%.20s...: key of %d bytes", body, k)
		}
	}
	// Short of the bound, nothing is cut.
	f := goParse(t, "VOID f(VOID) {\n    x"+strings.Repeat("->y", 300)+";\n}\n")
	if k := firstStmt(f.Func("f")).Expr.Key(); k != "x"+strings.Repeat("->y", 300) {
		t.Errorf("key of a 300-long chain: %d bytes", len(k))
	}
}

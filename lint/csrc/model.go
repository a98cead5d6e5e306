// Package csrc is the small C syntax model the driver lint checks run on:
// functions with their statements and expressions, top-level declarations,
// pragmas and SAL/WDK annotations of one source file.
//
// Driver sources cannot be preprocessed without the WDK headers, and a
// full C front end is not what the checks need, so the model keeps only
// what crash-causing defects are judged by: calls with their arguments,
// assignments, declarations, conditions, returns, sections and IRQL
// annotations. Prepare strips SAL/WDK annotations from the text (keeping
// every byte offset, line and column) and records them as facts; Parse
// fills the model with our own error-tolerant recursive-descent parser
// (goparse.go: pure Go, so every build lints, and faster than a general
// grammar since it builds only what the model reads, expressions directly
// as the model's), or, on request in cgo builds, from a syntax tree made
// by tree-sitter's C grammar.
package csrc

import (
	"errors"
	"strings"
)

// ErrNoFrontEnd is returned when the tree-sitter front end is asked for in
// a build without cgo, which lacks it; the Go front end needs no cgo.
var ErrNoFrontEnd = errors.New("the tree-sitter C front end needs a build with cgo (CGO_ENABLED=1); use the built-in front end (--parser go)")

// Pos is a place in a source file: 1-based line and column (in bytes) and
// the 0-based byte offset.
type Pos struct {
	Line, Col, Off int
}

// File is everything the checks know about one source file.
type File struct {
	Path  string
	Src   []byte // the original text
	Lines int

	Funcs       []*Func
	Protos      []*Proto          // function declarations without a body
	Globals     []*VarDecl        // file-scope variables
	Roles       map[string]Role   // function name -> role typedef (DRIVER_DISPATCH Foo;)
	Pragmas     []Pragma          // #pragma alloc_text / code_seg
	Annotations []Annotation      // every SAL/WDK annotation stripped from the text
	Sections    map[string]string // function name -> section from #pragma alloc_text

	// Parse quality: tree-sitter nodes in total and those inside ERROR
	// nodes or MISSING.
	Nodes, ErrorNodes int
}

// ErrorShare is the share of syntax nodes the grammar could not place, 0..1.
func (f *File) ErrorShare() float64 {
	if f.Nodes == 0 {
		return 0
	}
	return float64(f.ErrorNodes) / float64(f.Nodes)
}

// Func finds a function definition by name.
func (f *File) Func(name string) *Func {
	for _, fn := range f.Funcs {
		if fn.Name == name {
			return fn
		}
	}
	return nil
}

// Global finds a file-scope variable by name.
func (f *File) Global(name string) *VarDecl {
	for _, g := range f.Globals {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Role is a WDK function role type such as DRIVER_DISPATCH or
// KDEFERRED_ROUTINE, declared with "ROLE Name;", given by
// _Function_class_(ROLE), or inferred from registration calls
// (IoSetCompletionRoutine, KeInitializeDpc, ...).
type Role string

// Proto is a function declaration without a body.
type Proto struct {
	Name   string
	Pos    Pos
	Annots []Annotation
}

// Func is a function definition.
type Func struct {
	Name   string
	Pos    Pos // the name
	End    Pos // the closing brace
	Params []*VarDecl
	Annots []Annotation // annotations before the body, outside the parameters
	Body   *Stmt        // a Block
	Static bool

	exprs []*Expr // every expression of Body, collected once by the parser
	calls []*Expr // the calls among exprs, collected on the first Calls
	// callsDone is set once calls is made (it may be empty).
	callsDone bool
}

// Param finds a parameter by name.
func (fn *Func) Param(name string) *VarDecl {
	for _, p := range fn.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Annot returns the first annotation of the function with that name.
func (fn *Func) Annot(name string) (Annotation, bool) {
	for _, a := range fn.Annots {
		if a.Name == name {
			return a, true
		}
	}
	return Annotation{}, false
}

// VarDecl is a declared variable or parameter.
type VarDecl struct {
	Name    string
	Type    string // the type specifier as written (PUCHAR, ULONG, struct _X)
	Pointer bool   // declared with *; see IsPointer for PVOID-style typedefs
	Array   bool
	Len     *Expr // an array's first dimension as written (nil when unsized or not an array)
	Const   bool
	Init    *Expr
	Pos     Pos
	Annots  []Annotation // parameters: their SAL annotations
}

// IsPointer reports whether the variable holds a pointer: declared with *,
// or with a Windows pointer typedef (PVOID, PUCHAR, PIRP, ...).
func (v *VarDecl) IsPointer() bool {
	if v.Pointer {
		return true
	}
	return PointerTypedef(v.Type)
}

// PointerTypedef reports whether a Windows type name is a pointer typedef
// by the DDK naming convention (P + upper-case name: PVOID, PIRP, PKEVENT).
func PointerTypedef(t string) bool {
	t = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(t, "const "), "CONST "))
	if len(t) < 3 || t[0] != 'P' {
		return false
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	switch t {
	case "POOL_TYPE", "PASSIVE_LEVEL", "PAGED_CODE", "POWER_STATE", "POWER_STATE_TYPE", "PNP_DEVICE_STATE", "PROCESSOR_NUMBER", "PHYSICAL_ADDRESS":
		return false
	}
	return !strings.HasPrefix(t, "POOL_") && !strings.HasPrefix(t, "POWER_")
}

// Pragma is a #pragma the checks use.
type Pragma struct {
	Kind    string   // "alloc_text" or "code_seg"
	Section string   // PAGE, INIT, ... ("" for code_seg() which ends a region)
	Funcs   []string // alloc_text: the functions
	Pos     Pos
}

// Annotation is a SAL or WDK annotation stripped from the source:
// _IRQL_requires_max_(DISPATCH_LEVEL) has Name "_IRQL_requires_max_" and
// Args "DISPATCH_LEVEL".
type Annotation struct {
	Name string
	Args string
	Pos  Pos
	End  int // byte offset just past it
}

// StmtKind is the kind of a statement.
type StmtKind uint8

// Statement kinds.
const (
	SOther StmtKind = iota
	SBlock
	SExpr
	SDecl
	SIf // Cond, Then, Else; also #if/#ifdef arms inside a body
	SLoop
	SReturn
	SSwitch // Cond, Body holds SCase statements
	SCase   // Expr is the value (nil for default), Body the statements
	SBreak
	SContinue
	SGoto
	SLabel // Label, Body[0] the labelled statement
	STry   // Then the __try body, Else the handler
	SLeave // __leave
)

// Stmt is a statement.
type Stmt struct {
	Kind  StmtKind
	Pos   Pos
	Expr  *Expr // SExpr, SReturn (may be nil), SIf/SLoop/SSwitch condition, SCase value
	Decls []*VarDecl
	Then  *Stmt
	Else  *Stmt
	Body  []*Stmt // SBlock, SSwitch, SCase, SLabel
	Label string
	// Loops: the for-initialiser and update, evaluated once for analysis.
	Init, Post *Expr
	Preproc    bool // an #if/#ifdef arm pair rather than a C if
}

// ExprKind is the kind of an expression.
type ExprKind uint8

// Expression kinds.
const (
	EOther ExprKind = iota
	EIdent
	ENumber
	EChar
	EString
	ECall   // X the callee, Args
	EMember // X, Op "->" or ".", Name the field
	EIndex  // X[Y]
	EUnary  // Op (* & ! - ~ + ++ -- post++ post--), X
	EBinary // X Op Y
	EAssign // X Op Y (Op "=" or "+=", ...)
	ECast   // (Type) X
	ESizeof // sizeof X, or sizeof(Type) with X nil
	ECond   // X ? Y : Z
	EComma  // Args
	EInit   // initializer list: Args
)

// Expr is an expression.
type Expr struct {
	Kind ExprKind
	Op   string
	Name string // identifier, field, literal text, cast/sizeof type
	X, Y *Expr
	Z    *Expr
	Args []*Expr
	Pos  Pos
}

// Callee returns the called function's name for a call of a plain
// identifier (or of a parenthesised/cast identifier), else "".
func (e *Expr) Callee() string {
	if e == nil || e.Kind != ECall || e.X == nil {
		return ""
	}
	f := e.X
	for f.Kind == ECast && f.X != nil {
		f = f.X
	}
	if f.Kind == EIdent {
		return f.Name
	}
	return ""
}

// Arg returns argument i of a call, or nil.
func (e *Expr) Arg(i int) *Expr {
	if e == nil || i < 0 || i >= len(e.Args) {
		return nil
	}
	return e.Args[i]
}

// Strip returns the expression under any casts.
func (e *Expr) Strip() *Expr {
	for e != nil && e.Kind == ECast && e.X != nil {
		e = e.X
	}
	return e
}

// Key returns a stable text for an lvalue made of identifiers, member
// accesses, constant indexes and dereferences (p, ctx->Buffer, *pp,
// a.b.c), after peeling casts; "" for anything else.
func (e *Expr) Key() string {
	e = e.Strip()
	if e == nil {
		return ""
	}
	if e.Kind == EIdent {
		return e.Name // the common case: no string to build
	}
	n := e.keyLen()
	if n <= 0 {
		return ""
	}
	// One allocation for the whole key, however deep the lvalue.
	var b strings.Builder
	b.Grow(n)
	e.putKey(&b)
	return b.String()
}

// keyLen is the length of e's key, or -1 when e has none. The model's
// depth is bounded, and so is the recursion.
func (e *Expr) keyLen() int {
	e = e.Strip()
	if e == nil {
		return -1
	}
	switch e.Kind {
	case EIdent:
		if e.Name == "" {
			return -1
		}
		return len(e.Name)
	case EMember:
		if k := e.X.keyLen(); k > 0 {
			return k + len(e.Op) + len(e.Name)
		}
	case EUnary:
		if e.Op == "*" {
			if k := e.X.keyLen(); k > 0 {
				return 1 + k
			}
		}
	case EIndex:
		if e.Y != nil && (e.Y.Kind == ENumber || e.Y.Kind == EIdent) {
			if k := e.X.keyLen(); k > 0 {
				return k + 2 + len(e.Y.Name)
			}
		}
	}
	return -1
}

// putKey writes the key keyLen measured.
func (e *Expr) putKey(b *strings.Builder) {
	e = e.Strip()
	switch e.Kind {
	case EIdent:
		b.WriteString(e.Name)
	case EMember:
		e.X.putKey(b)
		b.WriteString(e.Op)
		b.WriteString(e.Name)
	case EUnary:
		b.WriteByte('*')
		e.X.putKey(b)
	case EIndex:
		e.X.putKey(b)
		b.WriteByte('[')
		b.WriteString(e.Y.Name)
		b.WriteByte(']')
	}
}

// String renders the expression compactly as C, for messages.
func (e *Expr) String() string {
	var b strings.Builder
	e.write(&b, 0)
	return b.String()
}

func (e *Expr) write(b *strings.Builder, depth int) {
	if e == nil {
		return
	}
	if depth > 40 || b.Len() > 200 {
		b.WriteString("…")
		return
	}
	d := depth + 1
	switch e.Kind {
	case EIdent, ENumber, EChar, EString:
		b.WriteString(e.Name)
	case ECall:
		e.X.write(b, d)
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			a.write(b, d)
		}
		b.WriteByte(')')
	case EMember:
		e.X.write(b, d)
		b.WriteString(e.Op)
		b.WriteString(e.Name)
	case EIndex:
		e.X.write(b, d)
		b.WriteByte('[')
		e.Y.write(b, d)
		b.WriteByte(']')
	case EUnary:
		if strings.HasPrefix(e.Op, "post") {
			e.X.write(b, d)
			b.WriteString(e.Op[4:])
			return
		}
		b.WriteString(e.Op)
		e.X.write(b, d)
	case EBinary, EAssign:
		e.X.write(b, d)
		b.WriteString(" " + e.Op + " ")
		e.Y.write(b, d)
	case ECast:
		b.WriteString("(" + e.Name + ")")
		e.X.write(b, d)
	case ESizeof:
		b.WriteString("sizeof(")
		if e.X != nil {
			e.X.write(b, d)
		} else {
			b.WriteString(e.Name)
		}
		b.WriteByte(')')
	case ECond:
		e.X.write(b, d)
		b.WriteString(" ? ")
		e.Y.write(b, d)
		b.WriteString(" : ")
		e.Z.write(b, d)
	default:
		b.WriteString(e.Name)
	}
}

// WalkExpr calls fn for e and every sub-expression, parents first; fn
// returning false skips the children. Depth is bounded so hostile input
// cannot exhaust the stack.
func WalkExpr(e *Expr, fn func(*Expr) bool) {
	if e != nil {
		walkExpr(e, fn, 0)
	}
}

func walkExpr(e *Expr, fn func(*Expr) bool, depth int) {
	if depth > maxDepth || !fn(e) {
		return
	}
	// Children are tested here rather than in a call: most are nil or
	// leaves (names, numbers), which need only fn.
	depth++
	if depth > maxDepth {
		return
	}
	if x := e.X; x != nil {
		if x.leaf() {
			fn(x)
		} else {
			walkExpr(x, fn, depth)
		}
	}
	if y := e.Y; y != nil {
		if y.leaf() {
			fn(y)
		} else {
			walkExpr(y, fn, depth)
		}
	}
	if e.Z != nil {
		walkExpr(e.Z, fn, depth)
	}
	for _, a := range e.Args {
		if a != nil {
			if a.leaf() {
				fn(a)
			} else {
				walkExpr(a, fn, depth)
			}
		}
	}
}

// leaf reports an expression without sub-expressions.
func (e *Expr) leaf() bool { return e.X == nil && e.Y == nil && e.Z == nil && len(e.Args) == 0 }

// WalkStmt calls fn for s and every nested statement, parents first.
func WalkStmt(s *Stmt, fn func(*Stmt) bool) {
	if s != nil {
		walkStmt(s, fn, 0)
	}
}

func walkStmt(s *Stmt, fn func(*Stmt) bool, depth int) {
	if depth > maxDepth || !fn(s) {
		return
	}
	depth++
	if s.Then != nil {
		walkStmt(s.Then, fn, depth)
	}
	if s.Else != nil {
		walkStmt(s.Else, fn, depth)
	}
	for _, c := range s.Body {
		if c != nil {
			walkStmt(c, fn, depth)
		}
	}
}

// StmtExprs calls fn for each expression held directly by s (not by
// nested statements): the condition, declarations' initialisers, ...
func StmtExprs(s *Stmt, fn func(*Expr)) {
	if s.Init != nil {
		fn(s.Init)
	}
	if s.Expr != nil {
		fn(s.Expr)
	}
	for _, d := range s.Decls {
		if d.Init != nil {
			fn(d.Init)
		}
	}
	if s.Post != nil {
		fn(s.Post)
	}
}

// Calls returns every call in the function body, in source order. The
// list is made on the first call and shared by later ones (several
// checks ask for it): callers must not change its elements, and the
// first call must not race with another on the same function.
func (fn *Func) Calls() []*Expr {
	if fn.callsDone {
		return fn.calls[:len(fn.calls):len(fn.calls)]
	}
	var out []*Expr
	for _, x := range fn.Exprs() {
		if x.Kind == ECall {
			out = append(out, x)
		}
	}
	if fn.exprs != nil {
		// Only a parsed function's body is final; one built by hand may
		// still change.
		fn.calls, fn.callsDone = out, true
	}
	return out
}

// Exprs returns every expression in the function body, sub-expressions
// included, in the order WalkStmt, StmtExprs and WalkExpr visit them.
// Checks that look at each expression range over it rather than walk
// the body again; the list is made once when the file is parsed.
func (fn *Func) Exprs() []*Expr {
	if fn.exprs != nil {
		return fn.exprs[:len(fn.exprs):len(fn.exprs)]
	}
	return collectExprs(fn.Body)
}

func collectExprs(body *Stmt) []*Expr {
	return appendExprs([]*Expr{}, body)
}

func appendExprs(out []*Expr, body *Stmt) []*Expr {
	if body == nil {
		return out
	}
	return appendStmtExprs(out, body, 0)
}

// appendStmtExprs is appendExprs's walk: WalkStmt's order and depth
// bound, StmtExprs' order within a statement and WalkExpr's below, as
// plain recursion (it runs over every file's every expression).
func appendStmtExprs(out []*Expr, s *Stmt, depth int) []*Expr {
	if depth > maxDepth {
		return out
	}
	for _, e := range [...]*Expr{s.Init, s.Expr} {
		if e != nil {
			out = appendExprTree(out, e, 0)
		}
	}
	for _, d := range s.Decls {
		if d.Init != nil {
			out = appendExprTree(out, d.Init, 0)
		}
	}
	if s.Post != nil {
		out = appendExprTree(out, s.Post, 0)
	}
	depth++
	if s.Then != nil {
		out = appendStmtExprs(out, s.Then, depth)
	}
	if s.Else != nil {
		out = appendStmtExprs(out, s.Else, depth)
	}
	for _, c := range s.Body {
		if c != nil {
			out = appendStmtExprs(out, c, depth)
		}
	}
	return out
}

func appendExprTree(out []*Expr, e *Expr, depth int) []*Expr {
	if depth > maxDepth {
		return out
	}
	out = append(out, e)
	depth++
	for _, c := range [...]*Expr{e.X, e.Y, e.Z} {
		if c != nil {
			out = appendExprTree(out, c, depth)
		}
	}
	for _, a := range e.Args {
		if a != nil {
			out = appendExprTree(out, a, depth)
		}
	}
	return out
}

// maxDepth bounds the nesting the model keeps; deeper input is cut off by
// the front end and never walked further.
const maxDepth = 400

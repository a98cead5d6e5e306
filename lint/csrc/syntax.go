package csrc

import (
	"encoding/binary"
	"sort"
	"strings"
)

// Node is a syntax-tree node copied out of the C grammar's parse tree:
// the grammar's kind and field names, the byte range and the start
// position. Keeping our own copy makes the cgo part a thin tree dump and
// lets the model builder below be plain Go.
type Node struct {
	Kind, Field string
	Start, End  int
	Line, Col   int
	Named       bool
	Error       bool // an ERROR or MISSING node, or inside one
	Kids        []*Node

	x *Expr // the Go front end's finished expression (goexpr.go)
}

func (n *Node) field(name string) *Node {
	for _, k := range n.Kids {
		if k.Field == name {
			return k
		}
	}
	return nil
}

func (n *Node) pos() Pos { return Pos{Line: n.Line, Col: n.Col, Off: n.Start} }

// builder turns a syntax tree into the model.
type builder struct {
	f      *File
	src    []byte // prepared text (annotations blanked)
	annots []Annotation
	// annotsSorted is set when annots are in source order, as Prepare
	// makes them (Build may be given others).
	annotsSorted bool

	pool  *pools
	exprs int // expressions made

	// The arrays this file's statements, expressions and lists are
	// carved from: one allocation for many. They are never shared with
	// another file: the Go front end makes an expression's operands
	// before it, so a shared array would let each file's model keep the
	// one before it alive, and a Parser would keep the last file's model.
	// Their sizes follow the source still to parse (see size), so little
	// is left unused.
	ss     []Stmt
	xs     []Expr
	lists  []*Expr
	slists []*Stmt
	left   int // bytes of source not yet parsed, as far as known
}

// pools is what a Parser keeps from one file to the next: the interned
// short texts (identifiers, operators, types), which repeat from file to
// file; strings are immutable, so models may share them.
type pools struct {
	names interner
}

// interner is a direct-mapped cache of short texts: a slot per hash,
// the last text wins. It costs less than a map (no growth, one probe,
// and it stays small enough for the caches) and a miss only costs a
// string.
type interner struct {
	slots []internSlot
}

type internSlot struct{ raw, text string }

const internSlots = 1 << 13

// internHash mixes a text's length with its first, middle and last
// eight bytes: cheaper than a byte-at-a-time hash, and names that share
// all of those merely share a slot.
func internHash(b []byte) uint64 {
	n := len(b)
	x := uint64(n)
	if n >= 8 {
		x ^= binary.LittleEndian.Uint64(b)
		x = (x ^ binary.LittleEndian.Uint64(b[n-8:])*0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9
		if n > 16 {
			x ^= binary.LittleEndian.Uint64(b[n/2-4:])
		}
	} else {
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
	}
	x *= 0x9E3779B97F4A7C15
	return x >> 40
}

// intern returns the text for raw, made by mk on a miss.
func (in *interner) intern(raw []byte, mk func([]byte) string) string {
	if in.slots == nil {
		in.slots = make([]internSlot, internSlots)
	}
	sl := &in.slots[internHash(raw)&(internSlots-1)]
	if sl.raw == string(raw) && sl.text != "" {
		return sl.text
	}
	t := mk(raw)
	raws := t
	if t != string(raw) {
		raws = string(raw)
	}
	sl.raw, sl.text = raws, t
	return t
}

// size is the length of the next array for a source with b.left bytes
// still to parse: drivers run about one expression per 20 bytes.
func (b *builder) size(per, least, most int) int {
	return min(max(b.left/per+least, least), most)
}

func (b *builder) newStmt() *Stmt {
	if len(b.ss) == 0 {
		b.ss = make([]Stmt, b.size(80, 8, 256))
	}
	s := &b.ss[0]
	b.ss = b.ss[1:]
	return s
}

func (b *builder) newExpr() *Expr {
	if len(b.xs) == 0 {
		b.xs = make([]Expr, b.size(20, 16, 1024))
	}
	e := &b.xs[0]
	b.xs = b.xs[1:]
	b.exprs++
	return e
}

// exprList returns a list for n expressions, carved from a shared
// array; its capacity is n, so appending to it copies.
func (b *builder) exprList(n int) []*Expr {
	if len(b.lists) < n {
		b.lists = make([]*Expr, max(n, b.size(30, 16, 2048)))
	}
	l := b.lists[:n:n]
	b.lists = b.lists[n:]
	return l
}

func (b *builder) text(n *Node) string {
	if n == nil {
		return ""
	}
	return b.textRange(n.Start, n.End)
}

// textRange is the source text from start to end, trimmed, with runs of
// blanks collapsed; short texts are interned.
func (b *builder) textRange(start, end int) string {
	if start < 0 || end > len(b.src) || start > end {
		return ""
	}
	raw := b.src[start:end]
	if len(raw) <= 64 && b.pool != nil {
		// Names repeat: one string per distinct short text.
		return b.pool.names.intern(raw, cleanText)
	}
	return cleanText(raw)
}

func cleanText(raw []byte) string { return collapse(strings.TrimSpace(string(raw))) }

// annotsIn returns the annotations whose start lies in [lo, hi). Prepare
// records them in source order, so the range is found by bisection
// (every function and parameter asks).
func (b *builder) annotsIn(lo, hi int) []Annotation {
	as := b.annots
	if !b.annotsSorted {
		var out []Annotation
		for _, a := range as {
			if a.Pos.Off >= lo && a.Pos.Off < hi {
				out = append(out, a)
			}
		}
		return out
	}
	i := sort.Search(len(as), func(i int) bool { return as[i].Pos.Off >= lo })
	j := i
	for j < len(as) && as[j].Pos.Off < hi {
		j++
	}
	if i == j {
		return nil
	}
	return append([]Annotation(nil), as[i:j]...)
}

// build fills f from the tree rooted at root.
func (b *builder) build(root *Node) {
	prev := 0
	b.top(root, &prev, 0)
	b.sections()
}

func (b *builder) top(n *Node, prev *int, depth int) {
	if depth > 50 {
		return
	}
	for _, k := range n.Kids {
		switch k.Kind {
		case "function_definition":
			b.function(k, *prev)
		case "declaration":
			b.topDecl(k, *prev)
		case "preproc_if", "preproc_elif":
			if b.isFalse(k) {
				// #if 0: dead text; only the #else arm counts.
				if alt := k.field("alternative"); alt != nil {
					b.top(&Node{Kids: []*Node{alt}}, prev, depth+1)
				}
			} else {
				b.top(k, prev, depth+1)
			}
		case "preproc_ifdef", "preproc_else", "preproc_elifdef",
			"linkage_specification", "declaration_list", "ERROR":
			b.top(k, prev, depth+1)
		}
		if k.Named || k.Kind == ";" || k.Kind == "}" {
			*prev = k.End
		}
	}
}

// declarator digs the name out of a declarator.
type declInfo struct {
	name           string
	pointer, array bool
	size           *Node // the first dimension of an array declarator (a[size])
	params         *Node // parameter_list of a function declarator
	init           *Node
	pos            Pos
	nameEnd        int
}

func (b *builder) declarator(n *Node, d *declInfo, depth int) {
	if n == nil || depth > 30 {
		return
	}
	switch n.Kind {
	case "identifier", "field_identifier", "type_identifier":
		if d.name == "" {
			d.name = b.text(n)
			d.pos = n.pos()
			d.nameEnd = n.End
		}
	case "pointer_declarator", "abstract_pointer_declarator":
		d.pointer = true
		b.declarator(n.field("declarator"), d, depth+1)
	case "array_declarator":
		d.array = true
		b.declarator(n.field("declarator"), d, depth+1)
		if d.size == nil && !d.pointer {
			// The innermost array declarator, seen first, has the first
			// dimension: N in a[N][M].
			d.size = n.field("size")
		}
	case "function_declarator":
		if d.params == nil {
			d.params = n.field("parameters")
		}
		b.declarator(n.field("declarator"), d, depth+1)
	case "init_declarator":
		d.init = n.field("value")
		b.declarator(n.field("declarator"), d, depth+1)
	default:
		for _, k := range n.Kids {
			if k.Named {
				b.declarator(k, d, depth+1)
				if d.name != "" {
					return
				}
			}
		}
	}
}

// typeText is the declaration's type with qualifiers (const ULONG).
func (b *builder) typeText(n *Node) (string, bool) {
	t := b.text(n.field("type"))
	isConst := false
	for _, k := range n.Kids {
		if k.Kind == "type_qualifier" && b.text(k) == "const" {
			isConst = true
		}
	}
	return t, isConst
}

func (b *builder) topDecl(n *Node, prev int) {
	typ, isConst := b.typeText(n)
	extern := false
	for _, k := range n.Kids {
		if k.Kind == "storage_class_specifier" && b.text(k) == "extern" {
			extern = true
		}
	}
	for _, k := range n.Kids {
		if k.Field != "declarator" {
			continue
		}
		var d declInfo
		b.declarator(k, &d, 0)
		if d.name == "" {
			continue
		}
		if d.params != nil && d.init == nil {
			b.f.Protos = append(b.f.Protos, &Proto{Name: d.name, Pos: d.pos, Annots: b.annotsIn(prev, n.End)})
			b.roleAnnots(d.name, b.annotsIn(prev, n.End))
			continue
		}
		if !d.pointer && !d.array && d.init == nil && !extern && isRoleType(typ) {
			b.f.Roles[d.name] = Role(typ)
			continue
		}
		// extern declarations count too: they name globals another file
		// defines, which DriverEntry may still fill.
		v := &VarDecl{Name: d.name, Type: typ, Pointer: d.pointer, Array: d.array, Len: b.expr(d.size, 0), Const: isConst, Pos: d.pos}
		if d.init != nil {
			v.Init = b.expr(d.init, 0)
		}
		b.f.Globals = append(b.f.Globals, v)
	}
}

func (b *builder) roleAnnots(name string, as []Annotation) {
	for _, a := range as {
		if a.Name == "_Function_class_" && a.Args != "" {
			if _, ok := b.f.Roles[name]; !ok {
				b.f.Roles[name] = Role(a.Args)
			}
		}
	}
}

// isRoleType recognises WDK function role typedefs by name.
func isRoleType(t string) bool {
	if t == "" || strings.ToUpper(t) != t || strings.ContainsAny(t, " *") {
		return false
	}
	switch {
	case strings.HasPrefix(t, "DRIVER_"), strings.HasPrefix(t, "EVT_"), strings.HasPrefix(t, "IO_"),
		strings.HasPrefix(t, "KDEFERRED"), strings.HasPrefix(t, "KSERVICE"), strings.HasPrefix(t, "KSTART"),
		strings.HasSuffix(t, "_ROUTINE"), strings.HasSuffix(t, "_CALLBACK"), strings.HasSuffix(t, "_HANDLER"),
		strings.HasPrefix(t, "FWPS_"), strings.HasPrefix(t, "MINIPORT_"), strings.HasPrefix(t, "PROTOCOL_"),
		strings.HasPrefix(t, "FILTER_"), strings.HasPrefix(t, "WORKER_THREAD"):
		return true
	}
	return false
}

func (b *builder) function(n *Node, prev int) {
	var d declInfo
	b.declarator(n.field("declarator"), &d, 0)
	if d.name == "" {
		return
	}
	body := n.field("body")
	if body == nil {
		return
	}
	fn := &Func{Name: d.name, Pos: d.pos}
	for _, k := range n.Kids {
		if k.Kind == "storage_class_specifier" && b.text(k) == "static" {
			fn.Static = true
		}
	}
	pStart, pEnd := body.Start, body.Start
	if d.params != nil {
		pStart, pEnd = d.params.Start, d.params.End
		last := d.params.Start
		for _, p := range d.params.Kids {
			if p.Kind != "parameter_declaration" {
				if p.Kind == "," {
					last = p.End
				}
				continue
			}
			var pd declInfo
			b.declarator(p.field("declarator"), &pd, 0)
			typ, isConst := b.typeText(p)
			v := &VarDecl{Name: pd.name, Type: typ, Pointer: pd.pointer, Array: pd.array, Len: b.expr(pd.size, 0), Const: isConst, Pos: p.pos(), Annots: b.annotsIn(last, p.End)}
			fn.Params = append(fn.Params, v)
			last = p.End
		}
	}
	for _, a := range b.annotsIn(prev, body.Start) {
		if a.Pos.Off < pStart || a.Pos.Off >= pEnd {
			fn.Annots = append(fn.Annots, a)
		}
	}
	b.roleAnnots(fn.Name, fn.Annots)
	fn.Body = b.stmt(body, 0)
	fn.End = Pos{Line: b.endLine(body), Off: body.End - 1}
	b.f.Funcs = append(b.f.Funcs, fn)
}

// endLine is the line of a node's last byte: that of its closing token
// when it has one, else counted.
func (b *builder) endLine(n *Node) int {
	if k := len(n.Kids); k > 0 && n.Kids[k-1].End == n.End && n.Kids[k-1].Start == n.End-1 {
		return n.Kids[k-1].Line
	}
	return b.lineOf(n.End - 1)
}

func (b *builder) lineOf(off int) int {
	if off < 0 || off > len(b.src) {
		return 0
	}
	return 1 + strings.Count(string(b.src[:off]), "\n")
}

// sections assigns functions to code sections from #pragma alloc_text,
// #pragma code_seg regions and code_seg/PAGED_CODE_SEG annotations.
func (b *builder) sections() {
	for _, p := range b.f.Pragmas {
		if p.Kind == "alloc_text" {
			for _, fn := range p.Funcs {
				b.f.Sections[fn] = p.Section
			}
		}
	}
	for _, fn := range b.f.Funcs {
		if _, ok := b.f.Sections[fn.Name]; ok {
			continue
		}
		for _, a := range fn.Annots {
			switch {
			case a.Name == "PAGED_CODE_SEG", a.Name == "__declspec" && strings.Contains(a.Args, `code_seg("PAGE`):
				b.f.Sections[fn.Name] = "PAGE"
			case a.Name == "INIT_CODE_SEG", a.Name == "__declspec" && strings.Contains(a.Args, `code_seg("INIT`):
				b.f.Sections[fn.Name] = "INIT"
			}
		}
		if _, ok := b.f.Sections[fn.Name]; ok {
			continue
		}
		seg := ""
		for _, p := range b.f.Pragmas {
			if p.Kind == "code_seg" && p.Pos.Off < fn.Pos.Off {
				seg = p.Section
			}
		}
		if seg != "" && seg != ".text" {
			b.f.Sections[fn.Name] = seg
		}
	}
}

// stmt converts a statement node.
func (b *builder) stmt(n *Node, depth int) *Stmt {
	if n == nil {
		return nil
	}
	b.left = len(b.src) - n.Start
	s := b.newStmt()
	s.Pos = n.pos()
	if depth > maxDepth {
		return s
	}
	d := depth + 1
	switch n.Kind {
	case "compound_statement", "ERROR", "translation_unit":
		s.Kind = SBlock
		s.Body = b.stmts(n.Kids, d)
	case "expression_statement":
		s.Kind = SExpr
		for _, k := range n.Kids {
			if k.Named && k.Kind != "comment" {
				s.Expr = b.expr(k, d)
				break
			}
		}
	case "declaration":
		s.Kind = SDecl
		typ, isConst := b.typeText(n)
		for _, k := range n.Kids {
			if k.Field != "declarator" {
				continue
			}
			var di declInfo
			b.declarator(k, &di, 0)
			if di.name == "" {
				continue
			}
			v := &VarDecl{Name: di.name, Type: typ, Pointer: di.pointer, Array: di.array, Len: b.expr(di.size, 0), Const: isConst, Pos: di.pos}
			if di.init != nil {
				v.Init = b.expr(di.init, d)
			}
			s.Decls = append(s.Decls, v)
		}
	case "if_statement":
		s.Kind = SIf
		s.Expr = b.expr(n.field("condition"), d)
		s.Then = b.stmt(n.field("consequence"), d)
		if alt := n.field("alternative"); alt != nil {
			s.Else = b.stmt(alt, d)
		}
	case "else_clause":
		for _, k := range n.Kids {
			if k.Named && k.Kind != "comment" {
				return b.stmt(k, d)
			}
		}
		s.Kind = SBlock
	case "while_statement", "do_statement":
		s.Kind = SLoop
		s.Expr = b.expr(n.field("condition"), d)
		s.Then = b.stmt(n.field("body"), d)
	case "for_statement":
		s.Kind = SLoop
		if in := n.field("initializer"); in != nil {
			if in.Kind == "declaration" {
				s.Body = []*Stmt{b.stmt(in, d)}
			} else {
				s.Init = b.expr(in, d)
			}
		}
		s.Expr = b.expr(n.field("condition"), d)
		s.Post = b.expr(n.field("update"), d)
		s.Then = b.stmt(n.field("body"), d)
	case "return_statement":
		s.Kind = SReturn
		for _, k := range n.Kids {
			if k.Named && k.Kind != "comment" {
				s.Expr = b.expr(k, d)
				break
			}
		}
	case "switch_statement":
		s.Kind = SSwitch
		s.Expr = b.expr(n.field("condition"), d)
		if body := n.field("body"); body != nil {
			s.Body = b.stmts(body.Kids, d)
		}
	case "case_statement":
		s.Kind = SCase
		val := n.field("value")
		if val != nil {
			s.Expr = b.expr(val, d)
		}
		var rest []*Node
		for _, k := range n.Kids {
			if k != val {
				rest = append(rest, k)
			}
		}
		s.Body = b.stmts(rest, d)
	case "break_statement":
		s.Kind = SBreak
	case "continue_statement":
		s.Kind = SContinue
	case "goto_statement":
		s.Kind = SGoto
		s.Label = b.text(n.field("label"))
	case "labeled_statement":
		s.Kind = SLabel
		s.Label = b.text(n.field("label"))
		var rest []*Node
		for _, k := range n.Kids {
			if k.Field != "label" {
				rest = append(rest, k)
			}
		}
		s.Body = b.stmts(rest, d)
	case "seh_try_statement":
		s.Kind = STry
		s.Then = b.stmt(n.field("body"), d)
		for _, k := range n.Kids {
			if k.Kind == "seh_except_clause" || k.Kind == "seh_finally_clause" {
				s.Else = b.stmt(k.field("body"), d)
				if f := k.field("filter"); f != nil {
					s.Expr = b.expr(f, d)
				}
			}
		}
	case "seh_leave_statement":
		s.Kind = SLeave
	case "attributed_statement":
		s.Kind = SBlock
		s.Body = b.stmts(n.Kids, d)
	case "preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef":
		s.Kind = SIf
		s.Preproc = true
		var arm []*Node
		for _, k := range n.Kids {
			switch k.Field {
			case "name", "condition":
				continue
			case "alternative":
				s.Else = b.stmt(k, d)
				continue
			}
			arm = append(arm, k)
		}
		if b.isFalse(n) {
			arm = nil
		}
		s.Then = &Stmt{Kind: SBlock, Pos: s.Pos, Body: b.stmts(arm, d)}
	case "preproc_else":
		s.Kind = SBlock
		s.Body = b.stmts(n.Kids, d)
	default:
		if isExprKind(n.Kind) {
			s.Kind = SExpr
			s.Expr = b.expr(n, d)
		}
	}
	return s
}

func (b *builder) stmts(kids []*Node, depth int) []*Stmt {
	n := 0
	for _, k := range kids {
		if isStmtNode(k) {
			n++
		}
	}
	var out []*Stmt
	if n > 0 {
		out = b.stmtList(n)[:0]
	}
	for _, k := range kids {
		if !isStmtNode(k) {
			if k.Kind == "function_definition" {
				// A definition nested in a body means the grammar lost a
				// brace (usually an #if splitting a function); keep it as a
				// function.
				b.function(k, k.Start)
			}
			continue
		}
		out = append(out, b.stmt(k, depth))
	}
	return out
}

// isStmtNode reports whether a child of a block is one of its statements.
func isStmtNode(k *Node) bool {
	if !k.Named {
		return false
	}
	switch k.Kind {
	case "comment", "preproc_call", "preproc_def", "preproc_function_def", "preproc_include", "type_definition",
		"struct_specifier", "enum_specifier", "union_specifier", "function_definition":
		return false
	}
	return true
}

// stmtList returns a list for n statements, carved from a shared array;
// its capacity is n, so appending to it copies.
func (b *builder) stmtList(n int) []*Stmt {
	if len(b.slists) < n {
		b.slists = make([]*Stmt, max(n, 256))
	}
	l := b.slists[:n:n]
	b.slists = b.slists[n:]
	return l
}

func isExprKind(k string) bool {
	switch k {
	case "call_expression", "assignment_expression", "binary_expression", "unary_expression",
		"update_expression", "pointer_expression", "field_expression", "subscript_expression",
		"cast_expression", "conditional_expression", "comma_expression", "parenthesized_expression",
		"identifier", "sizeof_expression":
		return true
	}
	return false
}

// expr converts an expression node.
func (b *builder) expr(n *Node, depth int) *Expr {
	if n == nil {
		return nil
	}
	if n.x != nil {
		return n.x
	}
	b.left = len(b.src) - n.Start
	e := b.newExpr()
	e.Pos = n.pos()
	if depth > maxDepth {
		return e
	}
	d := depth + 1
	switch n.Kind {
	case "identifier", "null", "true", "false", "field_identifier", "type_identifier":
		e.Kind = EIdent
		e.Name = b.text(n)
	case "number_literal":
		e.Kind = ENumber
		e.Name = b.text(n)
	case "char_literal":
		e.Kind = EChar
		e.Name = b.text(n)
	case "string_literal", "concatenated_string":
		e.Kind = EString
		e.Name = b.text(n)
	case "call_expression":
		// (PFOO)(x) without typedefs parses as a call of a parenthesised
		// name; an upper-case name there is a cast to a pointer typedef.
		if fnode := n.field("function"); fnode != nil && fnode.Kind == "parenthesized_expression" && len(fnode.Kids) == 3 && fnode.Kids[1].Kind == "identifier" {
			if name := b.text(fnode.Kids[1]); PointerTypedef(name) {
				if args := n.field("arguments"); args != nil {
					var vals []*Node
					for _, k := range args.Kids {
						if k.Named && k.Kind != "comment" {
							vals = append(vals, k)
						}
					}
					if len(vals) == 1 {
						e.Kind = ECast
						e.Name = name
						e.X = b.expr(vals[0], d)
						return e
					}
				}
			}
		}
		e.Kind = ECall
		e.X = b.expr(n.field("function"), d)
		if args := n.field("arguments"); args != nil {
			for _, k := range args.Kids {
				if k.Named && k.Kind != "comment" {
					e.Args = append(e.Args, b.expr(k, d))
				}
			}
		}
	case "field_expression":
		e.Kind = EMember
		e.X = b.expr(n.field("argument"), d)
		e.Op = b.text(n.field("operator"))
		e.Name = b.text(n.field("field"))
	case "subscript_expression":
		e.Kind = EIndex
		e.X = b.expr(n.field("argument"), d)
		e.Y = b.expr(n.field("index"), d)
	case "pointer_expression", "unary_expression":
		e.Kind = EUnary
		e.Op = b.text(n.field("operator"))
		e.X = b.expr(n.field("argument"), d)
	case "update_expression":
		e.Kind = EUnary
		op := n.field("operator")
		e.Op = b.text(op)
		if op != nil && len(n.Kids) > 0 && n.Kids[0] != op {
			e.Op = "post" + e.Op
		}
		e.X = b.expr(n.field("argument"), d)
	case "binary_expression":
		e.Kind = EBinary
		e.Op = b.text(n.field("operator"))
		e.X = b.expr(n.field("left"), d)
		e.Y = b.expr(n.field("right"), d)
	case "assignment_expression":
		e.Kind = EAssign
		e.Op = b.text(n.field("operator"))
		e.X = b.expr(n.field("left"), d)
		e.Y = b.expr(n.field("right"), d)
	case "cast_expression":
		e.Kind = ECast
		e.Name = b.text(n.field("type"))
		e.X = b.expr(n.field("value"), d)
	case "sizeof_expression":
		e.Kind = ESizeof
		if v := n.field("value"); v != nil {
			e.X = b.expr(v, d)
		} else {
			e.Name = b.text(n.field("type"))
		}
	case "parenthesized_expression":
		for _, k := range n.Kids {
			if k.Named && k.Kind != "comment" {
				return b.expr(k, d)
			}
		}
		e.Kind = EOther
	case "conditional_expression":
		e.Kind = ECond
		e.X = b.expr(n.field("condition"), d)
		e.Y = b.expr(n.field("consequence"), d)
		e.Z = b.expr(n.field("alternative"), d)
	case "comma_expression":
		e.Kind = EComma
		e.Args = []*Expr{b.expr(n.field("left"), d), b.expr(n.field("right"), d)}
	case "initializer_list":
		e.Kind = EInit
		for _, k := range n.Kids {
			if k.Named && k.Kind != "comment" {
				e.Args = append(e.Args, b.expr(k, d))
			}
		}
	default:
		e.Kind = EOther
		e.Name = n.Kind
		for _, k := range n.Kids {
			if k.Named && k.Kind != "comment" {
				e.Args = append(e.Args, b.expr(k, d))
			}
		}
	}
	return e
}

// isFalse reports an #if whose condition is the constant 0.
func (b *builder) isFalse(n *Node) bool {
	c := n.field("condition")
	return c != nil && (b.text(c) == "0" || b.text(c) == "FALSE")
}

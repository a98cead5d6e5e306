package csrc

// The Go front end: a hand-written, error-tolerant recursive-descent
// parser for the C that drivers are written in, read without headers or a
// preprocessor run. For declarations and statements it builds the same
// Node tree as tree-sitter's C grammar (the node kinds and field names
// syntax.go reads), so one model builder serves both; expressions, most
// of a driver's syntax, it makes as the model's Exprs at once (goexpr.go).
// It makes only what the model reads, which is why it is several times
// faster than a general grammar.
//
// Without typedefs, "A B;" and "A *b = ..." at the start of a statement
// are read as declarations, "(A)x" and "(PA)&x" as casts, and
// "NAME(args)" alone on its line at file scope as a macro. A
// preprocessor conditional that encloses whole items becomes a
// preproc_if node holding both arms; where an #else arm would repeat
// text the first arm already opened (a function header, an "if (...) {"),
// or sits inside an expression or a parameter list, the first arm is read
// and the rest skipped to its #endif. What it cannot place it skips, to
// the next ";", "}", directive or name at the start of a line, inside an
// ERROR node, so File.ErrorNodes stays meaningful. Every loop consumes a
// token and nesting is bounded by goNest.

// goNest bounds the nesting of statements, declarators and expressions;
// deeper input is skipped as an error (the model keeps maxDepth levels).
const goNest = maxDepth + 100

type goParser struct {
	src   []byte
	toks  []tok
	pos   int
	depth int
	nodes int // named nodes made
	bad   int // tokens skipped as errors, and missing tokens
	// Nodes and child lists come from chunks reused from one parse to the
	// next (a tree is garbage once Build has made the model), which
	// spares the collector most of a parse's allocations.
	slab     []Node
	kids     []*Node
	used     [][]Node
	free     [][]Node
	usedKids [][]*Node
	freeKids [][]*Node
	// endifs counts #endif lines skipElse consumed for conditionals
	// still open.
	endifs int

	b    *builder // makes the expressions (goexpr.go)
	xs   []*Expr  // a stack of lists being collected (arguments, ...)
	deep bool     // an expression nests deep enough to need bound
}

func newGoParser() *goParser { return &goParser{} }

// parse returns the tree, the node count and the count of nodes that are
// errors, as treeParser.parse does.
func (p *goParser) parse(src []byte) (*Node, int, int, error) {
	p.src, p.pos, p.depth, p.nodes, p.bad, p.endifs, p.deep = src, 0, 0, 0, 0, 0, false
	if p.b == nil {
		p.b = newBuilder("", nil, src, nil, nil, &pools{})
		defer func() { p.b = nil }()
	}
	p.recycle()
	p.toks = lex(src, p.toks[:0])
	root := p.open("translation_unit")
	root.Start, root.Line, root.Col = 0, 1, 1
	p.list(root, modeTop)
	root.End = len(src)
	total := p.nodes + len(p.toks) - 1
	if cap(p.toks) > keepGoToks {
		p.toks = nil
	}
	p.src = nil
	return root, total, min(p.bad, total), nil
}

const keepGoToks = 1 << 20

// Chunk sizes, and how many chunks a parser keeps between files.
const (
	nodeChunk  = 4096
	kidChunk   = 16384
	keepChunks = 16
)

// recycle makes the previous tree's chunks available again.
// Slots never handed out are still zero, so only the used part of the
// last chunk (the rest is p.slab or p.kids) needs clearing.
func (p *goParser) recycle() {
	for i, c := range p.used {
		if len(p.free) < keepChunks {
			if i == len(p.used)-1 {
				clear(c[:len(c)-len(p.slab)])
			} else {
				clear(c)
			}
			p.free = append(p.free, c)
		}
	}
	for i, c := range p.usedKids {
		if len(p.freeKids) < keepChunks {
			if i == len(p.usedKids)-1 {
				clear(c[:len(c)-len(p.kids)])
			} else {
				clear(c)
			}
			p.freeKids = append(p.freeKids, c)
		}
	}
	p.used, p.usedKids = p.used[:0], p.usedKids[:0]
	p.slab, p.kids = nil, nil
}

func (p *goParser) close() {}

// Token access.

func (p *goParser) cur() *tok { return &p.toks[p.pos] }

func (p *goParser) peekN(k int) *tok {
	if p.pos+k < len(p.toks) {
		return &p.toks[p.pos+k]
	}
	return &p.toks[len(p.toks)-1]
}

func (p *goParser) eof() bool { return p.toks[p.pos].kind == tEOF }

func (p *goParser) advance() {
	if p.toks[p.pos].kind != tEOF {
		p.pos++
	}
}

func (p *goParser) isP(t *tok, s string) bool {
	if len(s) == 1 {
		// A one-byte punctuator's index is the byte plus one: with s a
		// constant, as at every call, this is one comparison.
		return t.kind == tPunct && t.p == uint16(s[0])+1
	}
	return t.kind == tPunct && tokText[t.p] == s
}

func (p *goParser) at(s string) bool { return p.isP(p.cur(), s) }

// word is the keyword at t, or "" for other names and other tokens.
func (p *goParser) word(t *tok) string {
	if t.kind != tIdent {
		return ""
	}
	return tokText[t.p]
}

func (p *goParser) atWord(s string) bool {
	t := p.cur()
	return t.kind == tIdent && string(p.src[t.start:t.end]) == s
}

// Nodes.

func (p *goParser) alloc() *Node {
	if len(p.slab) == 0 {
		if k := len(p.free); k > 0 {
			p.slab, p.free = p.free[k-1], p.free[:k-1]
		} else {
			p.slab = make([]Node, nodeChunk)
		}
		p.used = append(p.used, p.slab)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	return n
}

// open starts a named node at the current token.
func (p *goParser) open(kind string) *Node {
	n := p.alloc()
	t := p.cur()
	n.Kind, n.Named = kind, true
	n.Start, n.End, n.Line, n.Col = int(t.start), int(t.start), int(t.line), int(t.col)
	p.nodes++
	return n
}

// done ends n at the last consumed token.
func (p *goParser) done(n *Node) *Node {
	if p.pos > 0 {
		if e := int(p.toks[p.pos-1].end); e > n.Start {
			n.End = e
		}
	}
	return n
}

// leaf makes a node of the current token and consumes it.
func (p *goParser) leaf(kind string, named bool) *Node {
	n := p.alloc()
	t := p.cur()
	n.Kind, n.Named = kind, named
	n.Start, n.End, n.Line, n.Col = int(t.start), int(t.end), int(t.line), int(t.col)
	if named {
		p.nodes++
	}
	p.advance()
	return n
}

// punct consumes the punctuator s, counting a missing one as an error.
// The model reads no punctuation but a few kinds (see punctKeep), so no
// node is made for it.
func (p *goParser) punct(n *Node, s string) bool {
	if p.at(s) {
		p.advance()
		return true
	}
	p.bad++
	return false
}

// punctKeep is punct keeping the token as an anonymous child of n: the
// parentheses of a parenthesized_expression ("(PFOO)(x)" is recognised
// by them) and the commas of a parameter list (they delimit each
// parameter's annotations).
func (p *goParser) punctKeep(n *Node, s string) bool {
	if p.at(s) {
		p.add(n, p.leaf(s, false), "")
		return true
	}
	p.bad++
	return false
}

func (p *goParser) add(n, k *Node, field string) {
	if k == nil {
		return
	}
	k.Field = field
	if n.Kids == nil {
		// Children come from one shared array, four slots at a time;
		// append moves a longer list out of it.
		if len(p.kids) < 4 {
			if k := len(p.freeKids); k > 0 {
				p.kids, p.freeKids = p.freeKids[k-1], p.freeKids[:k-1]
			} else {
				p.kids = make([]*Node, kidChunk)
			}
			p.usedKids = append(p.usedKids, p.kids)
		}
		n.Kids = p.kids[:0:4]
		p.kids = p.kids[4:]
	}
	n.Kids = append(n.Kids, k)
}

// wrap starts a node at kid k's position.
func (p *goParser) wrap(kind string, k *Node, field string) *Node {
	n := p.alloc()
	n.Kind, n.Named = kind, true
	n.Start, n.End, n.Line, n.Col = k.Start, k.End, k.Line, k.Col
	p.nodes++
	p.add(n, k, field)
	return n
}

// Item lists.

const (
	modeTop   = iota // file scope
	modeBlock        // inside braces
	modeDecls        // extern "C" { ... }
)

// list parses items into parent until the end, a closing brace (not at
// file scope) or a directive that ends a conditional arm.
func (p *goParser) list(parent *Node, mode int) {
	for !p.eof() {
		t := p.cur()
		if p.isP(t, "}") {
			if mode != modeTop {
				return
			}
			p.errorSkip(parent, 1)
			continue
		}
		if t.kind == tDir {
			switch t.dir {
			case dElif, dElifdef, dElse, dEndif:
				if parent.Kind == "translation_unit" || parent.Kind == "compound_statement" || parent.Kind == "declaration_list" {
					// No #if is open at this level: an #if arm opened a brace
					// its #else arm opens again. Read on in the first arm.
					if t.dir == dEndif {
						p.errorSkip(parent, 1)
					} else {
						p.skipElse()
					}
					continue
				}
				return
			}
		}
		start := p.pos
		var k *Node
		if t.kind == tDir {
			k = p.directive(mode)
		} else if mode == modeBlock {
			k = p.statement()
		} else {
			k = p.topItem()
		}
		p.add(parent, k, "")
		if p.pos == start {
			p.errorSkip(parent, 1)
		}
	}
}

// errorSkip consumes at least one token (up to limit when limit > 0, else
// to a resumption point) into an ERROR node of parent.
func (p *goParser) errorSkip(parent *Node, limit int) {
	if p.eof() {
		return
	}
	e := p.open("ERROR")
	e.Error = true
	depth := 0
	for n := 0; !p.eof(); n++ {
		t := p.cur()
		if n > 0 {
			if limit > 0 && n >= limit {
				break
			}
			if t.kind == tDir || depth == 0 && p.isP(t, "}") || depth == 0 && t.col == 1 && t.kind == tIdent {
				break
			}
		}
		switch {
		case p.isP(t, "{") || p.isP(t, "(") || p.isP(t, "["):
			depth++
		case p.isP(t, "}") || p.isP(t, ")") || p.isP(t, "]"):
			if depth > 0 {
				depth--
			}
		}
		p.advance()
		p.bad++
		if depth == 0 && p.isP(t, ";") {
			break
		}
	}
	p.add(parent, p.done(e), "")
}

// directive parses a directive and, for a conditional, both its arms.
func (p *goParser) directive(mode int) *Node {
	t := p.cur()
	switch t.dir {
	case dIf, dIfdef:
		return p.conditional(mode, true)
	case dDefine:
		d := p.src[t.start:t.end]
		_, j := directiveWord(d)
		for j < len(d) && (d[j] == ' ' || d[j] == '\t') {
			j++
		}
		for j < len(d) && isIdentChar(d[j]) {
			j++
		}
		if j < len(d) && d[j] == '(' {
			return p.leaf("preproc_function_def", true)
		}
		return p.leaf("preproc_def", true)
	case dInclude:
		return p.leaf("preproc_include", true)
	}
	return p.leaf("preproc_call", true)
}

// conditional parses #if/#ifdef (top is true) or #elif at the current
// token, its arm, and the #elif/#else chain after it; the outermost one
// consumes the #endif.
func (p *goParser) conditional(mode int, top bool) *Node {
	t := *p.cur()
	kind := "preproc_if"
	field := "condition"
	switch t.dir {
	case dIfdef:
		kind, field = "preproc_ifdef", "name"
	case dElif:
		kind = "preproc_elif"
	case dElifdef:
		kind, field = "preproc_elifdef", "name"
	}
	n := p.open(kind)
	p.advance()
	if c := p.condition(t); c != nil {
		p.add(n, c, field)
	}
	p.depth++
	if p.depth > goNest {
		p.depth--
		p.bad++
		return p.done(n)
	}
	p.list(n, mode)
	if ct := p.cur(); ct.kind == tDir {
		switch ct.dir {
		case dElif, dElifdef:
			p.add(n, p.conditional(mode, false), "alternative")
		case dElse:
			e := p.open("preproc_else")
			p.advance()
			p.list(e, mode)
			p.add(n, p.done(e), "alternative")
		}
	}
	p.depth--
	if top {
		if ct := p.cur(); ct.kind == tDir && ct.dir == dEndif {
			p.advance()
		} else if p.endifs > 0 {
			p.endifs-- // skipElse took it
		} else {
			p.bad++ // #endif missing (or cut off by a brace)
		}
	}
	return p.done(n)
}

// condition is the text after the directive's name, without comments.
func (p *goParser) condition(t tok) *Node {
	d := p.src[t.start:t.end]
	_, j := directiveWord(d)
	for j < len(d) && (d[j] == ' ' || d[j] == '\t') {
		j++
	}
	e := len(d)
	for k := j; k+1 < len(d); k++ {
		if d[k] == '/' && (d[k+1] == '/' || d[k+1] == '*') {
			e = k
			break
		}
	}
	for e > j && (d[e-1] == ' ' || d[e-1] == '\t' || d[e-1] == '\r' || d[e-1] == '\\' || d[e-1] == '\n') {
		e--
	}
	if e <= j {
		return nil
	}
	n := p.alloc()
	n.Kind, n.Named = "identifier", true
	if c := d[j]; c >= '0' && c <= '9' {
		n.Kind = "number_literal"
	} else if e-j > 1 && !isIdentRun(d[j:e]) {
		n.Kind = "preproc_expression"
	}
	n.Start, n.End, n.Line, n.Col = int(t.start)+j, int(t.start)+e, int(t.line), int(t.col)+j
	p.nodes++
	return n
}

func isIdentRun(b []byte) bool {
	for _, c := range b {
		if !isIdentChar(c) {
			return false
		}
	}
	return true
}

// skipElse consumes a directive; at #else or #elif, it also skips the
// text up to the matching #endif, leaving the first arm in force.
func (p *goParser) skipElse() {
	t := p.cur()
	p.advance()
	if t.kind != tDir || t.dir != dElse && t.dir != dElif && t.dir != dElifdef {
		return
	}
	depth := 0
	for !p.eof() {
		t := p.cur()
		p.advance()
		if t.kind != tDir {
			continue
		}
		switch t.dir {
		case dIf, dIfdef:
			depth++
		case dEndif:
			if depth == 0 {
				p.endifs++ // the #endif of an #if still open
				return
			}
			depth--
		}
	}
}

// Declarations.

func isStorage(w string) bool {
	switch w {
	case "static", "extern", "register", "auto", "inline", "__inline", "_inline", "__forceinline", "thread_local", "__thread", "_Thread_local":
		return true
	}
	return false
}

func isQualifier(w string) bool {
	switch w {
	case "const", "volatile", "restrict", "__restrict", "_Atomic", "CONST", "__unaligned", "UNALIGNED", "__ptr64", "__ptr32":
		return true
	}
	return false
}

func isCallModifier(w string) bool {
	switch w {
	case "__cdecl", "__stdcall", "__fastcall", "__thiscall", "__vectorcall", "_cdecl", "_stdcall":
		return true
	}
	return false
}

func isPrimitive(w string) bool {
	switch w {
	case "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool", "bool",
		"__int8", "__int16", "__int32", "__int64", "__w64", "_Complex":
		return true
	}
	return false
}

func isSizeWord(w string) bool {
	switch w {
	case "signed", "unsigned", "short", "long":
		return true
	}
	return false
}

// startsType reports a word that can only begin a type.
func startsType(w string) bool {
	return isStorage(w) || isQualifier(w) || isPrimitive(w) || isCallModifier(w) ||
		w == "struct" || w == "union" || w == "enum" || w == "__declspec" || w == "__attribute__"
}

// specifiers reads storage classes, qualifiers and the type into n and
// reports whether a type was found.
func (p *goParser) specifiers(n *Node) bool {
	haveType := false
	for !p.eof() {
		t := p.cur()
		w := p.word(t)
		switch {
		case t.kind != tIdent:
			return haveType
		case isStorage(w):
			s := p.open("storage_class_specifier")
			p.advance()
			p.add(n, p.done(s), "")
		case isQualifier(w):
			s := p.open("type_qualifier")
			p.advance()
			p.add(n, p.done(s), "")
		case isCallModifier(w):
			s := p.open("ms_call_modifier")
			p.advance()
			p.add(n, p.done(s), "")
		case w == "__declspec" || w == "__attribute__" || w == "__pragma" || w == "_Pragma" || w == "__asm":
			p.advance()
			if p.at("(") {
				p.skipBalanced()
			}
		case isPrimitive(w):
			if haveType && !p.demoteType(n) {
				return true
			}
			s := p.open("primitive_type")
			words := 0
			sized := false
			for {
				w := p.word(p.cur())
				if !isPrimitive(w) {
					break
				}
				if isSizeWord(w) {
					sized = true
				}
				words++
				p.advance()
			}
			if sized && words > 0 {
				s.Kind = "sized_type_specifier"
			}
			p.add(n, p.done(s), "type")
			haveType = true
		case w == "struct" || w == "union" || w == "enum":
			if haveType && !p.demoteType(n) {
				return true
			}
			s := p.open(w + "_specifier")
			p.advance()
			for p.atWord("__declspec") {
				p.advance()
				if p.at("(") {
					p.skipBalanced()
				}
			}
			if p.cur().kind == tIdent {
				p.add(s, p.leaf("type_identifier", true), "name")
			}
			if p.at("{") {
				p.skipBalanced()
			}
			p.add(n, p.done(s), "type")
			haveType = true
		default:
			if haveType {
				// "NTSTATUS MACRO Foo(": a word between the type and the
				// declarator is a modifier macro.
				if nx := p.peekN(1); nx.kind == tIdent || p.isP(nx, "*") && p.peekN(2).kind == tIdent && p.peekN(3).kind == tIdent {
					if nx.kind == tIdent || !p.isP(p.peekN(1), "*") {
						s := p.open("ms_call_modifier")
						p.advance()
						p.add(n, p.done(s), "")
						continue
					}
				}
				return true
			}
			p.add(n, p.leaf("type_identifier", true), "type")
			haveType = true
		}
	}
	return haveType
}

// demoteType turns a name taken as the type into a modifier macro when
// a type keyword follows it (__kernel_entry void F(...)).
func (p *goParser) demoteType(n *Node) bool {
	for _, k := range n.Kids {
		if k.Field == "type" && k.Kind == "type_identifier" {
			k.Kind, k.Field = "ms_call_modifier", ""
			return true
		}
	}
	return false
}

// skipBalanced consumes a bracketed group starting at the current token.
func (p *goParser) skipBalanced() {
	depth := 0
	for !p.eof() {
		t := p.cur()
		switch {
		case p.isP(t, "(") || p.isP(t, "{") || p.isP(t, "["):
			depth++
		case p.isP(t, ")") || p.isP(t, "}") || p.isP(t, "]"):
			depth--
		}
		p.advance()
		if depth <= 0 {
			return
		}
	}
}

// declarator parses a (possibly abstract) declarator; nil when there is
// none.
func (p *goParser) declarator(abstract bool) *Node {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > goNest {
		p.bad++
		return nil
	}
	if p.at("*") || p.at("^") {
		n := p.open("pointer_declarator")
		p.punct(n, tokText[p.cur().p])
		for {
			w := p.word(p.cur())
			if isQualifier(w) {
				s := p.open("type_qualifier")
				p.advance()
				p.add(n, p.done(s), "")
				continue
			}
			if isCallModifier(w) {
				p.advance()
				continue
			}
			break
		}
		inner := p.declarator(abstract)
		if inner == nil {
			n.Kind = "abstract_pointer_declarator"
		}
		p.add(n, inner, "declarator")
		return p.done(n)
	}
	var d *Node
	t := p.cur()
	switch {
	case t.kind == tIdent && !startsType(p.word(t)):
		d = p.leaf("identifier", true)
	case p.isP(t, "(") && (!abstract || p.isP(p.peekN(1), "*") || p.isP(p.peekN(1), "^") || p.isP(p.peekN(1), "(")):
		d = p.open("parenthesized_declarator")
		p.punct(d, "(")
		for isCallModifier(p.word(p.cur())) {
			p.advance()
		}
		p.add(d, p.declarator(abstract), "")
		p.punct(d, ")")
		p.done(d)
	case !abstract:
		return nil
	}
	for {
		switch {
		case p.at("["):
			a := p.open("array_declarator")
			if d != nil {
				a.Start, a.Line, a.Col = d.Start, d.Line, d.Col
			} else {
				a.Kind = "abstract_array_declarator"
			}
			p.add(a, d, "declarator")
			p.punct(a, "[")
			if !p.at("]") {
				p.add(a, p.holder(p.expression()), "size")
			}
			p.punct(a, "]")
			d = p.done(a)
		case p.at("("):
			f := p.open("function_declarator")
			if d != nil {
				f.Start, f.Line, f.Col = d.Start, d.Line, d.Col
			} else {
				f.Kind = "abstract_function_declarator"
			}
			p.add(f, d, "declarator")
			p.add(f, p.params(), "parameters")
			d = p.done(f)
		default:
			return d
		}
	}
}

func (p *goParser) params() *Node {
	n := p.open("parameter_list")
	p.punct(n, "(")
	for !p.eof() && !p.at(")") {
		start := p.pos
		switch {
		case p.at(","):
			p.punctKeep(n, ",")
		case p.at("..."):
			p.add(n, p.leaf("variadic_parameter", true), "")
		case p.cur().kind == tDir:
			// #if around a parameter: read on in the first arm.
			p.skipElse()
		case p.at(";") || p.at("{") || p.at("}"):
			p.bad++
			return p.done(n)
		default:
			d := p.open("parameter_declaration")
			if p.specifiers(d) && !p.at(",") && !p.at(")") {
				p.add(d, p.declarator(true), "declarator")
			}
			p.add(n, p.done(d), "")
			if !p.at(",") && !p.at(")") {
				p.skipTo(n)
			}
		}
		if p.pos == start {
			p.errorSkip(n, 1)
		}
	}
	p.punct(n, ")")
	return p.done(n)
}

// skipTo skips an unparsable stretch up to the next "," or ")" of this
// level into an ERROR child of n.
func (p *goParser) skipTo(n *Node) {
	if t, ok := p.skipSpan(); ok {
		e := p.alloc()
		e.Kind, e.Named, e.Error = "ERROR", true, true
		e.Start, e.End, e.Line, e.Col = int(t.start), int(t.start), int(t.line), int(t.col)
		p.add(n, p.done(e), "")
	}
}

// skipSpan does skipTo's skipping and counting; it returns the ERROR's
// first token and whether the ERROR is kept (it covers a token).
func (p *goParser) skipSpan() (tok, bool) {
	first := *p.cur()
	p.nodes++ // the ERROR
	depth := 0
	for !p.eof() {
		t := p.cur()
		if depth == 0 && (p.isP(t, ",") || p.isP(t, ")")) || p.isP(t, ";") || p.isP(t, "}") && depth == 0 || t.kind == tDir {
			break
		}
		switch {
		case p.isP(t, "(") || p.isP(t, "[") || p.isP(t, "{"):
			depth++
		case p.isP(t, ")") || p.isP(t, "]") || p.isP(t, "}"):
			depth--
		}
		p.advance()
		p.bad++
	}
	return first, first.start < p.toks[max(p.pos-1, 0)].end
}

func hasFunc(d *Node) bool {
	for i := 0; d != nil && i < 64; i++ {
		switch d.Kind {
		case "function_declarator":
			return true
		case "pointer_declarator", "parenthesized_declarator":
			if d.Kind == "parenthesized_declarator" {
				for _, k := range d.Kids {
					if k.Named {
						d = k
					}
				}
				continue
			}
			d = d.field("declarator")
		default:
			return false
		}
	}
	return false
}

// topItem parses a declaration or function definition at file scope.
func (p *goParser) topItem() *Node {
	t := p.cur()
	switch w := p.word(t); {
	case p.isP(t, ";"):
		p.advance()
		return nil
	case w == "typedef":
		return p.typedef()
	case isStmtWord(w) || p.isP(t, "{") || t.kind == tIdent && (p.isP(p.peekN(1), "->") || p.isP(p.peekN(1), ".") || p.isP(p.peekN(1), "[") ||
		p.peekN(1).kind == tPunct && isAssignOp(tokText[p.peekN(1).p])):
		// Statements outside functions (snippets); the model has no use
		// for them, but they are not errors.
		return p.statement()
	case w == "class" && p.peekN(1).kind == tIdent:
		// A C++ class: its member functions count as functions.
		save := p.pos
		for k := 0; k < 64 && !p.eof() && !p.at("{") && !p.at(";"); k++ {
			p.advance()
		}
		if !p.at("{") {
			p.pos = save
			break
		}
		l := p.open("declaration_list")
		p.punct(l, "{")
		p.list(l, modeDecls)
		p.punct(l, "}")
		if p.at(";") {
			p.advance()
		}
		return p.done(l)
	case (w == "public" || w == "private" || w == "protected") && p.isP(p.peekN(1), ":"):
		p.advance()
		p.advance()
		return nil
	case w == "extern" && p.peekN(1).kind == tStr:
		n := p.open("linkage_specification")
		p.advance()
		p.advance()
		if p.at("{") {
			l := p.open("declaration_list")
			p.punct(l, "{")
			p.list(l, modeDecls)
			p.punct(l, "}")
			p.add(n, p.done(l), "body")
		}
		return p.done(n)
	case t.kind == tIdent && p.isP(p.peekN(1), "(") && !startsType(w):
		// A name and a parenthesised list first: a function without a
		// type, or a macro invocation such as DECLARE_HANDLE(x) with no
		// semicolon after it.
		save := p.pos
		p.advance()
		p.skipBalanced()
		nx := p.cur()
		last := p.toks[p.pos-1]
		p.pos = save
		if !p.isP(nx, "{") && !p.isP(nx, ";") && !p.isP(nx, ",") && !p.isP(nx, "=") && (nx.kind != tIdent || nx.line > last.line && nx.col == 1) {
			n := p.open("expression_statement")
			p.add(n, p.holder(p.expression()), "")
			if p.at(";") {
				p.punct(n, ";")
			}
			return p.done(n)
		}
	}
	n := p.open("declaration")
	p.specifiers(n)
	return p.initDeclarators(n, true)
}

func isStmtWord(w string) bool {
	switch w {
	case "if", "while", "for", "do", "switch", "return", "goto", "break", "continue":
		return true
	}
	return false
}

// initDeclarators parses the declarators after the specifiers in n and
// the closing semicolon, or a function body at file scope.
func (p *goParser) initDeclarators(n *Node, top bool) *Node {
	for first := true; ; first = false {
		d := p.declarator(false)
		if d == nil {
			break
		}
		if first && top && hasFunc(d) {
			// "#if A / Foo(a) / #else / Foo(a, b) / #endif / {": the first
			// header and the body.
			if t := p.cur(); t.kind == tDir && (t.dir == dElse || t.dir == dElif || t.dir == dElifdef) {
				p.skipElse()
			}
			// K&R parameter declarations between ")" and "{".
			for !p.at("{") && !p.at(";") && !p.at(",") && !p.at("=") && !p.eof() && p.cur().kind != tDir && startsType(p.word(p.cur())) {
				p.errorSkip(n, 0)
			}
			if p.at("{") {
				n.Kind = "function_definition"
				p.add(n, d, "declarator")
				p.add(n, p.compound(), "body")
				return p.done(n)
			}
		}
		if p.at("=") {
			in := p.wrap("init_declarator", d, "declarator")
			p.punct(in, "=")
			p.add(in, p.holder(p.initializer()), "value")
			d = p.done(in)
		}
		p.add(n, d, "declarator")
		if !p.at(",") {
			break
		}
		p.punct(n, ",")
	}
	if !p.punct(n, ";") {
		if t := p.cur(); !p.eof() && t.kind != tDir && !p.isP(t, "}") && int(t.line) == p.toks[max(p.pos-1, 0)].lineOf() {
			p.errorSkip(n, 0)
		}
	}
	return p.done(n)
}

func (t *tok) lineOf() int { return int(t.line) }

func (p *goParser) typedef() *Node {
	n := p.open("type_definition")
	depth := 0
	for !p.eof() {
		t := p.cur()
		if t.kind == tDir && depth == 0 {
			break
		}
		switch {
		case p.isP(t, "(") || p.isP(t, "{") || p.isP(t, "["):
			depth++
		case p.isP(t, ")") || p.isP(t, "}") || p.isP(t, "]"):
			depth--
		}
		p.advance()
		if depth <= 0 && p.isP(t, ";") || depth < 0 {
			break
		}
	}
	return p.done(n)
}

// Statements.

func (p *goParser) compound() *Node {
	n := p.open("compound_statement")
	p.punct(n, "{")
	p.depth++
	if p.depth > goNest {
		p.depth--
		p.skipBalancedInto(n)
		return p.done(n)
	}
	p.list(n, modeBlock)
	p.depth--
	if !p.at("}") {
		p.bad++
		return p.done(n)
	}
	n.Kids = append(n.Kids, p.leaf("}", false))
	return p.done(n)
}

// skipBalancedInto consumes the rest of a block that nests too deep.
func (p *goParser) skipBalancedInto(n *Node) {
	depth := 1
	for !p.eof() && depth > 0 {
		if p.at("{") {
			depth++
		} else if p.at("}") {
			depth--
		}
		p.advance()
		p.bad++
	}
}

// isDecl decides whether a statement is a declaration.
func (p *goParser) isDecl() bool {
	t := p.cur()
	if t.kind != tIdent {
		return false
	}
	if startsType(p.word(t)) {
		return true
	}
	t1 := p.peekN(1)
	if t1.kind == tIdent {
		return true
	}
	if !p.isP(t1, "*") {
		return false
	}
	k := 1
	for k < 16 && (p.isP(p.peekN(k), "*") || isQualifier(p.word(p.peekN(k)))) {
		k++
	}
	if p.peekN(k).kind != tIdent {
		return false
	}
	nx := p.peekN(k + 1)
	return p.isP(nx, ";") || p.isP(nx, "=") || p.isP(nx, ",") || p.isP(nx, "[")
}

func (p *goParser) statement() *Node {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > goNest {
		e := p.open("ERROR")
		e.Error = true
		p.advance()
		p.bad++
		return p.done(e)
	}
	t := p.cur()
	switch {
	case t.kind == tEOF:
		return nil
	case t.kind == tDir:
		switch t.dir {
		case dElif, dElifdef, dElse, dEndif:
			return nil
		}
		return p.directive(modeBlock)
	case p.isP(t, "{"):
		return p.compound()
	case p.isP(t, "}"):
		p.bad++
		return nil
	case p.isP(t, ";"):
		n := p.open("expression_statement")
		p.punct(n, ";")
		return p.done(n)
	}
	switch p.word(t) {
	case "if":
		n := p.open("if_statement")
		p.advance()
		p.add(n, p.holder(p.parenCond()), "condition")
		p.add(n, p.statement(), "consequence")
		if p.atWord("else") {
			e := p.open("else_clause")
			p.advance()
			p.add(e, p.statement(), "")
			p.add(n, p.done(e), "alternative")
		}
		return p.done(n)
	case "while":
		n := p.open("while_statement")
		p.advance()
		p.add(n, p.holder(p.parenCond()), "condition")
		p.add(n, p.statement(), "body")
		return p.done(n)
	case "do":
		n := p.open("do_statement")
		p.advance()
		p.add(n, p.statement(), "body")
		if p.atWord("while") {
			p.advance()
			p.add(n, p.holder(p.parenCond()), "condition")
		} else {
			p.bad++
		}
		p.semi(n)
		return p.done(n)
	case "for":
		n := p.open("for_statement")
		p.advance()
		p.punct(n, "(")
		if p.isDecl() {
			d := p.open("declaration")
			p.specifiers(d)
			p.add(n, p.initDeclarators(d, false), "initializer")
		} else {
			if !p.at(";") {
				p.add(n, p.holder(p.expression()), "initializer")
			}
			p.punct(n, ";")
		}
		if !p.at(";") {
			p.add(n, p.holder(p.expression()), "condition")
		}
		p.punct(n, ";")
		if !p.at(")") {
			p.add(n, p.holder(p.expression()), "update")
		}
		p.punct(n, ")")
		p.add(n, p.statement(), "body")
		return p.done(n)
	case "return":
		n := p.open("return_statement")
		p.advance()
		if !p.at(";") {
			p.add(n, p.holder(p.expression()), "")
		}
		p.semi(n)
		return p.done(n)
	case "switch":
		n := p.open("switch_statement")
		p.advance()
		p.add(n, p.holder(p.parenCond()), "condition")
		p.add(n, p.statement(), "body")
		return p.done(n)
	case "case", "default":
		if p.word(t) == "default" && !p.isP(p.peekN(1), ":") {
			break
		}
		n := p.open("case_statement")
		isCase := p.word(t) == "case"
		p.advance()
		if isCase {
			p.add(n, p.holder(p.cond()), "value")
			// case 'a' ... 'z': (a GNU range)
			if p.at("...") {
				p.advance()
				p.cond()
			}
		}
		p.punct(n, ":")
		for !p.eof() && !p.at("}") && !p.atWord("case") && !(p.atWord("default") && p.isP(p.peekN(1), ":")) {
			if c := p.cur(); c.kind == tDir && (c.dir == dElif || c.dir == dElifdef || c.dir == dElse || c.dir == dEndif) {
				break
			}
			start := p.pos
			p.add(n, p.statement(), "")
			if p.pos == start {
				p.errorSkip(n, 1)
			}
		}
		return p.done(n)
	case "break", "continue":
		kind := "break_statement"
		if p.word(t) == "continue" {
			kind = "continue_statement"
		}
		n := p.open(kind)
		p.advance()
		p.semi(n)
		return p.done(n)
	case "goto":
		n := p.open("goto_statement")
		p.advance()
		if p.cur().kind == tIdent {
			p.add(n, p.leaf("statement_identifier", true), "label")
		}
		p.semi(n)
		return p.done(n)
	case "__try", "try":
		if !p.isP(p.peekN(1), "{") {
			break
		}
		n := p.open("seh_try_statement")
		p.advance()
		p.add(n, p.compound(), "body")
		switch p.word(p.cur()) {
		case "__except", "except":
			c := p.open("seh_except_clause")
			p.advance()
			p.add(c, p.holder(p.parenCond()), "filter")
			if p.at("{") {
				p.add(c, p.compound(), "body")
			}
			p.add(n, p.done(c), "")
		case "__finally", "finally":
			c := p.open("seh_finally_clause")
			p.advance()
			if p.at("{") {
				p.add(c, p.compound(), "body")
			}
			p.add(n, p.done(c), "")
		}
		return p.done(n)
	case "__leave":
		n := p.open("seh_leave_statement")
		p.advance()
		p.semi(n)
		return p.done(n)
	case "typedef":
		return p.typedef()
	}
	if t.kind == tIdent && p.isP(p.peekN(1), ":") {
		n := p.open("labeled_statement")
		p.add(n, p.leaf("statement_identifier", true), "label")
		p.punct(n, ":")
		if !p.at("}") {
			p.add(n, p.statement(), "")
		}
		return p.done(n)
	}
	if p.isDecl() {
		n := p.open("declaration")
		p.specifiers(n)
		return p.initDeclarators(n, false)
	}
	n := p.open("expression_statement")
	start := p.pos
	p.add(n, p.holder(p.expression()), "")
	if p.pos == start {
		p.errorSkip(n, 0)
		return p.done(n)
	}
	p.semi(n)
	return p.done(n)
}

// semi expects the ";" ending a statement; a missing one on the same line
// starts an error that runs to the next ";".
func (p *goParser) semi(n *Node) {
	if p.punct(n, ";") {
		return
	}
	if t := p.cur(); !p.eof() && t.kind != tDir && !p.isP(t, "}") && p.pos > 0 && t.line == p.toks[p.pos-1].line {
		p.errorSkip(n, 0)
	}
}

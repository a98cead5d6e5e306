package csrc

// Expressions of the Go front end. Most of a driver's syntax nodes are
// expressions (names, member accesses, calls, operators), so the parser
// makes the model's Expr for them directly instead of a Node subtree for
// the builder to convert: the same Exprs, with the same positions and
// texts, as builder.expr makes of tree-sitter's nodes, but without the
// intermediate tree. Where a statement or declaration holds an
// expression, a single Node carries the finished Expr (Node.x), and the
// builder takes it as it is. Node counts (File.Nodes, ErrorNodes) are
// kept as if the nodes had been made.

// xnode is an expression being parsed: its Expr and what the syntax
// around it still asks of it.
type xnode struct {
	e    *Expr
	pos  Pos    // where the syntax node starts: a parenthesised expression's "("
	end  int    // byte offset just past it
	kind string // the grammar's kind of the node
	// parenIdent marks "(" identifier ")" with both parentheses, which
	// before an argument list is a cast to a pointer typedef: (PFOO)(x).
	parenIdent bool
	// chain counts the operators and suffixes a loop (a + b + c, p->a->b)
	// has stacked on the left operand.
	chain int32
}

// An expression is checked for depth (bound) before it goes into the
// tree once a chain grew longer than deepChain or the recursion deeper
// than deepNest. Below both, each of at most deepNest/2 nested levels
// adds under 2*deepChain+4 levels (a binary chain over a postfix chain
// and a few wrappers), which stays under maxDepth; checking costs one
// walk of the expression, so the limits can be low.
const (
	deepChain = 8
	deepNest  = 24
)

// bound cuts the expression at maxDepth levels, as the builder cuts a
// syntax tree, when the parse went deep enough for that to matter: loops
// build chains (a + b + ..., p->a->...) of any length, and a model as
// deep as hostile input likes would make every later walk of it costly.
func (p *goParser) bound(e *Expr) {
	if p.deep && e != nil {
		p.deep = false
		p.prune(e, 0)
	}
}

// prune replaces what lies more than maxDepth levels below e by empty
// expressions.
func (p *goParser) prune(e *Expr, depth int) {
	cut := depth >= maxDepth
	visit := func(c *Expr) *Expr {
		if c == nil {
			return nil
		}
		if cut {
			return p.mk(EOther, c.Pos)
		}
		p.prune(c, depth+1)
		return c
	}
	e.X, e.Y, e.Z = visit(e.X), visit(e.Y), visit(e.Z)
	for i, a := range e.Args {
		e.Args[i] = visit(a)
	}
}

func tokPos(t *tok) Pos { return Pos{Line: int(t.line), Col: int(t.col), Off: int(t.start)} }

// finish ends x at the last consumed token, as done does for a Node.
func (p *goParser) finish(x xnode) xnode {
	x.end = x.pos.Off
	if p.pos > 0 {
		if e := int(p.toks[p.pos-1].end); e > x.end {
			x.end = e
		}
	}
	return x
}

// mk makes an expression of the model.
func (p *goParser) mk(kind ExprKind, pos Pos) *Expr {
	p.b.left = len(p.src) - pos.Off
	e := p.b.newExpr()
	e.Kind, e.Pos = kind, pos
	return e
}

// holder is the Node that carries a finished expression in the tree.
func (p *goParser) holder(x xnode) *Node {
	if x.e == nil {
		return nil
	}
	p.bound(x.e)
	n := p.alloc()
	n.Kind, n.Named = x.kind, true
	n.Start, n.End, n.Line, n.Col = x.pos.Off, x.end, x.pos.Line, x.pos.Col
	n.x = x.e
	return n
}

// tokName is the interned text of a token.
func (p *goParser) tokName(t *tok) string { return p.b.textRange(int(t.start), int(t.end)) }

// errorExpr is what the builder makes of an ERROR node inside an
// expression.
func (p *goParser) errorExpr(pos Pos) *Expr {
	e := p.mk(EOther, pos)
	e.Name = "ERROR"
	return e
}

// skipErr is skipTo inside an expression: the ERROR it would add, or nil.
func (p *goParser) skipErr() *Expr {
	if t, ok := p.skipSpan(); ok {
		return p.errorExpr(tokPos(&t))
	}
	return nil
}

// exprs copies the expressions collected on p.xs since base into a list
// of their own (nil when there are none) and drops them from p.xs.
func (p *goParser) exprs(base int) []*Expr {
	n := len(p.xs) - base
	if n == 0 {
		return nil
	}
	out := p.b.exprList(n)
	copy(out, p.xs[base:])
	clear(p.xs[base:])
	p.xs = p.xs[:base]
	return out
}

// parenResult is what the builder makes of a parenthesized_expression:
// its first named child (the expression, else an ERROR), else an empty
// EOther.
func (p *goParser) parenResult(inner xnode, errX *Expr, pos Pos) *Expr {
	switch {
	case inner.e != nil:
		return inner.e
	case errX != nil:
		return errX
	}
	return p.mk(EOther, pos)
}

// parenCond parses "( expression )" as a parenthesized_expression.
func (p *goParser) parenCond() xnode {
	pos := tokPos(p.cur())
	p.nodes++
	if !p.punct(nil, "(") {
		return p.finish(xnode{e: p.mk(EOther, pos), pos: pos, kind: "parenthesized_expression"})
	}
	inner := p.expression()
	var errX *Expr
	if !p.at(")") {
		errX = p.skipErr()
	}
	p.punct(nil, ")")
	return p.finish(xnode{e: p.parenResult(inner, errX, pos), pos: pos, kind: "parenthesized_expression"})
}

func (p *goParser) expression() xnode {
	l := p.assign()
	if l.e == nil || !p.at(",") {
		return l
	}
	if p.depth >= goNest {
		return l
	}
	p.nodes++ // comma_expression
	p.punct(nil, ",")
	p.depth++
	r := p.expression()
	p.depth--
	e := p.mk(EComma, l.pos)
	e.Args = p.b.exprList(2)
	e.Args[0], e.Args[1] = l.e, r.e
	return p.finish(xnode{e: e, pos: l.pos, kind: "comma_expression"})
}

func isAssignOp(s string) bool {
	switch s {
	case "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=":
		return true
	}
	return false
}

func (p *goParser) assign() xnode {
	l := p.cond()
	if l.e == nil {
		return l
	}
	if t := p.cur(); t.kind == tPunct && isAssignOp(tokText[t.p]) {
		if p.depth >= goNest {
			return l
		}
		p.nodes++ // assignment_expression
		op := tokText[t.p]
		p.advance()
		p.depth++
		r := p.assign()
		p.depth--
		e := p.mk(EAssign, l.pos)
		e.Op, e.X, e.Y = op, l.e, r.e
		return p.finish(xnode{e: e, pos: l.pos, kind: "assignment_expression"})
	}
	return l
}

func (p *goParser) cond() xnode {
	c := p.binary(1)
	if c.e == nil || !p.at("?") {
		return c
	}
	if p.depth >= goNest {
		return c
	}
	p.nodes++ // conditional_expression
	p.punct(nil, "?")
	p.depth++
	var y xnode
	if !p.at(":") {
		y = p.expression()
	}
	p.punct(nil, ":")
	z := p.cond()
	p.depth--
	e := p.mk(ECond, c.pos)
	e.X, e.Y, e.Z = c.e, y.e, z.e
	return p.finish(xnode{e: e, pos: c.pos, kind: "conditional_expression"})
}

func binPrec(s string) int {
	switch s {
	case "||":
		return 1
	case "&&":
		return 2
	case "|":
		return 3
	case "^":
		return 4
	case "&":
		return 5
	case "==", "!=":
		return 6
	case "<", ">", "<=", ">=":
		return 7
	case "<<", ">>":
		return 8
	case "+", "-":
		return 9
	case "*", "/", "%":
		return 10
	}
	return 0
}

func (p *goParser) binary(min int) xnode {
	if p.depth >= goNest {
		return xnode{}
	}
	// p.depth counts this level until every return below.
	p.depth++
	l := p.unary()
	if l.e == nil {
		p.depth--
		return l
	}
	for {
		t := p.cur()
		if t.kind != tPunct {
			p.depth--
			return l
		}
		op := tokText[t.p]
		prec := binPrec(op)
		if prec == 0 || prec < min {
			p.depth--
			return l
		}
		p.nodes++ // binary_expression
		p.advance()
		r := p.binary(prec + 1)
		if r.e == nil {
			p.bad++
		}
		e := p.mk(EBinary, l.pos)
		e.Op, e.X, e.Y = op, l.e, r.e
		l = p.finish(xnode{e: e, pos: l.pos, kind: "binary_expression", chain: l.chain + 1})
		if l.chain > deepChain {
			p.deep = true
		}
	}
}

// typeInParens reports whether "(" at the current token opens a type
// name: a type keyword, or a name with pointer stars, alone in the
// parentheses.
func (p *goParser) typeInParens() bool {
	t1 := p.peekN(1)
	w := p.word(t1)
	if t1.kind != tIdent {
		return false
	}
	if w == "struct" || w == "union" || w == "enum" || isPrimitive(w) || isQualifier(w) {
		return true
	}
	if startsType(w) {
		return true
	}
	k := 2
	for k < 12 && (p.isP(p.peekN(k), "*") || isQualifier(p.word(p.peekN(k)))) {
		k++
	}
	return k > 2 && p.isP(p.peekN(k), ")")
}

// typeDescriptor parses a type name in parentheses: "(" type ")". The
// type stays a Node (casts read only its text); errX is the ERROR after
// it, if any.
func (p *goParser) typeDescriptor() (td *Node, errX *Expr) {
	p.punct(nil, "(")
	td = p.open("type_descriptor")
	p.specifiers(td)
	if !p.at(")") {
		p.add(td, p.declarator(true), "declarator")
	}
	p.done(td)
	if !p.at(")") {
		errX = p.skipErr()
	}
	p.punct(nil, ")")
	return td, errX
}

// castName reports "(NAME)" followed by what only a cast operand can be.
func (p *goParser) castName() bool {
	t1, t2, t3 := p.peekN(1), p.peekN(2), p.peekN(3)
	if t1.kind != tIdent || !p.isP(t2, ")") {
		return false
	}
	switch t3.kind {
	case tIdent:
		w := p.word(t3)
		return !startsType(w) || w == "sizeof"
	case tNum, tStr, tChar:
		return true
	case tPunct:
		switch tokText[t3.p] {
		case "(":
			// (PFN)(ULONG_PTR)x: a cast of a cast.
			depth := 0
			for k := 3; k < 64; k++ {
				t := p.peekN(k)
				if t.kind == tEOF || p.isP(t, ";") || p.isP(t, "{") || p.isP(t, "}") {
					return false
				}
				if p.isP(t, "(") {
					depth++
				} else if p.isP(t, ")") {
					depth--
					if depth == 0 {
						nx := p.peekN(k + 1)
						return k == 5 && p.peekN(4).kind == tIdent && (nx.kind == tIdent && !startsType(p.word(nx)) || nx.kind == tNum || p.isP(nx, "("))
					}
				}
			}
			return false
		case "!", "~", "++", "--":
			return true
		case "&", "*", "-", "+":
			return isTypeLike(p.src[t1.start:t1.end])
		}
	}
	return false
}

// isTypeLike recognises an all-capitals name such as PVOID or ULONG_PTR.
func isTypeLike(b []byte) bool {
	letters := 0
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			letters++
		case c >= '0' && c <= '9' || c == '_':
		default:
			return false
		}
	}
	return letters > 1
}

// prefix parses a prefix operator and its operand.
func (p *goParser) prefix(kind string) xnode {
	t := p.cur()
	pos := tokPos(t)
	op := tokText[t.p]
	p.nodes++
	p.advance()
	a := p.unary()
	e := p.mk(EUnary, pos)
	e.Op, e.X = op, a.e
	return p.finish(xnode{e: e, pos: pos, kind: kind})
}

func (p *goParser) unary() xnode {
	if p.depth >= goNest {
		return xnode{}
	}
	p.depth++
	if p.depth > deepNest {
		p.deep = true
	}
	x := p.unary1()
	p.depth--
	return x
}

// unary1 is unary at its depth.
func (p *goParser) unary1() xnode {
	t := p.cur()
	switch t.kind {
	case tPunct:
		switch tokText[t.p] {
		case "!", "~", "-", "+":
			return p.prefix("unary_expression")
		case "*", "&":
			return p.prefix("pointer_expression")
		case "++", "--":
			return p.prefix("update_expression")
		case "(":
			pos := tokPos(t)
			p.nodes++
			if p.typeInParens() || p.castName() {
				td, errX := p.typeDescriptor()
				var e *Expr
				if p.at("{") {
					// A compound literal: the builder's generic node.
					v := p.initializer()
					e = p.mk(EOther, pos)
					e.Name = "compound_literal_expression"
					base := len(p.xs)
					p.xs = append(p.xs, p.b.expr(td, 0))
					if errX != nil {
						p.xs = append(p.xs, errX)
					}
					if v.e != nil {
						p.xs = append(p.xs, v.e)
					}
					e.Args = p.exprs(base)
				} else {
					v := p.unary()
					e = p.mk(ECast, pos)
					e.Name, e.X = p.b.text(td), v.e
				}
				return p.postfix(p.finish(xnode{e: e, pos: pos, kind: "cast_expression"}))
			}
			// parenthesized_expression, its parentheses kept as children.
			kids := 1
			p.advance()
			inner := p.expression()
			if inner.e != nil {
				kids++
			}
			var errX *Expr
			if !p.at(")") {
				if errX = p.skipErr(); errX != nil {
					kids++
				}
			}
			if p.at(")") {
				p.advance()
				kids++
			} else {
				p.bad++
			}
			x := xnode{e: p.parenResult(inner, errX, pos), pos: pos, kind: "parenthesized_expression",
				parenIdent: kids == 3 && inner.kind == "identifier"}
			return p.postfix(p.finish(x))
		}
		return xnode{}
	case tIdent:
		switch w := p.word(t); w {
		case "sizeof", "__alignof", "_Alignof", "alignof":
			return p.sizeof(w == "sizeof")
		}
	}
	return p.postfix(p.primary())
}

// sizeof parses sizeof (isSizeof) or an alignof operator.
func (p *goParser) sizeof(isSizeof bool) xnode {
	pos := tokPos(p.cur())
	p.nodes++
	p.advance()
	// sizeof's type (when typ) or operand (when val); alignof's children.
	var (
		typ      *Node
		val      *Expr
		haveType bool
	)
	base := len(p.xs)
	if p.at("(") && p.typeInParens() {
		td, errX := p.typeDescriptor()
		typ, haveType = td, true
		if !isSizeof {
			p.xs = append(p.xs, p.b.expr(td, 0))
			if errX != nil {
				p.xs = append(p.xs, errX)
			}
		}
	} else if p.at("(") {
		// sizeof(X) * n: the parentheses are the operand, never a cast.
		vpos := tokPos(p.cur())
		p.nodes++
		p.advance()
		inner := p.expression()
		var errX *Expr
		if !p.at(")") {
			errX = p.skipErr()
		}
		p.punct(nil, ")")
		v := p.postfix(p.finish(xnode{e: p.parenResult(inner, errX, vpos), pos: vpos, kind: "parenthesized_expression"}))
		val = v.e
	} else {
		val = p.unary().e
	}
	if val != nil {
		p.xs = append(p.xs, val)
	}
	if !isSizeof {
		e := p.mk(EOther, pos)
		e.Name = "alignof_expression"
		e.Args = p.exprs(base)
		return p.finish(xnode{e: e, pos: pos, kind: "alignof_expression"})
	}
	clear(p.xs[base:])
	p.xs = p.xs[:base]
	e := p.mk(ESizeof, pos)
	if val != nil {
		e.X = val
	} else if haveType {
		e.Name = p.b.text(typ)
	}
	return p.finish(xnode{e: e, pos: pos, kind: "sizeof_expression"})
}

// leafExpr makes an expression of the current token and consumes it.
func (p *goParser) leafExpr(kind ExprKind, node string) xnode {
	t := p.cur()
	pos := tokPos(t)
	e := p.mk(kind, pos)
	e.Name = p.tokName(t)
	p.nodes++
	p.advance()
	return xnode{e: e, pos: pos, end: int(t.end), kind: node}
}

func (p *goParser) primary() xnode {
	t := p.cur()
	switch t.kind {
	case tIdent:
		if startsType(p.word(t)) {
			return xnode{}
		}
		return p.leafExpr(EIdent, "identifier")
	case tNum:
		return p.leafExpr(ENumber, "number_literal")
	case tChar:
		return p.leafExpr(EChar, "char_literal")
	case tStr:
		if nx := p.peekN(1); nx.kind != tStr && !(nx.kind == tIdent && p.peekN(2).kind == tStr) {
			return p.leafExpr(EString, "string_literal")
		}
		// concatenated_string: the text of the whole run.
		pos := tokPos(t)
		p.nodes += 2 // it and its first string
		p.advance()
		for p.cur().kind == tStr || p.cur().kind == tIdent && p.peekN(1).kind == tStr {
			p.nodes++
			p.advance()
		}
		x := p.finish(xnode{pos: pos, kind: "concatenated_string"})
		x.e = p.mk(EString, pos)
		x.e.Name = p.b.textRange(x.pos.Off, x.end)
		return x
	}
	return xnode{}
}

func (p *goParser) postfix(x xnode) xnode {
	if x.e == nil {
		return x
	}
	for {
		t := p.cur()
		if t.kind == tDir {
			// A directive inside an expression: read on in the first arm.
			p.skipElse()
			continue
		}
		if t.kind != tPunct {
			return x
		}
		var e *Expr
		chain := x.chain
		switch tokText[t.p] {
		case "(":
			p.nodes++ // call_expression
			args := p.args()
			if x.parenIdent && len(args) == 1 && PointerTypedef(x.e.Name) {
				// (PFOO)(x) without typedefs parses as a call of a
				// parenthesised name; an upper-case name there is a cast
				// to a pointer typedef.
				e = p.mk(ECast, x.pos)
				e.Name, e.X = x.e.Name, args[0]
			} else {
				e = p.mk(ECall, x.pos)
				e.X, e.Args = x.e, args
			}
			x = xnode{e: e, pos: x.pos, kind: "call_expression"}
		case "[":
			p.nodes++ // subscript_expression
			p.advance()
			i := p.expression()
			p.punct(nil, "]")
			e = p.mk(EIndex, x.pos)
			e.X, e.Y = x.e, i.e
			x = xnode{e: e, pos: x.pos, kind: "subscript_expression"}
		case ".", "->":
			p.nodes++ // field_expression
			e = p.mk(EMember, x.pos)
			e.X, e.Op = x.e, tokText[t.p]
			p.advance()
			if f := p.cur(); f.kind == tIdent {
				e.Name = p.tokName(f)
				p.nodes++
				p.advance()
			} else {
				p.bad++
			}
			x = xnode{e: e, pos: x.pos, kind: "field_expression"}
		case "++", "--":
			p.nodes++ // update_expression
			e = p.mk(EUnary, x.pos)
			e.X, e.Op = x.e, "post++"
			if tokText[t.p] == "--" {
				e.Op = "post--"
			}
			p.advance()
			x = xnode{e: e, pos: x.pos, kind: "update_expression"}
		default:
			return x
		}
		x.chain = chain + 1
		if x.chain > deepChain {
			p.deep = true
		}
		x = p.finish(x)
	}
}

// args parses an argument list: the arguments and any ERRORs, in order.
func (p *goParser) args() []*Expr {
	p.nodes++ // argument_list
	p.punct(nil, "(")
	p.depth++
	defer func() { p.depth-- }()
	base := len(p.xs)
	if p.depth > goNest {
		if e := p.skipErr(); e != nil {
			p.xs = append(p.xs, e)
		}
		p.punct(nil, ")")
		return p.exprs(base)
	}
	for !p.eof() && !p.at(")") {
		start := p.pos
		if p.cur().kind == tDir {
			p.skipElse()
			continue
		}
		if p.at(",") {
			p.punct(nil, ",")
			continue
		}
		a := p.assign()
		if a.e == nil && p.at("{") {
			a = p.initializer()
		}
		if a.e != nil {
			p.xs = append(p.xs, a.e)
		}
		if !p.at(",") && !p.at(")") {
			if e := p.skipErr(); e != nil {
				p.xs = append(p.xs, e)
			}
		}
		if p.pos == start {
			break
		}
	}
	p.punct(nil, ")")
	return p.exprs(base)
}

func (p *goParser) initializer() xnode {
	if !p.at("{") {
		return p.assign()
	}
	p.depth++
	defer func() { p.depth-- }()
	pos := tokPos(p.cur())
	p.nodes++ // initializer_list
	p.punct(nil, "{")
	base := len(p.xs)
	if p.depth > goNest {
		if e := p.skipErr(); e != nil {
			p.xs = append(p.xs, e)
		}
	}
	for !p.eof() && !p.at("}") {
		start := p.pos
		switch {
		case p.cur().kind == tDir:
			p.skipElse()
		case p.at(","):
			p.punct(nil, ",")
		case p.at(".") || p.at("["):
			// initializer_pair: the builder's generic node of its
			// designators and value.
			pair := p.mk(EOther, tokPos(p.cur()))
			pair.Name = "initializer_pair"
			p.nodes++
			pbase := len(p.xs)
			for p.at(".") || p.at("[") {
				if p.at(".") {
					p.advance()
					if p.cur().kind == tIdent {
						p.xs = append(p.xs, p.leafExpr(EIdent, "field_identifier").e)
					}
				} else {
					p.advance()
					if d := p.expression(); d.e != nil {
						p.xs = append(p.xs, d.e)
					}
					p.punct(nil, "]")
				}
			}
			p.punct(nil, "=")
			if v := p.initializer(); v.e != nil {
				p.xs = append(p.xs, v.e)
			}
			pair.Args = p.exprs(pbase)
			p.xs = append(p.xs, pair)
		default:
			if v := p.initializer(); v.e != nil {
				p.xs = append(p.xs, v.e)
			}
		}
		if p.pos == start {
			if e := p.skipErr(); e != nil {
				p.xs = append(p.xs, e)
			}
			if p.pos == start {
				break
			}
		}
	}
	p.punct(nil, "}")
	e := p.mk(EInit, pos)
	e.Args = p.exprs(base)
	return p.finish(xnode{e: e, pos: pos, kind: "initializer_list"})
}

package lint

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// Buffer bounds: a fixed-size buffer (a pool allocation of a constant
// size, or a local array) indexed or copied into with a length the
// function never checks. Without value ranges the check is syntactic: a
// length or index is checked when it, or the bound it is compared with,
// appears in some condition (if, loop, ?:, ASSERT, switch) of the function
// against something else.

// fixedBuf is a buffer of constant size known in a function.
type fixedBuf struct {
	key   string
	size  *csrc.Expr // nil for an array declared without a constant size
	array bool       // size counts elements (an array), not bytes (an allocation)
	line  int
	what  string // "allocated by ExAllocatePool2 on line 12", "a local array"
}

// units names what a buffer's size counts.
func (f fixedBuf) units() string {
	if f.array {
		return "elements"
	}
	return "bytes"
}

// arrayBuf describes an array declaration of constant size, if d is one.
func arrayBuf(d *csrc.VarDecl, what string) (fixedBuf, bool) {
	if !d.Array || d.Pointer {
		return fixedBuf{}, false
	}
	var size *csrc.Expr
	if d.Len != nil && isFixed(d.Len, 0) {
		size = d.Len
	}
	return fixedBuf{key: d.Name, size: size, array: true, line: d.Pos.Line, what: what}, true
}

// comparison is one relational test found in a condition.
type comparison struct{ a, b *csrc.Expr }

type boundsInfo struct {
	fn    *csrc.Func
	bufs  map[string]fixedBuf
	cmps  []comparison
	tests map[string]int // keys tested in conditions, with how many tests
}

// isFixed reports a size that does not depend on a variable: numbers,
// sizeof, upper-case macro names and arithmetic of them.
func isFixed(e *csrc.Expr, depth int) bool {
	e = e.Strip()
	if e == nil || depth > 20 {
		return false
	}
	switch e.Kind {
	case csrc.ENumber, csrc.EChar, csrc.ESizeof:
		return true
	case csrc.EIdent:
		return e.Name != "" && strings.ToUpper(e.Name) == e.Name
	case csrc.EBinary:
		return isFixed(e.X, depth+1) && isFixed(e.Y, depth+1)
	}
	return false
}

func (c *checker) checkBounds(fn *csrc.Func) {
	b := &boundsInfo{fn: fn, bufs: map[string]fixedBuf{}, tests: map[string]int{}}
	for _, g := range c.f.Globals {
		if fn.Param(g.Name) != nil {
			continue
		}
		if buf, ok := arrayBuf(g, "a file-scope array"); ok {
			b.bufs[g.Name] = buf
		}
	}
	noteCond := func(e *csrc.Expr) {
		csrc.WalkExpr(e, func(x *csrc.Expr) bool {
			if x.Kind == csrc.EBinary {
				switch x.Op {
				case "<", "<=", ">", ">=", "==", "!=":
					b.cmps = append(b.cmps, comparison{x.X, x.Y})
				}
			}
			if k := x.Key(); k != "" {
				b.tests[k]++
			}
			return true
		})
	}
	csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
		switch s.Kind {
		case csrc.SIf, csrc.SLoop, csrc.SSwitch:
			if !s.Preproc {
				noteCond(s.Expr)
			}
		case csrc.SDecl:
			for _, d := range s.Decls {
				if buf, ok := arrayBuf(d, "a local array"); ok {
					b.bufs[d.Name] = buf
				} else {
					delete(b.bufs, d.Name) // a local hides a file-scope array
				}
				if d.Init != nil {
					b.noteAlloc(d.Name, d.Init)
				}
			}
		}
		csrc.StmtExprs(s, func(e *csrc.Expr) {
			csrc.WalkExpr(e, func(x *csrc.Expr) bool {
				switch x.Kind {
				case csrc.ECond:
					noteCond(x.X)
				case csrc.EAssign:
					if x.Op == "=" {
						if k := x.X.Key(); k != "" {
							b.noteAlloc(k, x.Y)
						}
					}
				case csrc.ECall:
					switch n := x.Callee(); {
					case strings.Contains(n, "ASSERT"), n == "min", n == "max", n == "MIN", n == "MAX",
						strings.HasPrefix(n, "Rtl") && strings.Contains(n, "Add"), strings.HasPrefix(n, "Rtl") && strings.Contains(n, "Mult"):
						for _, a := range x.Args {
							noteCond(a)
						}
					}
				}
				return true
			})
		})
		return true
	})
	if len(b.bufs) == 0 {
		return
	}
	seen := map[string]bool{}
	for _, x := range fn.Exprs() {
		switch x.Kind {
		case csrc.EIndex:
			buf, ok := b.bufs[x.X.Key()]
			if !ok || buf.size == nil {
				continue
			}
			if bound, why := b.unchecked(x.Y); bound != "" && !seen[x.Y.Key()+"@"+buf.key] {
				seen[x.Y.Key()+"@"+buf.key] = true
				c.reportFix(RuleBufferBound, fn, x.Pos,
					fmt.Sprintf("Compare %s with the buffer's size (%s) before indexing, and fail the request with STATUS_BUFFER_TOO_SMALL or STATUS_INVALID_PARAMETER when it does not fit", bound, buf.size.String()),
					"%s indexes %s (%s %s, %s) with %s, %s", x.String(), buf.key, buf.size.String(), buf.units(), buf.what, x.Y.String(), why)
			}
		case csrc.ECall:
			i, ok := sizeArgs[x.Callee()]
			if !ok || x.Callee() == "RtlCompareMemory" || x.Callee() == "RtlEqualMemory" {
				continue
			}
			dst := x.Arg(0).Strip()
			if dst != nil && dst.Kind == csrc.EUnary && dst.Op == "&" {
				continue
			}
			buf, ok := b.bufs[dst.Key()]
			if !ok || buf.size == nil {
				continue
			}
			n := x.Arg(i)
			bytes := buf.size.String()
			if buf.array {
				bytes = "sizeof(" + buf.key + ")"
			}
			if n == nil || isFixed(n, 0) || n.String() == buf.size.String() || n.String() == bytes {
				continue
			}
			if bound, why := b.unchecked(n); bound != "" {
				c.reportFix(RuleBufferBound, fn, x.Pos,
					fmt.Sprintf("Check %s against the buffer's size (%s) before the copy, and fail the request with STATUS_BUFFER_TOO_SMALL when it does not fit", bound, bytes),
					"%s copies %s bytes into %s (%s %s, %s); %s", x.Callee(), n.String(), buf.key, buf.size.String(), buf.units(), buf.what, why)
			}
		}
	}
}

// noteAlloc records k = allocator(..., constant size, ...).
func (b *boundsInfo) noteAlloc(k string, rhs *csrc.Expr) {
	r := rhs.Strip()
	if r == nil || r.Kind != csrc.ECall {
		delete(b.bufs, k)
		return
	}
	name := r.Callee()
	if _, ok := allocators[name]; !ok || !strings.HasPrefix(name, "ExAllocatePool") {
		delete(b.bufs, k)
		return
	}
	size := r.Arg(1)
	if size == nil || !isFixed(size, 0) {
		delete(b.bufs, k)
		return
	}
	b.bufs[k] = fixedBuf{key: k, size: size, line: r.Pos.Line, what: fmt.Sprintf("allocated by %s on line %d", name, r.Pos.Line)}
}

// unchecked returns the value that bounds a length or index expression
// when nothing in the function checks it, with the explanation; "" when
// it is constant, checked or not from outside the function.
func (b *boundsInfo) unchecked(n *csrc.Expr) (string, string) {
	n = n.Strip()
	if n == nil || isFixed(n, 0) {
		return "", ""
	}
	k := n.Key()
	if k == "" {
		return "", ""
	}
	if b.external(k) {
		if b.tests[k] == 0 {
			return k, fmt.Sprintf("%s comes from the caller and is never compared with anything", k)
		}
		return "", ""
	}
	// A local counter: judged by what the conditions compare it with.
	var bounds []string
	for _, cmp := range b.cmps {
		var other *csrc.Expr
		switch {
		case cmp.a.Key() == k:
			other = cmp.b
		case cmp.b.Key() == k:
			other = cmp.a
		default:
			continue
		}
		ok := boundKey(other, 0)
		if isFixed(other, 0) || ok == "" || !b.external(ok) {
			return "", ""
		}
		// The bound is checked when it appears in a test of its own.
		if b.tests[ok] > 1 {
			return "", ""
		}
		bounds = append(bounds, ok)
	}
	if len(bounds) == 0 {
		return "", ""
	}
	return bounds[0], fmt.Sprintf("which runs up to %s, a length from the caller that is never checked against the buffer's size", bounds[0])
}

// external reports a value that comes from outside the function: a
// parameter or something reached through one.
func (b *boundsInfo) external(k string) bool {
	root := rootKey(k)
	return b.fn.Param(root) != nil
}

// boundKey is the variable a loop bound is made of: FrameLength in
// FrameLength / sizeof(ULONG); "" when there is none or several.
func boundKey(e *csrc.Expr, depth int) string {
	e = e.Strip()
	if e == nil || depth > 10 {
		return ""
	}
	if k := e.Key(); k != "" {
		return k
	}
	if e.Kind == csrc.EBinary {
		switch {
		case isFixed(e.Y, 0):
			return boundKey(e.X, depth+1)
		case isFixed(e.X, 0):
			return boundKey(e.Y, depth+1)
		}
	}
	return ""
}

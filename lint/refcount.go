package lint

import (
	"github.com/bugcheck/bugcheck/lint/csrc"
)

// BCL038: an object's reference count is decremented, the object is
// destroyed when the count reaches zero, and yet the count (or the
// object) is read again on the path where this thread did not reach zero.
// Between the decrement and that read another thread can drop the last
// reference and free the object, so the read touches freed pool: a rare,
// load-dependent 0x50 or 0x7E. The count the decrement returned is the
// only value this thread may use afterwards.

// decrementers return the decremented value of their first argument.
var decrementers = map[string]bool{
	"InterlockedDecrement": true, "InterlockedDecrementRelease": true, "InterlockedDecrementAcquire": true,
	"InterlockedDecrementNoFence": true, "_InterlockedDecrement": true, "InterlockedDecrement64": true,
	"InterlockedDecrementSizeT": true, "ExInterlockedDecrementLong": true,
}

// objectFreers free the object their first argument points to.
var objectFreers = map[string]bool{
	"ExFreePool": true, "ExFreePoolWithTag": true, "ExFreePool2": true, "ObDereferenceObject": true,
	"WdfObjectDelete": true, "ExFreeToNPagedLookasideList": true, "ExFreeToLookasideListEx": true,
}

func (c *checker) checkRefRace(fn *csrc.Func) {
	if fn.Body == nil {
		return
	}
	type dec struct {
		call *csrc.Expr
		key  string // the count: m_cRef, ctx->RefCount
		root string // the object: "this" for a bare member, else ctx
	}
	var decs []dec
	for _, call := range fn.Calls() {
		if !decrementers[call.Callee()] {
			continue
		}
		a := call.Arg(0).Strip()
		if a == nil || a.Kind != csrc.EUnary || a.Op != "&" {
			continue
		}
		k := a.X.Key()
		if k == "" {
			continue
		}
		root := rootKey(k)
		if root == k {
			// A bare name: a C++ member when it is not a local or a
			// parameter. Members read like file-scope variables to a C
			// parser, so a "global" counts as a member here; only a
			// function that deletes this is reported for it.
			if d := c.lookup(fn, k); d != nil && c.f.Global(k) != d {
				continue
			}
			root = "this"
		}
		decs = append(decs, dec{call, k, root})
	}
	if len(decs) == 0 {
		return
	}
	for _, d := range decs {
		destroy := c.destroys(fn, d.root)
		if destroy == nil {
			continue
		}
		// The statement that decides on the decremented value: the if
		// whose condition holds the decrement or the local it went to.
		zero := zeroBranch(fn, d.call)
		csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
			if zero != nil && s == zero.Then {
				return false // the path that reached zero and destroys it
			}
			reported := false
			csrc.StmtExprs(s, func(e *csrc.Expr) {
				csrc.WalkExpr(e, func(x *csrc.Expr) bool {
					if reported || x == d.call {
						return false
					}
					if x.Pos.Off <= d.call.Pos.Off {
						return true
					}
					if x.Kind == csrc.ECall && x.Callee() == "" && x.X != nil {
						return true
					}
					if x.Key() == d.key && (x.Kind == csrc.EIdent || x.Kind == csrc.EMember) {
						reported = true
						c.report(RuleRefCountRace, fn, x.Pos, "%s is read here after %s decremented it on line %d, on the path where this thread did not release the last reference: another thread can release it and %s the object in between", d.key, d.call.Callee(), d.call.Pos.Line, destroy.verb)
						return false
					}
					return true
				})
			})
			return !reported
		})
	}
}

// destruction is how a function destroys an object.
type destruction struct {
	at   csrc.Pos
	verb string
}

// destroys finds where fn destroys the object root: delete this (which,
// parsed as C without a C++ grammar, reads as a declaration of "this" of
// type "delete"), delete p, or a free routine given the object.
func (c *checker) destroys(fn *csrc.Func, root string) *destruction {
	var found *destruction
	csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
		for _, d := range s.Decls {
			if found == nil && d.Type == "delete" && d.Name == root {
				found = &destruction{d.Pos, "delete"}
			}
		}
		return found == nil
	})
	if found != nil || root == "this" {
		return found
	}
	for _, x := range fn.Calls() {
		if objectFreers[x.Callee()] && x.Arg(0).Key() == root {
			return &destruction{x.Pos, "free"}
		}
	}
	return nil
}

// zeroBranch returns the if statement that tests the decremented value:
// its condition holds the decrement, or a local the decrement was
// assigned to.
func zeroBranch(fn *csrc.Func, call *csrc.Expr) *csrc.Stmt {
	local := ""
	var found *csrc.Stmt
	csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
		if found != nil {
			return false
		}
		if s.Kind == csrc.SIf && !s.Preproc && s.Expr != nil {
			hit := false
			csrc.WalkExpr(s.Expr, func(x *csrc.Expr) bool {
				if x == call || local != "" && x.Kind == csrc.EIdent && x.Name == local {
					hit = true
				}
				return !hit
			})
			if hit {
				found = s
				return false
			}
		}
		csrc.StmtExprs(s, func(e *csrc.Expr) {
			csrc.WalkExpr(e, func(x *csrc.Expr) bool {
				if x.Kind == csrc.EAssign && x.Y.Strip() == call {
					local = x.X.Key()
				}
				return true
			})
		})
		for _, d := range s.Decls {
			if d.Init.Strip() == call {
				local = d.Name
			}
		}
		return true
	})
	return found
}

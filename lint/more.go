package lint

import (
	"sort"
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// checkIrqlParams finds parameters annotated to receive the saved IRQL
// (_IRQL_saves_) or to give it back (_IRQL_restores_) that the function
// never touches: the caller later restores an IRQL that was never saved,
// or the IRQL stays raised.
func (c *checker) checkIrqlParams(fn *csrc.Func) {
	for _, p := range fn.Params {
		if p.Name == "" {
			continue
		}
		saves, restores := false, false
		for _, a := range p.Annots {
			switch a.Name {
			case "_IRQL_saves_", "__drv_savesIRQL":
				saves = true
			case "_IRQL_restores_", "__drv_restoresIRQL":
				restores = true
			}
		}
		if !saves && !restores || mentions(fn, p.Name) {
			continue
		}
		if saves {
			c.report(RuleIrqlNotSaved, fn, fn.Pos, "%s is annotated _IRQL_saves_ but %s never saves the IRQL into it (KeAcquireSpinLock, KeRaiseIrql)", p.Name, fn.Name)
		} else {
			c.report(RuleIrqlNotRestored, fn, fn.Pos, "%s is annotated _IRQL_restores_ but %s never restores the IRQL from it (KeReleaseSpinLock, KeLowerIrql)", p.Name, fn.Name)
		}
	}
}

// mentions reports whether the body uses a name at all.
func mentions(fn *csrc.Func, name string) bool {
	for _, x := range fn.Exprs() {
		if x.Kind == csrc.EIdent && x.Name == name {
			return true
		}
	}
	return false
}

// checkCallRules runs the call-level checks that need only the call and
// its function: the cancel routine's IRQL and waits on stack objects.
func (c *checker) checkCallRules(s *callSite) {
	call, fn := s.call, s.fn
	switch call.Callee() {
	case "IoReleaseCancelSpinLock":
		if c.roles[fn.Name] != "DRIVER_CANCEL" {
			return
		}
		a := call.Arg(0).Strip()
		if a == nil || a.Kind == csrc.EMember && a.Name == "CancelIrql" {
			return
		}
		// A local saved by this routine's own IoAcquireCancelSpinLock is
		// the right value for that acquisition.
		if a.Kind == csrc.EIdent && c.isLocalVar(fn, a) {
			return
		}
		c.reportFix(RuleCancelIrql, fn, call.Pos, "Release the cancel spin lock the I/O manager acquired with IoReleaseCancelSpinLock(Irp->CancelIrql)",
			"cancel routine %s releases the cancel spin lock with %s instead of Irp->CancelIrql, the IRQL saved when the I/O manager acquired it", fn.Name, a.String())
	case "KeWaitForSingleObject", "KeWaitForMultipleObjects", "KeWaitForMutexObject":
		obj, mode := call.Arg(0), call.Arg(2)
		if call.Callee() == "KeWaitForMultipleObjects" {
			obj, mode = call.Arg(1), call.Arg(4)
		}
		if mode == nil || mode.Strip().Name != "UserMode" {
			return
		}
		o := obj.Strip()
		if o == nil || o.Kind != csrc.EUnary || o.Op != "&" {
			return
		}
		k := o.X.Key()
		if k == "" || !c.isLocalTarget(fn, o.X) {
			return
		}
		if d := c.lookup(fn, rootKey(k)); d == nil || d.IsPointer() {
			return
		}
		c.reportFix(RuleWaitLocal, fn, call.Pos, "Pass KernelMode as the WaitMode when waiting on an object on the stack",
			"%s waits on %s, which lives on the stack, with WaitMode UserMode: the kernel stack may be paged out during the wait while another thread or a DPC signals the object there", call.Callee(), k)
	}
}

// checkLowerStatus finds dispatch routines that drop the status
// IoCallDriver returned (SDV's LowerDriverReturn): the routine must return
// what the lower driver returned (STATUS_PENDING above all), or the I/O
// manager completes or waits on the IRP wrongly.
func (c *checker) checkLowerStatus(fn *csrc.Func) {
	if c.roles[fn.Name] != "DRIVER_DISPATCH" || mentions(fn, "IoMarkIrpPending") {
		return // a routine that marked the IRP pending returns STATUS_PENDING itself
	}
	var calls []*csrc.Expr
	var waits []int
	var dropped []*csrc.Expr
	assigned := map[*csrc.Expr]string{}
	assignedAt := map[*csrc.Expr]int{}
	csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
		if s.Kind == csrc.SExpr && s.Expr != nil && s.Expr.Strip().Callee() == "IoCallDriver" {
			dropped = append(dropped, s.Expr.Strip())
		}
		for _, d := range s.Decls {
			if d.Init != nil && d.Init.Strip().Callee() == "IoCallDriver" {
				assigned[d.Init.Strip()] = d.Name
			}
		}
		csrc.StmtExprs(s, func(e *csrc.Expr) {
			csrc.WalkExpr(e, func(x *csrc.Expr) bool {
				switch x.Kind {
				case csrc.ECall:
					switch n := x.Callee(); {
					case n == "IoCallDriver":
						calls = append(calls, x)
					case strings.HasPrefix(n, "KeWaitFor"), strings.HasPrefix(n, "IoForwardIrpSynchronously"):
						waits = append(waits, x.Pos.Off)
					}
				case csrc.EAssign:
					if x.Op == "=" && x.Y.Strip().Callee() == "IoCallDriver" {
						if k := x.X.Key(); k != "" {
							assigned[x.Y.Strip()] = k
							assignedAt[x.Y.Strip()] = assignEnd(x)
						}
					}
				}
				return true
			})
		})
		return true
	})
	if len(calls) == 0 {
		return
	}
	roots := map[string]bool{}
	for _, k := range assigned {
		roots[rootKey(k)] = true
	}
	occs := varOccurrences(fn, roots)
	waitsAfter := func(off int) bool {
		for _, w := range waits {
			if w > off {
				return true
			}
		}
		return false
	}
	for _, call := range calls {
		if waitsAfter(call.Pos.Off) {
			continue // synchronous forwarding: the status comes from the IRP after the wait
		}
		isDropped := false
		for _, d := range dropped {
			if d == call {
				isDropped = true
			}
		}
		k := assigned[call]
		if !isDropped && k == "" {
			continue
		}
		if k != "" {
			list := occs[k]
			next := -1
			from := max(call.Pos.Off, assignedAt[call])
			for i, o := range list {
				if o.off > from {
					next = i
					break
				}
			}
			if next < 0 || !list[next].write {
				continue
			}
			c.report(RuleLowerStatus, fn, call.Pos, "the status IoCallDriver returns in %s is overwritten before it is used, so the dispatch routine does not return the lower driver's status (STATUS_PENDING in particular)", k)
			continue
		}
		c.report(RuleLowerStatus, fn, call.Pos, "the status IoCallDriver returns is ignored, so the dispatch routine does not return the lower driver's status (STATUS_PENDING in particular)")
	}
}

// walkAssignRHS walks the right side of an assignment with fn and tells
// WalkExpr not to descend into the assignment again.
func walkAssignRHS(x *csrc.Expr, fn func(*csrc.Expr)) bool {
	csrc.WalkExpr(x.Y, func(y *csrc.Expr) bool {
		fn(y)
		return true
	})
	// Sub-expressions of the left side (ctx->Len: ctx is read).
	if x.X != nil && x.X.Kind != csrc.EIdent {
		csrc.WalkExpr(x.X.X, func(y *csrc.Expr) bool {
			fn(y)
			return true
		})
	}
	return false
}

// pendingReturn judges a return on a path that marked the IRP pending: a
// dispatch routine that calls IoMarkIrpPending must return STATUS_PENDING,
// or the I/O manager and the completion disagree about who finishes the
// IRP.
func (c *checker) pendingReturn(fn *csrc.Func, mark, ret *csrc.Expr, st *state, at csrc.Pos) {
	if r := c.roles[fn.Name]; r == "IO_COMPLETION_ROUTINE" || r == "EVT_WDF_REQUEST_COMPLETION_ROUTINE" || mentions(fn, "PendingReturned") {
		return // completion routines propagate the pending flag and return their own statuses
	}
	r := ret.Strip()
	val := ""
	switch {
	case r.Kind == csrc.EIdent && strings.HasPrefix(r.Name, "STATUS_"):
		val = r.Name
	case r.Kind == csrc.EIdent:
		val = st.consts[r.Name]
	}
	if !strings.HasPrefix(val, "STATUS_") || val == "STATUS_PENDING" {
		return
	}
	c.report(RulePendingStatus, fn, mark.Pos, "%s marks the IRP pending here but returns %s at line %d", fn.Name, val, at.Line)
}

// Results not examined (CodeQL's ExaminedValue): when most calls of a
// routine in a file check its result, the calls that drop it are likely
// mistakes: a failure goes unnoticed and what the call should have set up
// is used anyway.
const (
	examinedMinCalls = 5    // calls of one routine before the share is judged
	examinedShare    = 0.75 // share of calls that must check the result
)

type resultUse struct {
	call     *csrc.Expr
	fn       *csrc.Func
	examined bool
}

func (c *checker) checkExamined() {
	// Only routines called often enough to be judged are worth the
	// per-call analysis: count first.
	counts := map[string]int{}
	for _, fn := range c.f.Funcs {
		for _, call := range fn.Calls() {
			if n := call.Callee(); n != "" && judgedCallee(n) {
				counts[n]++
			}
		}
	}
	judged := func(n string) bool { return counts[n] >= examinedMinCalls }
	uses := map[string][]resultUse{}
	var order []string
	for _, fn := range c.f.Funcs {
		for _, u := range resultUses(fn, judged) {
			n := u.call.Callee()
			if _, ok := uses[n]; !ok {
				order = append(order, n)
			}
			uses[n] = append(uses[n], u)
		}
	}
	for _, n := range order {
		us := uses[n]
		checked := 0
		for _, u := range us {
			if u.examined {
				checked++
			}
		}
		if len(us) < examinedMinCalls || checked == len(us) || float64(checked) < examinedShare*float64(len(us)) {
			continue
		}
		for _, u := range us {
			if !u.examined {
				c.report(RuleResultIgnored, u.fn, u.call.Pos, "the result of %s is not examined here, while %d of the %d calls of %s in this file check it", n, checked, len(us), n)
			}
		}
	}
}

// judgedCallee reports routines whose results the check judges: not
// macros, routines whose result may be dropped, or interlocked operations.
func judgedCallee(n string) bool {
	return !isMacroLike(n) && !droppable[n] && !strings.HasPrefix(n, "Interlocked")
}

// resultUses classifies every call in fn of a routine judged wants: its
// result is examined unless the call is a statement of its own, or its
// result is stored in a variable that is overwritten or never read
// afterwards. Calls cast to (void) drop the result on purpose and are
// left out.
func resultUses(fn *csrc.Func, judged func(string) bool) []resultUse {
	found := false
	for _, call := range fn.Calls() {
		if judged(call.Callee()) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	// What the statements say about each call: one map of small records
	// rather than a map per fact.
	type callFacts struct {
		isStored bool
		stored   string // the variable the result is stored in
		storedAt int    // where the store takes effect
		dropped  bool   // a statement of its own
		voided   bool   // cast to (void)
	}
	facts := map[*csrc.Expr]callFacts{}
	set := func(x *csrc.Expr, change func(*callFacts)) {
		f := facts[x]
		change(&f)
		facts[x] = f
	}
	csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
		if s.Kind == csrc.SExpr && s.Expr != nil {
			x := s.Expr
			if x.Kind == csrc.ECast && (strings.TrimSpace(x.Name) == "void" || strings.TrimSpace(x.Name) == "VOID") {
				set(x.Strip(), func(f *callFacts) { f.voided = true })
			} else if x.Kind == csrc.ECall {
				set(x, func(f *callFacts) { f.dropped = true })
			}
		}
		for _, d := range s.Decls {
			if d.Init != nil && d.Init.Strip().Kind == csrc.ECall {
				set(d.Init.Strip(), func(f *callFacts) { f.isStored, f.stored = true, d.Name })
			}
		}
		return true
	})
	var calls []*csrc.Expr
	for _, x := range fn.Exprs() {
		switch x.Kind {
		case csrc.ECall:
			if n := x.Callee(); n != "" && judged(n) {
				calls = append(calls, x)
			}
		case csrc.EAssign:
			if r := x.Y.Strip(); x.Op == "=" && r != nil && r.Kind == csrc.ECall {
				if k := x.X.Key(); k != "" {
					set(r, func(f *callFacts) { f.isStored, f.stored, f.storedAt = true, k, assignEnd(x) })
				}
			}
		}
	}
	var out []resultUse
	var pending []int // indexes into out of stored results to judge
	for _, call := range calls {
		f := facts[call]
		if f.voided || !judgedCallee(call.Callee()) {
			continue
		}
		u := resultUse{call: call, fn: fn, examined: !f.dropped}
		if f.isStored && !f.dropped {
			pending = append(pending, len(out))
		}
		out = append(out, u)
	}
	if len(pending) == 0 {
		return out
	}
	// Second pass, only for the variables results were stored in: their
	// reads and writes in source order, and the calls inside loops.
	roots := map[string]bool{}
	for _, i := range pending {
		roots[rootKey(facts[out[i].call].stored)] = true
	}
	occs := varOccurrences(fn, roots)
	inLoop := loopCalls(fn)
	for _, i := range pending {
		u := &out[i]
		f := facts[u.call]
		k := f.stored
		u.examined = false
		from := max(u.call.Pos.Off, f.storedAt)
		for _, o := range occs[k] {
			if o.off > from {
				u.examined = !o.write
				break
			}
		}
		if !u.examined && inLoop[u.call] {
			// In a loop the value may be read by the condition or the top
			// of the body on the next turn.
			for _, o := range occs[k] {
				if o.off < u.call.Pos.Off && !o.write {
					u.examined = true
				}
			}
		}
	}
	return out
}

// occurrence is a read or write of a variable, by offset.
type occurrence struct {
	off   int
	write bool
}

// varOccurrences lists, in source order, the reads and writes of the
// lvalues rooted at the given variables; a plain assignment counts as a
// write after everything its right side reads.
func varOccurrences(fn *csrc.Func, roots map[string]bool) map[string][]occurrence {
	occs := map[string][]occurrence{}
	note := func(x *csrc.Expr, write bool, off int) {
		if r := rootOf(x); r == "" || !roots[r] {
			return
		}
		if k := x.Key(); k != "" {
			occs[k] = append(occs[k], occurrence{off: off, write: write})
		}
	}
	csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
		csrc.StmtExprs(s, func(e *csrc.Expr) {
			csrc.WalkExpr(e, func(x *csrc.Expr) bool {
				switch x.Kind {
				case csrc.EAssign:
					if x.Op == "=" && x.X.Key() != "" {
						note(x.X, true, assignEnd(x))
						return walkAssignRHS(x, func(y *csrc.Expr) {
							if y.Kind == csrc.EIdent || y.Kind == csrc.EMember {
								note(y, false, y.Pos.Off)
							}
						})
					}
				case csrc.EIdent, csrc.EMember:
					note(x, false, x.Pos.Off)
				}
				return true
			})
		})
		return true
	})
	for _, list := range occs {
		sort.Slice(list, func(i, j int) bool { return list[i].off < list[j].off })
	}
	return occs
}

// rootOf is the variable an lvalue starts from, without building its key.
func rootOf(x *csrc.Expr) string {
	for d := 0; x != nil && d < 50; d++ {
		switch x.Kind {
		case csrc.EIdent:
			return x.Name
		case csrc.EMember, csrc.EIndex, csrc.ECast:
			x = x.X
		case csrc.EUnary:
			if x.Op != "*" {
				return ""
			}
			x = x.X
		default:
			return ""
		}
	}
	return ""
}

// loopCalls returns the calls inside loop statements of fn.
func loopCalls(fn *csrc.Func) map[*csrc.Expr]bool {
	in := map[*csrc.Expr]bool{}
	var walk func(s *csrc.Stmt, loop bool, depth int)
	walk = func(s *csrc.Stmt, loop bool, depth int) {
		if s == nil || depth > 400 {
			return
		}
		loop = loop || s.Kind == csrc.SLoop
		if loop {
			csrc.StmtExprs(s, func(e *csrc.Expr) {
				csrc.WalkExpr(e, func(x *csrc.Expr) bool {
					if x.Kind == csrc.ECall {
						in[x] = true
					}
					return true
				})
			})
		}
		walk(s.Then, loop, depth+1)
		walk(s.Else, loop, depth+1)
		for _, b := range s.Body {
			walk(b, loop, depth+1)
		}
	}
	walk(fn.Body, false, 0)
	return in
}

// isMacroLike reports upper-case names (macros such as PAGED_CODE,
// ASSERT, UNREFERENCED_PARAMETER), whose "result" means nothing.
func isMacroLike(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 0x80 {
			return strings.ToUpper(name) == name
		} else if c >= 'a' && c <= 'z' {
			return false
		}
	}
	return true
}

// assignEnd is where an assignment takes effect for ordering uses: after
// everything its right side reads (x = min(x, y) reads x first).
func assignEnd(x *csrc.Expr) int {
	end := x.Pos.Off
	csrc.WalkExpr(x.Y, func(y *csrc.Expr) bool {
		end = max(end, y.Pos.Off+1)
		return true
	})
	return end
}

// droppable routines are commonly called for their effect alone, their
// result needing no check (waits without a timeout, forwarding an IRP
// whose completion routine takes over, list and reference helpers).
var droppable = map[string]bool{
	"KeWaitForSingleObject": true, "KeWaitForMultipleObjects": true, "KeWaitForMutexObject": true,
	"IoCallDriver": true, "PoCallDriver": true, "KeSetEvent": true, "KeResetEvent": true, "KeReleaseSemaphore": true,
	"KeReleaseMutex": true, "ObDereferenceObject": true, "ObfDereferenceObject": true, "RemoveHeadList": true,
	"RemoveTailList": true, "RemoveEntryList": true, "KeCancelTimer": true, "KeSetTimer": true, "KeSetTimerEx": true,
	"KeInsertQueueDpc": true, "KeRemoveQueueDpc": true, "IoSetCancelRoutine": true, "IoSetCompletionRoutineEx": true,
	"ExInterlockedInsertTailList": true, "ExInterlockedInsertHeadList": true, "ExInterlockedRemoveHeadList": true,
	"PopEntryList": true, "PushEntryList": true, "KeInsertQueue": true, "IoReleaseRemoveLock": true,
	"DbgPrint": true, "DbgPrintEx": true, "min": true, "max": true, "RtlCompareMemory": true,
}

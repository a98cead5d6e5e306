package lint

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// The handle-lifetime checks: a request, IRP or WDFDEVICE_INIT that a
// call has ended (completed, sent down, consumed) must not be touched
// again, and a control device must be finished before DeviceAdd returns.
// They run a small path analysis of their own over each function that
// calls one of the ending routines: a handle counts as ended only when it
// is ended on every path that reaches the use, and an ending whose status
// result the code tests is undone on the failure side of that test.

// ender describes a routine that ends a handle.
type ender struct {
	arg  int    // the argument it ends
	rule string // the rule a later use breaks
	verb string // what it did: "completed it", "passed it to the lower driver"
}

var enders = map[string]ender{
	"WdfRequestComplete":                  {0, RuleRequestAfterComplete, "completed it"},
	"WdfRequestCompleteWithInformation":   {0, RuleRequestAfterComplete, "completed it"},
	"WdfRequestCompleteWithPriorityBoost": {0, RuleRequestAfterComplete, "completed it"},
	"IoCompleteRequest":                   {0, RuleRequestAfterComplete, "completed it"},
	"IofCompleteRequest":                  {0, RuleRequestAfterComplete, "completed it"},
	"IoCallDriver":                        {1, RuleRequestAfterComplete, "passed it to the lower driver"},
	"IofCallDriver":                       {1, RuleRequestAfterComplete, "passed it to the lower driver"},
	"PoCallDriver":                        {1, RuleRequestAfterComplete, "passed it to the lower driver"},
	"WdfDeviceCreate":                     {0, RuleDeviceInitAfterCreate, "took it"},
}

// requestParts are the routines that hand out memory belonging to a
// request: routine -> the out-parameter (or -1: the result) and the
// argument it belongs to. The memory goes away with the request.
var requestParts = map[string]struct{ out, of int }{
	"WdfRequestRetrieveInputBuffer":            {2, 0},
	"WdfRequestRetrieveOutputBuffer":           {2, 0},
	"WdfRequestRetrieveUnsafeUserInputBuffer":  {2, 0},
	"WdfRequestRetrieveUnsafeUserOutputBuffer": {2, 0},
	"WdfRequestRetrieveInputMemory":            {1, 0},
	"WdfRequestRetrieveOutputMemory":           {1, 0},
	"WdfRequestRetrieveInputWdmMdl":            {1, 0},
	"WdfRequestRetrieveOutputWdmMdl":           {1, 0},
	"WdfRequestWdmGetIrp":                      {-1, 0},
	"IoGetCurrentIrpStackLocation":             {-1, 0},
	"IoGetNextIrpStackLocation":                {-1, 0},
	"MmGetSystemAddressForMdlSafe":             {-1, 0},
	"MmGetSystemAddressForMdl":                 {-1, 0},
	"MmGetMdlVirtualAddress":                   {-1, 0},
	"WdfMemoryGetBuffer":                       {-1, 0},
}

// irpBuffers are the IRP fields that point at memory freed with the IRP.
var irpBuffers = []string{"->AssociatedIrp.SystemBuffer", "->MdlAddress", "->UserBuffer"}

// handleFact is an ended handle (or a control device not yet finished).
type handleFact struct {
	at    *csrc.Expr // the ending call
	of    string     // for request memory: the request it belongs to
	guard string     // the status that tells whether the ending happened
}

// hstate is what one path knows.
type hstate struct {
	dead    bool
	ended   map[string]handleFact // ended on every path
	from    map[string]string     // pointer -> the request or IRP it belongs to
	ctl     map[string]handleFact // control devices created, not finished (some path)
	ctlInit map[string]bool       // WDFDEVICE_INITs from WdfControlDeviceInitAllocate
	routine map[string]bool       // IRPs given a completion routine
	cancel  map[string]handleFact // requests marked cancelable (every path)
}

// newHState is the state at a function's entry. Its maps start nil and
// are made on the first write (put): most functions end nothing, and the
// state is copied at every branch.
func newHState() *hstate { return &hstate{} }

func (s *hstate) clone() *hstate {
	return &hstate{dead: s.dead, ended: copyMap(s.ended), from: copyMap(s.from), ctl: copyMap(s.ctl),
		ctlInit: copyMap(s.ctlInit), routine: copyMap(s.routine), cancel: copyMap(s.cancel)}
}

// copyMap copies m; an empty map copies as nil.
func copyMap[M ~map[K]V, K comparable, V any](m M) M {
	if len(m) == 0 {
		return nil
	}
	return cloneMap(m)
}

// put sets m[k] = v, making the map first when it is nil.
func put[M ~map[K]V, K comparable, V any](m *M, k K, v V) {
	if *m == nil {
		*m = M{}
	}
	(*m)[k] = v
}

// hmerge joins two paths: a handle stays ended only when it is ended on
// both; everything else is kept when either path has it.
func hmerge(a, b *hstate) *hstate {
	if c, ok := joinTrivial(a, b, (*hstate).clone); ok {
		return c
	}
	c := a.clone()
	intersect(c.ended, a.ended, b.ended)
	intersect(c.cancel, a.cancel, b.cancel)
	for k, v := range b.from {
		if _, ok := c.from[k]; !ok {
			put(&c.from, k, v)
		}
	}
	for k, v := range b.ctl {
		if _, ok := c.ctl[k]; !ok {
			put(&c.ctl, k, v)
		}
	}
	for k := range b.ctlInit {
		put(&c.ctlInit, k, true)
	}
	for k := range b.routine {
		put(&c.routine, k, true)
	}
	return c
}

// intersect keeps in c (a copy of a) the facts that hold on both paths.
func intersect(c, a, b map[string]handleFact) {
	for k, fa := range a {
		fb, ok := b[k]
		if !ok {
			delete(c, k)
			continue
		}
		if fa.guard == "" {
			fa.guard = fb.guard
		}
		c[k] = fa
	}
}

// hwalker runs the handle analysis of one function.
type hwalker struct {
	paths[*hstate]
	c  *checker
	fn *csrc.Func
}

// checkHandles runs the handle-lifetime analysis on fn when it calls a
// routine that ends a handle or creates a device.
func (c *checker) checkHandles(fn *csrc.Func) {
	relevant := false
	for _, call := range fn.Calls() {
		_, ends := enders[call.Callee()]
		_, cancels := cancelOps[call.Callee()]
		if ends || cancels {
			relevant = true
			break
		}
	}
	if !relevant || fn.Body == nil {
		return
	}
	w := &hwalker{c: c, fn: fn}
	w.paths = newPaths[*hstate](w)
	st := w.block(fn.Body, newHState(), 0)
	if st != nil && !st.dead {
		w.exit(st, fn.End)
	}
}

// finishesControlDevices reports a file that calls
// WdfControlFinishInitializing anywhere (where the analysis then trusts
// that control devices get finished); found once per file, when a
// control device is first created.
func (c *checker) finishesControlDevices() bool {
	if c.ctlFinish == 0 {
		c.ctlFinish = -1
		for _, s := range c.sites {
			if s.call.Callee() == "WdfControlFinishInitializing" {
				c.ctlFinish = 1
				break
			}
		}
	}
	return c.ctlFinish > 0
}

// The handle analysis's steps of the shared path walk (paths.go).

func (s *hstate) isDead() bool { return s.dead }

func (w *hwalker) clone(st *hstate) *hstate   { return st.clone() }
func (w *hwalker) merge(a, b *hstate) *hstate { return hmerge(a, b) }
func (w *hwalker) dead() *hstate              { return &hstate{dead: true} }
func (w *hwalker) try(bool)                   {}

// kill returns a dead copy: merges may return the very state they got.
func (w *hwalker) kill(st *hstate) *hstate {
	st = st.clone()
	st.dead = true
	return st
}

func (w *hwalker) exprStmt(e *csrc.Expr, st *hstate) { w.evalExpr(e, st, "", 0) }
func (w *hwalker) eval(e *csrc.Expr, st *hstate)     { w.evalExpr(e, st, "", 0) }

func (w *hwalker) decl(d *csrc.VarDecl, st *hstate) {
	if d.Init != nil {
		w.assign(&csrc.Expr{Kind: csrc.EIdent, Name: d.Name, Pos: d.Pos}, d.Init, st, 0)
	} else {
		st.forget(d.Name)
	}
}

func (w *hwalker) ret(s *csrc.Stmt, st *hstate) {
	if s.Expr != nil {
		w.evalExpr(s.Expr, st, "", 0)
	}
	w.exit(st, s.Pos)
}

// statusTest recognises a test of an NTSTATUS: NT_SUCCESS(s), s ==
// STATUS_SUCCESS and their negations, where s is a variable, an
// assignment to one, or a call. It returns the key the ending facts are
// guarded by and whether the true side is the success side.
func statusTest(e *csrc.Expr, depth int) (key string, success, ok bool) {
	e = e.Strip()
	if e == nil || depth > 20 {
		return "", false, false
	}
	operand := func(x *csrc.Expr) string {
		x = x.Strip()
		if x == nil {
			return ""
		}
		switch x.Kind {
		case csrc.EAssign:
			return x.X.Key()
		case csrc.ECall:
			return callGuard(x)
		}
		return x.Key()
	}
	switch e.Kind {
	case csrc.EUnary:
		if e.Op == "!" {
			k, s, ok := statusTest(e.X, depth+1)
			return k, !s, ok
		}
	case csrc.ECall:
		if e.Callee() == "NT_SUCCESS" && len(e.Args) == 1 {
			k := operand(e.Args[0])
			return k, true, k != ""
		}
	case csrc.EBinary:
		if e.Op != "==" && e.Op != "!=" {
			return "", false, false
		}
		x, y := e.X, e.Y
		if ys := y.Strip(); ys == nil || ys.Kind != csrc.EIdent || ys.Name != "STATUS_SUCCESS" {
			x, y = y, x
		}
		if ys := y.Strip(); ys != nil && ys.Kind == csrc.EIdent && ys.Name == "STATUS_SUCCESS" {
			k := operand(x)
			return k, e.Op == "==", k != ""
		}
	}
	return "", false, false
}

// callGuard names the status of a call whose result is tested directly.
func callGuard(call *csrc.Expr) string {
	return fmt.Sprintf("<call@%d>", call.Pos.Off)
}

// cond evaluates a condition and splits the path; on the failure side of
// a status test the endings that status reports never happened.
func (w *hwalker) cond(e *csrc.Expr, st *hstate) (*hstate, *hstate) {
	key, success, ok := statusTest(e, 0)
	w.evalExpr(e, st, "", 0)
	t, f := st.clone(), st.clone()
	if k, nonNullOnTrue, isNull := nullTest(e, 0); isNull {
		// WdfDeviceCreate sets the init pointer to NULL when it takes it:
		// where it is not NULL, it was not taken.
		side := f
		if nonNullOnTrue {
			side = t
		}
		if v, ended := side.ended[k]; ended && v.at.Callee() == "WdfDeviceCreate" {
			delete(side.ended, k)
		}
	}
	if !ok {
		return t, f
	}
	fail := f
	if !success {
		fail = t
	}
	for _, m := range []map[string]handleFact{fail.ended, fail.ctl, fail.cancel} {
		for k, v := range m {
			if v.guard == key {
				delete(m, k)
			}
		}
	}
	return t, f
}

// exempt reports callees that take a handle only as a value to print or
// as a tag, never touching what it points to.
func exempt(name string) bool {
	switch name {
	case "UNREFERENCED_PARAMETER", "IoReleaseRemoveLock", "IoReleaseRemoveLockEx", "IoReleaseRemoveLockAndWait",
		"IoReleaseRemoveLockAndWaitEx", "IoAcquireRemoveLock", "IoAcquireRemoveLockEx":
		return true
	}
	return strings.Contains(name, "Trace") || strings.Contains(name, "TRACE") || strings.Contains(name, "Print") ||
		strings.Contains(name, "PRINT")
}

// use reports a use of an ended handle.
func (w *hwalker) use(x *csrc.Expr, st *hstate, at csrc.Pos) {
	k := x.Key()
	if k == "" {
		return
	}
	f, ok := st.ended[k]
	if !ok {
		return
	}
	delete(st.ended, k)
	name := f.at.Callee()
	e := enders[name]
	switch {
	case e.rule == RuleDeviceInitAfterCreate:
		w.c.report(e.rule, w.fn, at, "%s is used here after %s on line %d consumed it: once the device is created the framework owns the WDFDEVICE_INIT and sets %s to NULL", k, name, f.at.Pos.Line, k)
	case f.of != "":
		w.c.report(e.rule, w.fn, at, "%s belongs to request %s and is used here after %s on line %d %s; it was freed with the request", k, f.of, name, f.at.Pos.Line, e.verb)
	default:
		w.c.report(e.rule, w.fn, at, "%s is used here after %s on line %d %s; it may already be freed", k, name, f.at.Pos.Line, e.verb)
	}
}

func (w *hwalker) evalExpr(e *csrc.Expr, st *hstate, guard string, depth int) {
	if e == nil || depth > 200 || st.dead {
		return
	}
	d := depth + 1
	switch e.Kind {
	case csrc.ESizeof:
		return
	case csrc.EAssign:
		if e.Op != "=" {
			w.evalExpr(e.Y, st, "", d)
			w.evalTarget(e.X, st, d)
			return
		}
		w.assign(e.X, e.Y, st, d)
		return
	case csrc.ECall:
		w.call(e, st, guard, d)
		return
	case csrc.EMember:
		if e.Op == "->" {
			w.use(e.X, st, e.Pos)
		}
	case csrc.EIndex:
		w.use(e.X, st, e.Pos)
	case csrc.EUnary:
		if e.Op == "*" {
			w.use(e.X, st, e.Pos)
		}
	}
	w.evalExpr(e.X, st, "", d)
	w.evalExpr(e.Y, st, "", d)
	w.evalExpr(e.Z, st, "", d)
	for _, a := range e.Args {
		w.evalExpr(a, st, "", d)
	}
}

// evalTarget evaluates an assignment's left side: its dereferences are
// uses, the variable itself is not.
func (w *hwalker) evalTarget(x *csrc.Expr, st *hstate, depth int) {
	x = x.Strip()
	if x == nil {
		return
	}
	switch x.Kind {
	case csrc.EIdent:
	case csrc.EMember:
		if x.Op == "->" {
			w.use(x.X, st, x.Pos)
		}
		w.evalTarget(x.X, st, depth+1)
	default:
		w.evalExpr(x, st, "", depth+1)
	}
}

// forget drops what is known about k (it is assigned a new value).
func (st *hstate) forget(k string) {
	delete(st.ended, k)
	delete(st.from, k)
	delete(st.ctlInit, k)
	delete(st.routine, k)
	delete(st.cancel, k)
	for d, of := range st.from {
		if of == k {
			delete(st.from, d)
		}
	}
}

func (w *hwalker) assign(lhs, rhs *csrc.Expr, st *hstate, depth int) {
	k := lhs.Key()
	w.evalExpr(rhs, st, k, depth+1)
	w.evalTarget(lhs, st, depth+1)
	if k == "" {
		// Stored somewhere the analysis does not follow: a control device
		// handed on is somebody else's to finish.
		if r := rhs.Key(); r != "" {
			delete(st.ctl, r)
		}
		return
	}
	if rk := rhs.Key(); rk != "" && strings.ContainsAny(k, "-.[*") {
		delete(st.ctl, rk) // stored in a structure: finished elsewhere
	}
	st.forget(k)
	r := rhs.Strip()
	for r != nil && r.Kind == csrc.EAssign {
		r = r.Y.Strip()
	}
	if r == nil {
		return
	}
	switch r.Kind {
	case csrc.ECall:
		name := r.Callee()
		if name == "WdfControlDeviceInitAllocate" {
			put(&st.ctlInit, k, true)
		}
		if p, ok := requestParts[name]; ok && p.out < 0 {
			if of := rootKey(r.Arg(p.of).Key()); of != "" {
				put(&st.from, k, of)
			}
		}
	case csrc.EIdent:
		// A copy of a request or IRP, or of memory that belongs to one.
		put(&st.from, k, r.Name)
	default:
		rk := r.Key()
		for _, f := range irpBuffers {
			if irp, ok := strings.CutSuffix(rk, f); ok && !strings.ContainsAny(irp, "-.[*") {
				put(&st.from, k, irp)
			}
		}
	}
}

// outParam returns the variable a call argument &x lets the callee set.
func outParam(a *csrc.Expr) string {
	a = a.Strip()
	if a != nil && a.Kind == csrc.EUnary && a.Op == "&" {
		return a.X.Key()
	}
	return ""
}

func (w *hwalker) call(e *csrc.Expr, st *hstate, guard string, depth int) {
	name := e.Callee()
	if name == "" {
		w.evalExpr(e.X, st, "", depth)
	}
	inner := ""
	if name == "NT_SUCCESS" && len(e.Args) == 1 {
		if a := e.Args[0].Strip(); a != nil && a.Kind == csrc.ECall {
			inner = callGuard(a)
		}
	}
	ex := exempt(name)
	ctlInit := false
	if name == "WdfDeviceCreate" {
		ctlInit = st.ctlInit[outParam(e.Arg(0))]
	}
	for _, a := range e.Args {
		if o := outParam(a); o != "" {
			if x := a.Strip().X.Strip(); x.Kind == csrc.EMember && x.Op == "->" {
				w.use(x.X, st, x.Pos)
			}
			continue
		}
		s := a.Strip()
		if s != nil && s.Kind == csrc.EUnary && s.Op == "&" {
			// &p->field: an address inside what p points to.
			if x := s.X.Strip(); x != nil && x.Kind == csrc.EMember && x.Op == "->" && !ex {
				w.use(x.X, st, x.Pos)
			}
		}
		if !ex && s != nil && s.Key() != "" {
			if f, ok := st.ended[s.Key()]; ok && f.at != nil {
				if en, isEnd := enders[name]; isEnd && en.rule == RuleRequestAfterComplete && enders[f.at.Callee()].verb == "completed it" && e.Arg(en.arg) == a {
					delete(st.ended, s.Key())
					w.c.report(RuleRequestAfterComplete, w.fn, s.Pos, "%s is completed again by %s; %s already completed it on line %d", s.Key(), name, f.at.Callee(), f.at.Pos.Line)
				} else {
					w.use(s, st, s.Pos)
				}
			}
		}
		g := ""
		if inner != "" {
			g = inner
		}
		w.evalExpr(a, st, g, depth)
	}
	// Out-parameters get new values.
	for i, a := range e.Args {
		o := outParam(a)
		if o == "" {
			continue
		}
		st.forget(o)
		delete(st.ctl, o)
		if p, ok := requestParts[name]; ok && p.out == i {
			if of := rootKey(e.Arg(p.of).Key()); of != "" {
				put(&st.from, o, of)
			}
		}
	}
	switch name {
	case "IoSetCompletionRoutine":
		if k := e.Arg(0).Key(); k != "" {
			put(&st.routine, k, true)
		}
	case "IoSetCompletionRoutineEx":
		if k := e.Arg(1).Key(); k != "" {
			put(&st.routine, k, true)
		}
	case "WdfControlFinishInitializing":
		if k := e.Arg(0).Key(); k != "" {
			delete(st.ctl, k)
		}
	}
	w.cancelable(e, name, st, guard)
	en, ok := enders[name]
	if !ok {
		// A control device or a cancelable request passed to anything but
		// the framework may be finished or unmarked there.
		if !strings.HasPrefix(name, "Wdf") {
			for _, a := range e.Args {
				if k := a.Key(); k != "" {
					delete(st.ctl, k)
					delete(st.cancel, k)
				}
			}
		}
		return
	}
	a := e.Arg(en.arg)
	if a == nil {
		return
	}
	fact := handleFact{at: e, guard: guard}
	if name == "WdfDeviceCreate" {
		init := outParam(a)
		if init == "" {
			return
		}
		if ctlInit {
			if dev := outParam(e.Arg(2)); dev != "" && !w.c.finishesControlDevices() {
				put(&st.ctl, dev, fact)
			}
		}
		put(&st.ended, init, fact)
		return
	}
	k := a.Key()
	if k == "" || strings.ContainsAny(k, "-.[*") {
		return
	}
	if strings.Contains(en.verb, "lower driver") && st.routine[k] {
		return // a completion routine gives the IRP back to this driver
	}
	if _, already := st.ended[k]; !already {
		put(&st.ended, k, fact)
	}
	for d := range st.from {
		if owner(st, d) == k {
			if _, already := st.ended[d]; !already {
				put(&st.ended, d, handleFact{at: e, of: k, guard: guard})
			}
		}
	}
}

// cancelOps are the framework calls that change or need a request's
// cancelable state: -1 marks it, 0 unmarks it, 1 needs it not cancelable.
var cancelOps = map[string]int{
	"WdfRequestMarkCancelable": -1, "WdfRequestMarkCancelableEx": -1, "WdfRequestUnmarkCancelable": 0,
	"WdfRequestComplete": 1, "WdfRequestCompleteWithInformation": 1, "WdfRequestCompleteWithPriorityBoost": 1,
	"WdfRequestForwardToIoQueue": 1, "WdfRequestForwardToParentDeviceIoQueue": 1, "WdfRequestRequeue": 1,
}

// cancelable follows WdfRequestMarkCancelable: a request marked twice, or
// completed or requeued while still marked, breaks the framework's cancel
// bookkeeping (the cancel routine may complete it too).
func (w *hwalker) cancelable(e *csrc.Expr, name string, st *hstate, guard string) {
	op, ok := cancelOps[name]
	if !ok {
		return
	}
	k := e.Arg(0).Key()
	if k == "" {
		return
	}
	prev, marked := st.cancel[k]
	switch op {
	case -1:
		if marked {
			w.c.report(RuleCancelableMisuse, w.fn, e.Pos, "%s is marked cancelable again by %s; %s on line %d already did, with no WdfRequestUnmarkCancelable in between", k, name, prev.at.Callee(), prev.at.Pos.Line)
		}
		g := ""
		if name == "WdfRequestMarkCancelableEx" {
			g = guard // it fails (and does not mark) when the request is already canceled
		}
		put(&st.cancel, k, handleFact{at: e, guard: g})
	case 0:
		delete(st.cancel, k)
	case 1:
		if marked {
			delete(st.cancel, k)
			w.c.report(RuleCancelableMisuse, w.fn, e.Pos, "%s hands on %s while it is still marked cancelable (%s on line %d): call WdfRequestUnmarkCancelable first, and leave the request to the cancel routine when that returns STATUS_CANCELLED", name, k, prev.at.Callee(), prev.at.Pos.Line)
		}
	}
}

// owner follows the belongs-to chain from d to the request or IRP.
func owner(st *hstate, d string) string {
	for i := 0; i < 8; i++ {
		of, ok := st.from[d]
		if !ok {
			return d
		}
		d = of
	}
	return d
}

// exit reports control devices left initializing.
func (w *hwalker) exit(st *hstate, at csrc.Pos) {
	for dev, f := range st.ctl {
		w.c.report(RuleControlNotFinished, w.fn, at, "control device %s, created by %s on line %d, is not finished with WdfControlFinishInitializing(%s) before %s returns", dev, f.at.Callee(), f.at.Pos.Line, dev, w.fn.Name)
	}
	for dev := range st.ctl {
		delete(st.ctl, dev)
	}
}

// nullTest recognises p, !p, p != NULL and p == NULL; it returns p's key
// and whether p is non-NULL where the condition is true.
func nullTest(e *csrc.Expr, depth int) (string, bool, bool) {
	e = e.Strip()
	if e == nil || depth > 20 {
		return "", false, false
	}
	switch e.Kind {
	case csrc.EUnary:
		if e.Op == "!" {
			k, nn, ok := nullTest(e.X, depth+1)
			return k, !nn, ok
		}
	case csrc.EBinary:
		if e.Op != "==" && e.Op != "!=" {
			return "", false, false
		}
		x, y := e.X, e.Y
		if !isNullConst(y.Strip()) {
			x, y = y, x
		}
		if isNullConst(y.Strip()) {
			if k := x.Key(); k != "" {
				return k, e.Op == "!=", true
			}
		}
	default:
		if k := e.Key(); k != "" {
			return k, true, true
		}
	}
	return "", false, false
}

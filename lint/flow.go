package lint

import (
	"maps"
	"reflect"
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// varState is what one path knows about a tracked pointer.
type varState struct {
	site      *csrc.Expr // the allocating call
	alloc     string     // allocator name
	maybeNull bool       // not yet compared with NULL on some path
	isNull    bool       // NULL on every path
	live      bool       // allocated, local, not freed or handed on (some path)
	freed     bool       // freed on every path
	freedAt   *csrc.Expr
	reported  bool
	when      guard // live only while this local holds this constant
}

// guard ties a path fact to a flag or status value, so that code such as
// "if (!NT_SUCCESS(status)) free(p)" or "if (lockHeld) release" after a
// join is judged per path.
type guard struct{ key, val string }

// distinguishing returns a constant a holds with a value that differs in b.
func distinguishing(a, b *state) guard {
	best := guard{}
	for k, av := range a.consts {
		if bv, ok := b.consts[k]; ok && bv != av && (best.key == "" || k < best.key) {
			best = guard{k, av}
		}
	}
	return best
}

// joinGuard combines the guards of a fact present on both joined paths:
// an unguarded side that holds the guard's value keeps the guard.
func joinGuard(ga guard, a *state, gb guard, b *state) guard {
	switch {
	case ga == gb:
		return ga
	case ga.key != "" && gb.key == "" && b.consts[ga.key] == ga.val:
		return ga
	case gb.key != "" && ga.key == "" && a.consts[gb.key] == gb.val:
		return gb
	}
	return guard{}
}

// prune drops facts guarded by key whose value keep rejects.
func prune(st *state, key string, keep func(string) bool) {
	if key == "" {
		return
	}
	for k, v := range st.vars {
		if v.when.key == key && !keep(v.when.val) {
			v.live, v.when = false, guard{}
			st.setVar(k, v)
		}
	}
	for k, h := range st.locks {
		if h.when.key == key && !keep(h.when.val) {
			st.delLock(k)
			st.delMust(k)
		}
	}
}

// held is a lock (or raised IRQL) held on a path.
type held struct {
	at    *csrc.Expr
	kind  string
	level int
	when  guard
}

// state is the abstract state on one path.
type state struct {
	vars   map[string]varState
	locks  map[string]held   // held on some path
	must   map[string]held   // held on every path
	consts map[string]string // flags and statuses holding a known constant (TRUE, STATUS_SUCCESS)
	dead   bool
	shared uint8 // maps shared with a clone (sharedVars, ...): copied before a write
}

func newState() *state {
	return &state{vars: map[string]varState{}, locks: map[string]held{}, must: map[string]held{}, consts: map[string]string{}}
}

// clone returns a copy of the state for another path. The copies share
// their maps until one of them writes to one (see own): most branches
// change little, and copying four maps at every branch was the walker's
// main cost.
func (s *state) clone() *state {
	s.shared = sharedAll
	c := *s
	return &c
}

// Bits of state.shared: which maps the state may share with a clone.
const (
	sharedVars uint8 = 1 << iota
	sharedLocks
	sharedMust
	sharedConsts
	sharedAll = sharedVars | sharedLocks | sharedMust | sharedConsts
)

// own copies the shared map named by bit before a write to it.
func (s *state) own(bit uint8) {
	if s.shared&bit == 0 {
		return
	}
	s.shared &^= bit
	// maps.Clone copies a map's table as it is, which costs less than
	// inserting every entry again (cloneMap); it returns nil only for nil.
	switch bit {
	case sharedVars:
		s.vars = ownMap(s.vars)
	case sharedLocks:
		s.locks = ownMap(s.locks)
	case sharedMust:
		s.must = ownMap(s.must)
	case sharedConsts:
		s.consts = ownMap(s.consts)
	}
}

// ownMap is the copy own makes: never a nil map.
func ownMap[M ~map[K]V, K comparable, V any](m M) M {
	if m == nil {
		return M{}
	}
	return maps.Clone(m)
}

// cloneMap copies m; unlike maps.Clone, never to a nil map.
func cloneMap[M ~map[K]V, K comparable, V any](m M) M {
	c := make(M, len(m))
	maps.Copy(c, m)
	return c
}

func (s *state) setVar(k string, v varState) { s.own(sharedVars); s.vars[k] = v }
func (s *state) setLock(k string, h held)    { s.own(sharedLocks); s.locks[k] = h }
func (s *state) setMust(k string, h held)    { s.own(sharedMust); s.must[k] = h }
func (s *state) setConst(k, v string)        { s.own(sharedConsts); s.consts[k] = v }

func (s *state) delVar(k string) {
	if _, ok := s.vars[k]; ok {
		s.own(sharedVars)
		delete(s.vars, k)
	}
}

func (s *state) delLock(k string) {
	if _, ok := s.locks[k]; ok {
		s.own(sharedLocks)
		delete(s.locks, k)
	}
}

func (s *state) delMust(k string) {
	if _, ok := s.must[k]; ok {
		s.own(sharedMust)
		delete(s.must, k)
	}
}

func (s *state) delConst(k string) {
	if _, ok := s.consts[k]; ok {
		s.own(sharedConsts)
		delete(s.consts, k)
	}
}

// merge joins two paths. A map both paths still share (neither wrote to
// it since they parted) is the join itself and stays shared.
func merge(a, b *state) *state {
	if c, ok := joinTrivial(a, b, (*state).clone); ok {
		return c
	}
	c := &state{}
	if sameMap(a.vars, b.vars) {
		c.vars = a.vars
		c.share(a, b, sharedVars)
	} else {
		c.vars = mergeVars(a, b)
	}
	if sameMap(a.locks, b.locks) {
		c.locks = a.locks
		c.share(a, b, sharedLocks)
	} else {
		c.locks = mergeLocks(a, b)
	}
	if sameMap(a.must, b.must) {
		c.must = a.must
		c.share(a, b, sharedMust)
	} else {
		c.must = map[string]held{}
		for k, v := range a.must {
			if _, ok := b.must[k]; ok {
				c.must[k] = v
			}
		}
	}
	if sameMap(a.consts, b.consts) {
		c.consts = a.consts
		c.share(a, b, sharedConsts)
	} else {
		c.consts = map[string]string{}
		for k, v := range a.consts {
			if b.consts[k] == v {
				c.consts[k] = v
			}
		}
	}
	return c
}

// sameMap reports whether two maps are one.
func sameMap[M ~map[K]V, K comparable, V any](a, b M) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// share marks the map named by bit as shared by c, a and b.
func (c *state) share(a, b *state, bit uint8) {
	a.shared |= bit
	b.shared |= bit
	c.shared |= bit
}

func mergeVars(a, b *state) map[string]varState {
	c := make(map[string]varState, max(len(a.vars), len(b.vars)))
	for k, va := range a.vars {
		vb, ok := b.vars[k]
		if !ok {
			// Untracked on the other path: keep what can still go wrong.
			va.freed, va.isNull = false, false
			if va.live && va.when.key == "" {
				va.when = distinguishing(a, b)
			}
			c[k] = va
			continue
		}
		v := va
		switch {
		case va.live && !vb.live:
			if v.when.key == "" {
				v.when = distinguishing(a, b)
			}
		case vb.live && !va.live:
			v.when = vb.when
			if v.when.key == "" {
				v.when = distinguishing(b, a)
			}
		case va.live && vb.live:
			v.when = joinGuard(va.when, a, vb.when, b)
		}
		if v.site == nil {
			v.site, v.alloc = vb.site, vb.alloc
		}
		v.maybeNull = va.maybeNull || vb.maybeNull
		v.isNull = va.isNull && vb.isNull
		v.live = va.live || vb.live
		v.freed = va.freed && vb.freed
		v.reported = va.reported || vb.reported
		c[k] = v
	}
	for k, vb := range b.vars {
		if _, ok := a.vars[k]; !ok {
			vb.freed, vb.isNull = false, false
			if vb.live && vb.when.key == "" {
				vb.when = distinguishing(b, a)
			}
			c[k] = vb
		}
	}
	return c
}

func mergeLocks(a, b *state) map[string]held {
	c := make(map[string]held, max(len(a.locks), len(b.locks)))
	for k, v := range a.locks {
		if vb, ok := b.locks[k]; !ok && v.when.key == "" {
			v.when = distinguishing(a, b)
		} else if ok {
			v.when = joinGuard(v.when, a, vb.when, b)
		}
		c[k] = v
	}
	for k, v := range b.locks {
		if _, ok := a.locks[k]; !ok {
			if v.when.key == "" {
				v.when = distinguishing(b, a)
			}
			c[k] = v
		}
	}
	return c
}

// callSite records a call with the IRQL raised on the way to it.
type callSite struct {
	call      *csrc.Expr
	fn        *csrc.Func
	raisedAll int // raised on every path (0 when not)
	raisedAny int // raised on some path
	inTry     bool
	probed    bool // a ProbeFor* call was seen earlier in the function
}

// walker runs the path analysis of one function.
type walker struct {
	c  *checker
	fn *csrc.Func
	paths[*state]
	locals   map[string]bool
	tryDepth int
	sites    []callSite
	probed   bool
	exits    []*state
	marked   *csrc.Expr // the last IoMarkIrpPending call
}

// pendingKey is the path fact "IoMarkIrpPending was called" in
// state.consts (not a C identifier, so no assignment clears it).
const pendingKey = "<pending>"

func (w *walker) run() {
	w.locals = map[string]bool{}
	w.paths = newPaths[*state](w)
	csrc.WalkStmt(w.fn.Body, func(s *csrc.Stmt) bool {
		for _, d := range s.Decls {
			w.locals[d.Name] = true
		}
		return true
	})
	st := w.block(w.fn.Body, newState(), 0)
	if st != nil && !st.dead {
		w.exit(st, nil, w.fn.End)
	}
}

// The walker's steps of the shared path walk (paths.go).

func (s *state) isDead() bool { return s.dead }

func (w *walker) clone(st *state) *state   { return st.clone() }
func (w *walker) merge(a, b *state) *state { return merge(a, b) }
func (w *walker) dead() *state             { return &state{dead: true} }

func (w *walker) kill(st *state) *state {
	st.dead = true
	return st
}

func (w *walker) try(enter bool) {
	if enter {
		w.tryDepth++
	} else {
		w.tryDepth--
	}
}

func (w *walker) exprStmt(e *csrc.Expr, st *state) {
	w.eval(e, st)
	if x := e.Strip(); x != nil && x.Kind == csrc.ECall {
		w.trackString(x, st)
	}
}

func (w *walker) decl(d *csrc.VarDecl, st *state) {
	if d.Init != nil {
		w.assign(&csrc.Expr{Kind: csrc.EIdent, Name: d.Name, Pos: d.Pos}, d.Init, st)
	} else {
		st.delVar(d.Name)
	}
}

func (w *walker) ret(s *csrc.Stmt, st *state) {
	if s.Expr != nil {
		w.eval(s.Expr, st)
		if k := s.Expr.Key(); k != "" {
			w.escape(k, st)
		}
		csrc.WalkExpr(s.Expr, func(x *csrc.Expr) bool {
			if x.Kind == csrc.EUnary && x.Op == "&" {
				if k := x.X.Key(); k != "" {
					w.escape(rootKey(k), st)
				}
			}
			return true
		})
	}
	w.exit(st, s.Expr, s.Pos)
}

// cond evaluates a condition and returns the states where it is true and
// where it is false.
func (w *walker) cond(e *csrc.Expr, st *state) (*state, *state) {
	if e == nil {
		return st, st.clone()
	}
	e = e.Strip()
	switch {
	case e.Kind == csrc.EUnary && e.Op == "!":
		t, f := w.cond(e.X, st)
		return f, t
	case e.Kind == csrc.EBinary && e.Op == "&&":
		ta, fa := w.cond(e.X, st)
		tb, fb := w.cond(e.Y, ta)
		return tb, merge(fa, fb)
	case e.Kind == csrc.EBinary && e.Op == "||":
		ta, fa := w.cond(e.X, st)
		tb, fb := w.cond(e.Y, fa)
		return merge(ta, tb), fb
	case e.Kind == csrc.EBinary && (e.Op == "==" || e.Op == "!="):
		k := ""
		switch {
		case isNullConst(e.Y):
			k = w.condKey(e.X, st)
		case isNullConst(e.X):
			k = w.condKey(e.Y, st)
		default:
			// A fresh allocation never equals a pointer that is not a copy of
			// it: where p == q holds, p is not the allocation.
			w.eval(e, st)
			eq, ne := st, st.clone()
			for _, pair := range [][2]*csrc.Expr{{e.X, e.Y}, {e.Y, e.X}} {
				pk, qk := pair[0].Key(), pair[1].Key()
				pv, ok := eq.vars[pk]
				if pk == "" || !ok || pv.site == nil {
					continue
				}
				if qv, ok := eq.vars[qk]; ok && qv.site == pv.site {
					continue
				}
				pv.live = false
				eq.setVar(pk, pv)
			}
			if e.Op == "!=" {
				return ne, eq
			}
			return eq, ne
		}
		t, f := st, st.clone()
		if k != "" {
			setNull(t, k, true)
			setNull(f, k, false)
		}
		if e.Op == "!=" {
			return f, t
		}
		return t, f
	case e.Kind == csrc.ECall && stringAllocs[e.Callee()] != "":
		// if (RtlCreateUnicodeString(&s, ...)): allocated where it is true.
		w.eval(e, st)
		t, f := st, st.clone()
		w.trackString(e, t)
		return t, f
	case e.Kind == csrc.ECall && (e.Callee() == "NT_SUCCESS" || e.Callee() == "NT_ERROR"):
		w.eval(e, st)
		t, f := st, st.clone()
		if e.Callee() == "NT_SUCCESS" && e.Arg(0) != nil {
			key := e.Arg(0).Key()
			prune(t, key, successStatus)
			prune(f, key, func(v string) bool { return !successStatus(v) })
			if v, ok := st.consts[key]; ok {
				if successStatus(v) {
					f.dead = true
				} else {
					t.dead = true
				}
			}
		}
		return t, f
	}
	k := w.condKey(e, st)
	t, f := st, st.clone()
	prune(t, k, func(v string) bool { return v != "FALSE" })
	prune(f, k, func(v string) bool { return v == "FALSE" })
	switch st.consts[k] {
	case "TRUE":
		f.dead = true
	case "FALSE":
		t.dead = true
	case "":
		if _, ptr := st.vars[k]; k != "" && w.locals[k] && !ptr {
			// Inside "if (flag)" the flag is known on each side.
			t.setConst(k, "TRUE")
			f.setConst(k, "FALSE")
		}
	}
	if k != "" {
		setNull(t, k, false)
		setNull(f, k, true)
	}
	return t, f
}

// condKey evaluates a tested pointer expression (possibly an assignment)
// and returns its key.
func (w *walker) condKey(e *csrc.Expr, st *state) string {
	e = e.Strip()
	if e == nil {
		return ""
	}
	if e.Kind == csrc.EAssign && e.Op == "=" {
		w.eval(e, st)
		return e.X.Key()
	}
	k := e.Key()
	if k == "" {
		w.eval(e, st)
		return ""
	}
	// Testing p->field dereferences p.
	w.evalUses(e, st)
	return k
}

func setNull(st *state, k string, null bool) {
	v, ok := st.vars[k]
	if !ok {
		return
	}
	v.maybeNull = false
	v.isNull = null
	if null {
		v.live = false
		v.freed = false
	}
	st.setVar(k, v)
}

func isNullConst(e *csrc.Expr) bool {
	e = e.Strip()
	return e != nil && (e.Kind == csrc.EIdent && (e.Name == "NULL" || e.Name == "nullptr") || e.Kind == csrc.ENumber && (e.Name == "0" || e.Name == "0L"))
}

// rootKey is the variable a key starts from: ctx->Buffer -> ctx.
func rootKey(k string) string {
	k = strings.TrimLeft(k, "*")
	if i := strings.IndexAny(k, "-.["); i > 0 {
		return k[:i]
	}
	return k
}

// eval walks an expression for its effects: uses, assignments, calls.
func (w *walker) eval(e *csrc.Expr, st *state) {
	w.evalDepth(e, st, 0)
}

func (w *walker) evalDepth(e *csrc.Expr, st *state, depth int) {
	if e == nil || depth > 200 || st.dead {
		return
	}
	d := depth + 1
	switch e.Kind {
	case csrc.ESizeof:
		return
	case csrc.EAssign:
		if e.Op != "=" {
			w.evalDepth(e.Y, st, d)
			w.evalUses(e.X, st)
			if len(st.consts) > 0 {
				st.delConst(e.X.Key())
			}
			return
		}
		w.assign(e.X, e.Y, st)
		return
	case csrc.ECall:
		for _, a := range e.Args {
			w.evalDepth(a, st, d)
		}
		if e.Callee() == "" {
			w.evalDepth(e.X, st, d)
		}
		w.call(e, st)
		return
	case csrc.EMember:
		if e.Op == "->" {
			w.use(e.X, st, e)
		}
		w.evalDepth(e.X, st, d)
		return
	case csrc.EIndex:
		w.use(e.X, st, e)
		w.evalDepth(e.X, st, d)
		w.evalDepth(e.Y, st, d)
		return
	case csrc.EUnary:
		if e.Op == "*" {
			w.use(e.X, st, e)
		}
		if (strings.HasSuffix(e.Op, "++") || strings.HasSuffix(e.Op, "--")) && len(st.consts) > 0 {
			st.delConst(e.X.Key())
		}
		if e.Op == "&" {
			// &p->field computes an address without reading p's target.
			if x := e.X.Strip(); x != nil && x.Kind == csrc.EMember {
				w.evalDepth(x.X, st, d)
				return
			}
		}
		w.evalDepth(e.X, st, d)
		return
	case csrc.EBinary:
		if e.Op == "&&" || e.Op == "||" {
			w.evalDepth(e.X, st, d)
			w.evalDepth(e.Y, st, d)
			return
		}
	case csrc.ECond:
		t, f := w.cond(e.X, st)
		w.evalDepth(e.Y, t, d)
		w.evalDepth(e.Z, f, d)
		m := merge(t, f)
		*st = *m
		return
	}
	w.evalDepth(e.X, st, d)
	w.evalDepth(e.Y, st, d)
	w.evalDepth(e.Z, st, d)
	for _, a := range e.Args {
		w.evalDepth(a, st, d)
	}
}

// evalUses records only the dereferences inside an lvalue.
func (w *walker) evalUses(e *csrc.Expr, st *state) {
	e = e.Strip()
	if e == nil {
		return
	}
	switch e.Kind {
	case csrc.EMember:
		if e.Op == "->" {
			w.use(e.X, st, e)
		}
		w.evalUses(e.X, st)
	case csrc.EIndex:
		w.use(e.X, st, e)
		w.evalUses(e.X, st)
		w.eval(e.Y, st)
	case csrc.EUnary:
		if e.Op == "*" {
			w.use(e.X, st, e)
		}
		if (strings.HasSuffix(e.Op, "++") || strings.HasSuffix(e.Op, "--")) && len(st.consts) > 0 {
			st.delConst(e.X.Key())
		}
		w.evalUses(e.X, st)
	default:
		w.eval(e, st)
	}
}

// use records a dereference of x.
func (w *walker) use(x *csrc.Expr, st *state, at *csrc.Expr) {
	if len(st.vars) == 0 {
		return // nothing tracked: no key to build
	}
	k := x.Key()
	if k == "" {
		return
	}
	v, ok := st.vars[k]
	if !ok {
		return
	}
	if v.maybeNull && !v.reported && v.site != nil {
		w.c.nullDeref(w.fn, k, v, at)
		v.reported = true
	}
	if v.freed && v.freedAt != nil {
		w.c.report(RuleUseAfterFree, w.fn, at.Pos, "%s is used here after it was freed by %s on line %d", k, v.freedAt.Callee(), v.freedAt.Pos.Line)
		v.freed = false
	}
	v.maybeNull = false
	st.setVar(k, v)
}

// escape marks a tracked pointer as handed on: no longer this function's
// to free.
func (w *walker) escape(k string, st *state) {
	v, ok := st.vars[k]
	if !ok {
		return
	}
	v.live = false
	st.setVar(k, v)
	if v.site == nil {
		return
	}
	// Copies of the pointer (p2 = p) share the allocation.
	for ak, av := range st.vars {
		if av.site == v.site && av.live {
			av.live = false
			st.setVar(ak, av)
		}
	}
}

func (w *walker) assign(lhs, rhs *csrc.Expr, st *state) {
	w.eval(rhs, st)
	w.evalUses(lhs, st)
	w.releaseString(rhs.Key(), st)
	k := lhs.Key()
	if k == "" {
		if r := rhs.Key(); r != "" {
			w.escape(r, st)
		}
		return
	}
	st.delConst(k)
	for vk, v := range st.vars {
		if v.when.key == k {
			v.when = guard{}
			st.setVar(vk, v)
		}
	}
	for lk, h := range st.locks {
		if h.when.key == k {
			h.when = guard{}
			st.setLock(lk, h)
		}
	}
	if r := rhs.Strip(); r != nil && w.locals[k] && r.Kind == csrc.EIdent && (r.Name == "TRUE" || r.Name == "FALSE" || strings.HasPrefix(r.Name, "STATUS_")) {
		st.setConst(k, r.Name)
	}
	// Forget what was known about k and everything reached through it.
	for vk := range st.vars {
		if rest, ok := strings.CutPrefix(vk, k); ok && (rest == "" || strings.HasPrefix(rest, "->") || strings.HasPrefix(rest, ".")) {
			st.delVar(vk)
		}
	}
	r := rhs.Strip()
	for r != nil && r.Kind == csrc.EAssign {
		r = r.Y.Strip()
	}
	if r == nil {
		return
	}
	local := w.locals[k]
	switch {
	case r.Kind == csrc.ECall:
		name := r.Callee()
		a, ok := allocators[name]
		if !ok {
			return
		}
		v := varState{site: r, alloc: name, maybeNull: !a.raises && !raisesOnFailure(r, a), live: local}
		st.setVar(k, v)
		w.c.stored(w.fn, k, local, r)
	case isNullConst(r):
		st.setVar(k, varState{isNull: true})
	default:
		if rk := r.Key(); rk != "" {
			if v, ok := st.vars[rk]; ok {
				// p2 = p: follow the copy; the original stops being ours
				// to free when the copy leaves the function.
				nv := v
				nv.live = local && v.live
				nv.reported = v.reported
				st.setVar(k, nv)
				if !local {
					w.escape(rk, st)
					if v.site != nil {
						w.c.stored(w.fn, k, false, v.site)
					}
				} else {
					w.escape(rk, st)
				}
			}
		}
	}
}

// trackString starts tracking the string a string allocator (called as
// a statement, or tested) fills, when it is a local of this function.
func (w *walker) trackString(call *csrc.Expr, st *state) {
	if _, ok := stringAllocs[call.Callee()]; !ok {
		return
	}
	k := stringKey(call.Arg(0))
	if k == "" || !w.locals[rootKey(k)] || strings.ContainsAny(k, "-.[*") {
		return
	}
	st.setVar(k, varState{site: call, alloc: call.Callee(), live: true})
}

// stringKey is the key of a string argument: s for &s or s.
func stringKey(a *csrc.Expr) string {
	a = a.Strip()
	if a != nil && a.Kind == csrc.EUnary && a.Op == "&" {
		a = a.X
	}
	return a.Key()
}

// releaseString stops tracking a string whose buffer is handed on or
// freed through its Buffer field (ExFreePool(s.Buffer), g.Buffer = s.Buffer).
func (w *walker) releaseString(k string, st *state) {
	for _, sep := range []string{".Buffer", "->Buffer"} {
		if x, ok := strings.CutSuffix(k, sep); ok {
			if v, ok := st.vars[x]; ok && stringAllocs[v.alloc] != "" && v.live {
				v.live = false
				st.setVar(x, v)
			}
		}
	}
}

func raisesOnFailure(call *csrc.Expr, a allocator) bool {
	if a.typeArg < 0 {
		return false
	}
	arg := call.Arg(a.typeArg)
	if arg == nil {
		return false
	}
	s := arg.String()
	return strings.Contains(s, "POOL_FLAG_RAISE_ON_FAILURE") || strings.Contains(s, "POOL_RAISE_IF_ALLOCATION_FAILURE") || strings.Contains(s, "MustSucceed")
}

func (w *walker) call(e *csrc.Expr, st *state) {
	name := e.Callee()
	level := func(m map[string]held) int {
		l := 0
		for _, h := range m {
			if h.level > l {
				l = h.level
			}
		}
		return l
	}
	w.sites = append(w.sites, callSite{call: e, fn: w.fn, raisedAll: level(st.must), raisedAny: level(st.locks), inTry: w.tryDepth > 0, probed: w.probed})
	if strings.HasPrefix(name, "ProbeFor") {
		w.probed = true
	}
	if name == "IoMarkIrpPending" {
		st.setConst(pendingKey, "1")
		w.marked = e
	}
	if len(st.vars) > 0 {
		for _, a := range e.Args {
			w.releaseString(stringKey(a), st)
		}
	}
	if _, ok := stringAllocs[name]; ok {
		return // tracked by trackString where the result is tested or dropped
	}
	if stringFreers[name] {
		if k := stringKey(e.Arg(0)); k != "" {
			if v, ok := st.vars[k]; ok {
				v.live = false
				st.setVar(k, v)
			}
		}
		return
	}
	if op, ok := lockOps[name]; ok {
		w.lock(e, op, st)
		return
	}
	if i, ok := freers[name]; ok {
		if a := e.Arg(i); a != nil {
			k := a.Key()
			if k != "" {
				v, tracked := st.vars[k]
				switch {
				case tracked && v.freed && v.freedAt != nil:
					w.c.report(RuleDoubleFree, w.fn, e.Pos, "%s is freed again here; it was already freed by %s on line %d", k, v.freedAt.Callee(), v.freedAt.Pos.Line)
				case tracked && v.isNull && poolFreers[name]:
					w.c.report(RuleFreeNull, w.fn, e.Pos, "%s is NULL on this path when it is passed to %s", k, name)
				}
				v.freed, v.freedAt, v.live, v.maybeNull, v.isNull = true, e, false, false, false
				st.setVar(k, v)
				w.escape(k, st)
			}
		}
		return
	}
	if idx, ok := derefArgs[name]; ok {
		for _, i := range idx {
			if a := e.Arg(i); a != nil {
				w.use(a, st, e)
			}
		}
		return
	}
	if nonEscaping[name] {
		return
	}
	// Anything else may keep the pointer: it is handed on.
	for _, a := range e.Args {
		a = a.Strip()
		if a == nil {
			continue
		}
		if k := a.Key(); k != "" {
			w.escape(k, st)
			continue
		}
		if a.Kind == csrc.EUnary && a.Op == "&" {
			if k := a.X.Key(); k != "" {
				w.escape(rootKey(k), st)
				w.escape(k, st)
				// &p lets the callee store a new value in p.
				st.delVar(k)
				st.delConst(k)
			}
		}
	}
}

func (w *walker) lock(e *csrc.Expr, op lockOp, st *state) {
	key := op.key
	if op.arg >= 0 {
		a := e.Arg(op.arg)
		if a == nil {
			return
		}
		a = a.Strip()
		if a.Kind == csrc.EUnary && a.Op == "&" {
			a = a.X
		}
		key = a.String()
	}
	name := e.Callee()
	if !op.acquire {
		st.delLock(key)
		st.delMust(key)
		return
	}
	lvl := op.level
	if (name == "KeRaiseIrql" || name == "KfRaiseIrql") && e.Arg(0).Strip().Callee() == "KeGetCurrentIrql" {
		return // raising to the current IRQL changes nothing
	}
	if name == "KeRaiseIrql" || name == "KfRaiseIrql" {
		lvl = parseIRQL(e.Arg(0).String())
		if lvl == unknown {
			lvl = dispatch
		}
	}
	if h, ok := st.must[key]; ok && op.kind != "raised IRQL" && !strings.HasPrefix(name, "IoAcquireCancel") || ok && name == "IoAcquireCancelSpinLock" {
		w.c.report(RuleLockTwice, w.fn, e.Pos, "the %s %s is acquired again by %s while this path still holds it from line %d", h.kind, key, name, h.at.Pos.Line)
	}
	h := held{at: e, kind: op.kind, level: lvl}
	st.setLock(key, h)
	st.setMust(key, h)
}

// exit checks the state at a return.
func (w *walker) exit(st *state, ret *csrc.Expr, at csrc.Pos) {
	w.exits = append(w.exits, st.clone())
	if st.consts[pendingKey] == "1" && ret != nil && w.marked != nil {
		w.c.pendingReturn(w.fn, w.marked, ret, st, at)
	}
	for k, v := range st.vars {
		if v.live && v.site != nil && !v.isNull {
			w.c.leak(w.fn, k, v, at)
			v.live = false
			st.setVar(k, v)
		}
	}
	if w.c.holdsOnExit(w.fn) {
		return
	}
	for k, h := range st.locks {
		if h.at == nil {
			continue
		}
		w.c.lockNotReleased(w.fn, k, h, at)
	}
}

// successStatus reports NTSTATUS constants for which NT_SUCCESS is true.
func successStatus(name string) bool {
	switch name {
	case "STATUS_SUCCESS", "STATUS_PENDING", "STATUS_TIMEOUT", "STATUS_REPARSE", "STATUS_MORE_ENTRIES",
		"STATUS_ALERTED", "STATUS_USER_APC", "STATUS_WAIT_0", "STATUS_ABANDONED", "STATUS_NOT_ALL_ASSIGNED",
		"STATUS_SOME_NOT_MAPPED", "STATUS_OPLOCK_BREAK_IN_PROGRESS":
		return true
	}
	return false
}

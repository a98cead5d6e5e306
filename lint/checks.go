package lint

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

func levelName(l int) string {
	switch l {
	case passive:
		return "PASSIVE_LEVEL"
	case apc:
		return "APC_LEVEL"
	case dispatch:
		return "DISPATCH_LEVEL"
	case dirql:
		return "DIRQL"
	}
	return "an unknown IRQL"
}

func isDriverEntry(c *checker, fn *csrc.Func) bool {
	return strings.HasPrefix(fn.Name, "DriverEntry") || c.roles[fn.Name] == "DRIVER_INITIALIZE"
}

func (c *checker) nullDeref(fn *csrc.Func, k string, v varState, at *csrc.Expr) {
	fix := fmt.Sprintf("Right after line %d add: if (%s == NULL) { return STATUS_INSUFFICIENT_RESOURCES; } (releasing what the function holds)", v.site.Pos.Line, k)
	c.reportFix(RuleAllocNullDeref, fn, at.Pos, fix, "%s, returned by %s on line %d, is dereferenced here without a NULL check; %s returns NULL when the allocation fails", k, v.alloc, v.site.Pos.Line, v.alloc)
}

func (c *checker) leak(fn *csrc.Func, k string, v varState, at csrc.Pos) {
	key := fmt.Sprintf("leak:%d", v.site.Pos.Off)
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	msg := fmt.Sprintf("%s allocated by %s is never freed on the path that returns at line %d", k, v.alloc, at.Line)
	if isDriverEntry(c, fn) && !c.hasUnload() {
		msg += ", and the driver sets no unload routine that could free it"
	}
	fix := fmt.Sprintf("Free %s with %s before the return at line %d (or store it where the unload/cleanup routine frees it)", k, freeOf(v.alloc), at.Line)
	c.reportFix(RuleLeakEarlyReturn, fn, v.site.Pos, fix, "%s", msg)
}

func (c *checker) stored(fn *csrc.Func, k string, local bool, site *csrc.Expr) {
	if local || !isDriverEntry(c, fn) || strings.ContainsAny(k, "->.[*") {
		return
	}
	if fn.Param(k) != nil || c.f.Global(k) == nil {
		return
	}
	c.globals = append(c.globals, globalAlloc{fn: fn, name: k, site: site})
}

func (c *checker) lockNotReleased(fn *csrc.Func, k string, h held, at csrc.Pos) {
	key := fmt.Sprintf("lock:%d", h.at.Pos.Off)
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	name := h.at.Callee()
	what := "the " + h.kind + " " + k
	if k == h.kind {
		what = "the " + k
	}
	if h.kind == "raised IRQL" {
		what = "the IRQL raised"
	}
	c.report(RuleLockNotReleased, fn, h.at.Pos, "%s by %s here is still held when %s returns at line %d", what, name, fn.Name, at.Line)
}

// hasUnload reports whether the file sets an unload routine.
func (c *checker) hasUnload() bool {
	for _, fn := range c.f.Funcs {
		for _, x := range fn.Exprs() {
			if x.Kind == csrc.EAssign && x.X != nil && x.X.Kind == csrc.EMember && (x.X.Name == "DriverUnload" || x.X.Name == "EvtDriverUnload") {
				return true
			}
			if x.Kind == csrc.ECall && strings.HasPrefix(x.Callee(), "WDF_DRIVER_CONFIG_INIT") {
				return true // KMDF: the framework unloads; EvtDriverUnload may be set elsewhere
			}
		}
	}
	return false
}

func (c *checker) checkGlobals() {
	unload := c.hasUnload()
	for _, g := range c.globals {
		if !unload {
			c.reportFix(RuleLeakGlobal, g.fn, g.site.Pos,
				fmt.Sprintf("Set DriverObject->DriverUnload to an unload routine that calls %s(%s) (with the same tag)", allocators[g.site.Callee()].free, g.name),
				"%s, allocated by %s in %s, is kept in a global but the driver sets no DriverUnload routine: it is never freed", g.name, g.site.Callee(), g.fn.Name)
			continue
		}
		if !c.freedAnywhere(g.name) {
			c.reportFix(RuleLeakGlobal, g.fn, g.site.Pos,
				fmt.Sprintf("Free %s with %s in the unload routine", g.name, allocators[g.site.Callee()].free),
				"%s, allocated by %s in %s, is kept in a global that no routine of this file frees", g.name, g.site.Callee(), g.fn.Name)
		}
	}
}

func (c *checker) freedAnywhere(k string) bool {
	for _, s := range c.sites {
		if i, ok := freers[s.call.Callee()]; ok {
			if a := s.call.Arg(i); a != nil && a.Key() == k {
				return true
			}
		}
	}
	return false
}

// lookup finds the declaration of a name visible in fn.
func (c *checker) lookup(fn *csrc.Func, name string) *csrc.VarDecl {
	if fn != nil {
		var found *csrc.VarDecl
		csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
			for _, d := range s.Decls {
				if d.Name == name {
					found = d
				}
			}
			return found == nil
		})
		if found != nil {
			return found
		}
		if p := fn.Param(name); p != nil {
			return p
		}
	}
	return c.f.Global(name)
}

// constValue returns the value a tag variable holds at a call: its last
// assignment before the call in the function, else its initialiser.
func (c *checker) constValue(fn *csrc.Func, name string, before int) *csrc.Expr {
	var last *csrc.Expr
	csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
		for _, d := range s.Decls {
			if d.Name == name && d.Init != nil && d.Pos.Off < before {
				last = d.Init
			}
		}
		csrc.StmtExprs(s, func(e *csrc.Expr) {
			csrc.WalkExpr(e, func(x *csrc.Expr) bool {
				if x.Kind == csrc.EAssign && x.Op == "=" && x.X.Key() == name && x.Pos.Off < before {
					last = x.Y
				}
				return true
			})
		})
		return true
	})
	if last != nil {
		return last
	}
	if g := c.f.Global(name); g != nil {
		return g.Init
	}
	return nil
}

func (c *checker) checkSite(s *callSite) {
	call, fn := s.call, s.fn
	name := call.Callee()
	if deprecatedAllocs[name] {
		c.deprecated(s)
	}
	c.checkTag(s)
	c.checkIrql(s)
	c.checkSizeof(s)
	if strings.HasPrefix(name, "ProbeFor") && !s.inTry {
		c.report(RuleUserPointer, fn, call.Pos, "%s raises an exception for a bad user address, but it is not inside __try/__except here", name)
	}
	if isDriverEntry(c, fn) && name == "RtlInitUnicodeString" {
		if a, b := call.Arg(0), call.Arg(1); a != nil && b != nil && c.isRegistryPath(fn, b) && !c.isLocalTarget(fn, a) {
			c.report(RuleSaveRegistryPath, fn, call.Pos, "DriverEntry points %s at the RegistryPath buffer, which the I/O manager frees after DriverEntry returns", a.String())
		}
	}
}

func (c *checker) deprecated(s *callSite) {
	call := s.call
	name := call.Callee()
	a := allocators[name]
	poolType := call.Arg(0)
	size := call.Arg(1)
	tag := "'gaTx'"
	if a.tagArg >= 0 && call.Arg(a.tagArg) != nil {
		tag = call.Arg(a.tagArg).String()
	}
	ptxt := poolType.String()
	flags, _, ok := poolFlags(ptxt)
	if !ok && strings.HasPrefix(ptxt, "POOL_FLAG_") {
		flags, ok = ptxt, true
	}
	if !ok {
		flags = fmt.Sprintf("POOL_FLAG_* matching %s", ptxt)
	}
	if strings.Contains(name, "Quota") {
		flags += " | POOL_FLAG_USE_QUOTA"
	}
	var fix string
	switch name {
	case "ExAllocatePoolWithTagPriority":
		fix = fmt.Sprintf("ExAllocatePool3(%s, %s, %s, &param, 1) with a POOL_EXTENDED_PARAMETER of Type PoolExtendedParameterPriority and Priority %s", flags, size.String(), tag, call.Arg(3).String())
	default:
		fix = fmt.Sprintf("ExAllocatePool2(%s, %s, %s)", flags, size.String(), tag)
	}
	fix += "; ExAllocatePool2 zeroes the memory, so a following RtlZeroMemory can go (use ExAllocatePoolZero if the driver must load on Windows before 10 version 2004)"
	if a.tagArg < 0 {
		fix += "; choose a unique four-character tag for the driver instead of 'gaTx'"
	}
	if strings.Contains(name, "Quota") {
		fix += "; unlike the quota allocators it returns NULL instead of raising, unless POOL_FLAG_RAISE_ON_FAILURE is added"
	}
	c.reportFix(RuleDeprecatedAlloc, s.fn, call.Pos, fix, "%s is deprecated: it returns uninitialised pool", name)
}

// tagArgs gives the pool tag argument of routines taking one.
func tagArg(name string) int {
	if a, ok := allocators[name]; ok {
		return a.tagArg
	}
	switch name {
	case "ExFreePoolWithTag":
		return 1
	case "ExInitializeNPagedLookasideList", "ExInitializePagedLookasideList":
		return 5
	case "ExInitializeLookasideListEx":
		return 6
	}
	return -1
}

func (c *checker) checkTag(s *callSite) {
	call, fn := s.call, s.fn
	i := tagArg(call.Callee())
	if i < 0 {
		return
	}
	arg := call.Arg(i).Strip()
	if arg == nil {
		return
	}
	switch arg.Kind {
	case csrc.EString:
		c.reportFix(RuleTagNotIntegral, fn, arg.Pos, fmt.Sprintf("Write the tag as a character constant: '%s'", strings.Trim(arg.Name, `"`)),
			"the pool tag %s passed to %s is a string literal, not a ULONG character constant", arg.Name, call.Callee())
		return
	case csrc.EUnary:
		if arg.Op == "&" {
			c.report(RuleTagNotIntegral, fn, arg.Pos, "the pool tag %s passed to %s is a pointer, not a ULONG value", arg.String(), call.Callee())
		}
		return
	case csrc.EIdent:
		if d := c.lookup(fn, arg.Name); d != nil && (d.Pointer || d.Array || strings.Contains(d.Type, "char") || strings.Contains(d.Type, "CHAR") && strings.HasPrefix(d.Type, "P")) {
			c.report(RuleTagNotIntegral, fn, arg.Pos, "the pool tag %s passed to %s is declared as %s%s, not a ULONG value", arg.Name, call.Callee(), d.Type, map[bool]string{true: " *", false: "[]"}[d.Pointer])
			return
		}
		if v := c.constValue(fn, arg.Name, call.Pos.Off); v != nil {
			if v = v.Strip(); v.Kind == csrc.EChar && defaultTags[v.Name] {
				c.report(RuleDefaultTag, fn, arg.Pos, "the pool tag %s passed to %s holds the default tag %s", arg.Name, call.Callee(), v.Name)
			}
		}
		return
	case csrc.EChar:
		if defaultTags[arg.Name] {
			c.report(RuleDefaultTag, fn, arg.Pos, "%s passes the default pool tag %s", call.Callee(), arg.Name)
		}
	case csrc.ENumber:
		if arg.Name == "0" || arg.Name == "0x0" {
			c.report(RuleDefaultTag, fn, arg.Pos, "%s passes pool tag 0", call.Callee())
		}
	}
}

// callee IRQL demands for a call.
func (c *checker) demands(call *csrc.Expr) (irqlReq, bool) {
	name := call.Callee()
	if name == "" {
		return irqlReq{}, false
	}
	if c.funcs[name] != nil || c.protos[name] != nil {
		if lo, hi, ok := annotIRQL(c.annots(name)); ok {
			why := "is annotated to run at or below " + levelName(hi)
			if hi == unknown {
				why = "is annotated to run at " + levelName(lo) + " or above"
			} else if lo == hi {
				why = "is annotated _IRQL_requires_(" + levelName(hi) + ")"
			}
			return irqlReq{lo, hi, why}, true
		}
		if c.funcs[name] != nil && c.isPaged(name) {
			return irqlReq{unknown, apc, "is pageable (PAGE section or PAGED_CODE)"}, true
		}
	}
	if name == "KeSetEvent" {
		if w := call.Arg(2); w != nil && (w.Name == "TRUE" || w.Name == "1") {
			return irqlReq{unknown, apc, "with Wait = TRUE must be called at or below APC_LEVEL"}, true
		}
		return irqlReq{unknown, dispatch, "must be called at or below DISPATCH_LEVEL"}, true
	}
	if name == "KeWaitForSingleObject" || name == "KeWaitForMultipleObjects" || name == "KeWaitForMutexObject" {
		if t := call.Arg(len(call.Args) - 1); t != nil && isNullConst(t) {
			return irqlReq{unknown, apc, "waits without a zero timeout, which is allowed only at or below APC_LEVEL"}, true
		}
		return irqlReq{}, false
	}
	if a, ok := allocators[name]; ok && a.typeArg >= 0 {
		t := call.Arg(a.typeArg).String()
		if _, paged, ok := poolFlags(t); ok && paged || strings.Contains(t, "POOL_FLAG_PAGED") {
			return irqlReq{unknown, apc, "allocates paged pool, which may fault"}, true
		}
		return irqlReq{}, false
	}
	r, ok := apiIRQL[name]
	return r, ok
}

func (c *checker) checkIrql(s *callSite) {
	call, fn := s.call, s.fn
	req, ok := c.demands(call)
	if !ok {
		return
	}
	e := c.entry[fn.Name]
	lo := max(e[0], s.raisedAll)
	if req.max != unknown && lo > req.max {
		ctx := fmt.Sprintf("%s runs at %s", fn.Name, levelName(lo))
		if s.raisedAll > e[0] {
			ctx = fmt.Sprintf("a spin lock is held (IRQL %s) at this point of %s", levelName(s.raisedAll), fn.Name)
		} else if r := c.roles[fn.Name]; r != "" {
			ctx = fmt.Sprintf("%s is a %s and runs at %s", fn.Name, r, levelName(lo))
		}
		rule := RuleIrqlTooHigh
		c.report(rule, fn, call.Pos, "%s %s, but %s", call.Callee(), req.why, ctx)
		return
	}
	if req.min != unknown && req.min > passive {
		hi := e[1]
		if hi == unknown {
			return
		}
		hi = max(hi, s.raisedAny)
		_, fixed := c.isFixed(fn.Name)
		if c.funcs[call.Callee()] == nil && c.protos[call.Callee()] == nil && !fixed {
			return // kernel routines needing DISPATCH_LEVEL: only judged in annotated callers
		}
		if hi < req.min {
			c.report(RuleIrqlTooLow, fn, call.Pos, "%s %s, but %s runs at %s here", call.Callee(), req.why, fn.Name, levelName(hi))
		}
	}
}

// isFixed reports whether a function's entry IRQL is known from its
// annotations or role rather than inferred.
func (c *checker) isFixed(name string) ([2]int, bool) {
	_, _, ok := annotIRQL(c.annots(name))
	if !ok {
		_, _, ok = roleIRQL(c.roles[name])
	}
	return c.entry[name], ok
}

var sizeArgs = map[string]int{
	"memset": 2, "memcpy": 2, "memmove": 2, "RtlZeroMemory": 1, "RtlSecureZeroMemory": 1, "RtlFillMemory": 1,
	"RtlCopyMemory": 2, "RtlMoveMemory": 2, "RtlCompareMemory": 2, "RtlEqualMemory": 2, "RtlCopyBytes": 2,
}

func (c *checker) checkSizeof(s *callSite) {
	call, fn := s.call, s.fn
	name := call.Callee()
	i, ok := sizeArgs[name]
	if !ok {
		if _, alloc := allocators[name]; alloc && strings.HasPrefix(name, "ExAllocatePool") {
			i, ok = 1, true
		}
	}
	if !ok {
		return
	}
	csrc.WalkExpr(call.Arg(i), func(x *csrc.Expr) bool {
		if x.Kind != csrc.ESizeof || x.X == nil {
			return true
		}
		v := x.X.Strip()
		if v.Kind != csrc.EIdent {
			return false
		}
		if d := c.lookup(fn, v.Name); d != nil && d.IsPointer() && !d.Array {
			c.reportFix(RuleSizeofPointer, fn, x.Pos, fmt.Sprintf("Use sizeof(*%s) (the size of what %s points to)", v.Name, v.Name),
				"sizeof(%s) passed to %s is the size of the pointer (8 bytes on x64), not of the buffer %s points to", v.Name, name, v.Name)
		}
		return false
	})
}

func (c *checker) isRegistryPath(fn *csrc.Func, e *csrc.Expr) bool {
	if len(fn.Params) < 2 {
		return false
	}
	rp := fn.Params[1].Name
	k := e.Key()
	return k == rp || k == rp+"->Buffer"
}

// isLocalVar reports a plain local variable (not a store through a
// pointer, which may reach global memory).
func (c *checker) isLocalVar(fn *csrc.Func, e *csrc.Expr) bool {
	e = e.Strip()
	return e.Kind == csrc.EIdent && c.isLocalTarget(fn, e)
}

func (c *checker) isLocalTarget(fn *csrc.Func, e *csrc.Expr) bool {
	e = e.Strip()
	if e.Kind == csrc.EUnary && e.Op == "&" {
		e = e.X
	}
	k := e.Key()
	if k == "" {
		return false
	}
	root := rootKey(k)
	if fn.Param(root) != nil {
		return false
	}
	d := c.lookup(fn, root)
	return d != nil && c.f.Global(root) != d
}

func (c *checker) checkFunc(fn *csrc.Func) {
	sec, placed := c.f.Sections[fn.Name]
	paged := placed && strings.HasPrefix(strings.ToUpper(sec), "PAGE")
	var pc []*csrc.Expr
	calls := fn.Calls()
	for _, call := range calls {
		if call.Callee() == "PAGED_CODE" {
			pc = append(pc, call)
		}
	}
	switch {
	case paged && len(pc) == 0:
		c.report(RuleNoPagedCode, fn, fn.Pos, "%s is placed in the %s section but does not call PAGED_CODE()", fn.Name, sec)
	case len(pc) > 1:
		c.report(RuleMultiplePagedCode, fn, pc[1].Pos, "%s calls PAGED_CODE() again (first on line %d)", fn.Name, pc[0].Pos.Line)
	}
	if len(pc) > 0 && !paged && !placed && !c.pagedElsewhere() {
		c.report(RuleNoPagingSegment, fn, fn.Pos, "%s calls PAGED_CODE() (line %d) but is not placed in a PAGE section", fn.Name, pc[0].Pos.Line)
	}
	if paged || len(pc) > 0 {
		for _, call := range calls {
			if call.Callee() == "KeSetEvent" {
				if w := call.Arg(2); w != nil && (w.Name == "TRUE" || w.Name == "1") {
					c.report(RuleKeSetEventPaged, fn, call.Pos, "KeSetEvent with Wait = TRUE in pageable function %s", fn.Name)
				}
			}
		}
	}
	c.setTooHigh(fn, calls)
	c.checkIrqlNotAnnotated(fn)
	c.userPointers(fn, calls)
	if isDriverEntry(c, fn) {
		c.registryPath(fn)
	}
}

// pagedElsewhere reports a file that places no function by pragma, whose
// placement therefore lives in another file (a header or the .c that
// includes it).
func (c *checker) pagedElsewhere() bool {
	for _, p := range c.f.Pragmas {
		if p.Kind == "alloc_text" || p.Kind == "code_seg" {
			return false
		}
	}
	return !strings.HasSuffix(strings.ToLower(c.f.Path), "driver_snippet.c") && len(c.f.Funcs) > 0 && c.anyPagedCodeOutside()
}

// anyPagedCodeOutside is true for files whose functions call PAGED_CODE
// without a single pragma: placement is then done by a header macro.
func (c *checker) anyPagedCodeOutside() bool {
	for _, a := range c.f.Annotations {
		if a.Name == "PAGED_CODE_SEG" || a.Name == "__declspec" {
			return false
		}
	}
	return true
}

func (c *checker) setTooHigh(fn *csrc.Func, calls []*csrc.Expr) {
	limit := unknown
	for _, a := range c.annots(fn.Name) {
		if a.Name == "_IRQL_always_function_max_" || a.Name == "_IRQL_raises_" {
			limit = parseIRQL(a.Args)
		}
	}
	if limit == unknown {
		return
	}
	for _, call := range calls {
		name := call.Callee()
		raised := unknown
		if op, ok := lockOps[name]; ok && op.acquire {
			raised = op.level
			if name == "KeRaiseIrql" || name == "KfRaiseIrql" {
				raised = parseIRQL(call.Arg(0).String())
			}
		} else if c.funcs[name] != nil || c.protos[name] != nil {
			for _, a := range c.annots(name) {
				if a.Name == "_IRQL_raises_" {
					raised = parseIRQL(a.Args)
				}
			}
		}
		if raised != unknown && raised > limit {
			c.report(RuleIrqlSetTooHigh, fn, call.Pos, "%s is annotated never to exceed %s, but %s raises the IRQL to %s", fn.Name, levelName(limit), name, levelName(raised))
		}
	}
}

func (c *checker) userPointers(fn *csrc.Func, calls []*csrc.Expr) {
	for _, call := range calls {
		if strings.HasPrefix(call.Callee(), "ProbeFor") {
			return
		}
	}
	var first *csrc.Expr
	for _, x := range fn.Exprs() {
		if x.Kind == csrc.EMember && x.Name == "Type3InputBuffer" {
			first = x
			break
		}
	}
	if first != nil {
		c.report(RuleUserPointer, fn, first.Pos, "%s reads the user-mode address %s without ProbeForRead/ProbeForWrite inside __try", fn.Name, first.String())
	}
}

func (c *checker) registryPath(fn *csrc.Func) {
	for _, x := range fn.Exprs() {
		if x.Kind == csrc.EAssign && x.Op == "=" && c.isRegistryPath(fn, x.Y.Strip()) && !c.isLocalVar(fn, x.X) {
			c.report(RuleSaveRegistryPath, fn, x.Pos, "DriverEntry stores the RegistryPath pointer in %s; the I/O manager frees that buffer after DriverEntry returns", x.X.String())
		}
	}
}

package lint

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// BCL037: a function that can return at a higher IRQL than it was entered
// at (a KeRaiseIrql or spin-lock acquisition of its own not undone on some
// path) without an annotation that tells its callers so. Callers go on at
// the IRQL they had before the call, so the code after the call runs at
// DISPATCH_LEVEL unknowingly. This is the function-level view of what
// BCL023 reports at the acquiring call; the CodeQL query
// IrqlFunctionNotAnnotated (C28167) reports it at the function's name.

// irqlChangeAnnots are the function annotations that declare a change of
// IRQL or lock state on exit, so that returning raised is the contract.
// _IRQL_saves_ on the function returns the old IRQL: a raising helper.
var irqlChangeAnnots = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`_IRQL_raises_ __drv_raisesIRQL _IRQL_saves_global_ __drv_savesIRQLGlobal
		_IRQL_restores_global_ __drv_restoresIRQLGlobal _IRQL_saves_ __drv_savesIRQL
		_Acquires_lock_ _Acquires_exclusive_lock_ _Acquires_shared_lock_ _Acquires_nonreentrant_lock_
		_Releases_lock_ _Releases_exclusive_lock_ _Releases_shared_lock_ _Releases_nonreentrant_lock_
		_Requires_lock_held_ _Requires_exclusive_lock_held_ _Requires_shared_lock_held_
		__drv_acquiresResource __drv_releasesResource __drv_acquiresCancelSpinLock __drv_releasesCancelSpinLock`) {
		irqlChangeAnnots[n] = true
	}
}

// nonRaising lock acquisitions require DISPATCH_LEVEL and leave the IRQL
// as it is: holding one on exit is BCL023's business, not an IRQL change.
var nonRaising = map[string]bool{
	"KeAcquireSpinLockAtDpcLevel": true, "KeAcquireInStackQueuedSpinLockAtDpcLevel": true,
	"ExAcquireSpinLockExclusiveAtDpcLevel": true, "ExAcquireSpinLockSharedAtDpcLevel": true,
	"NdisDprAcquireSpinLock": true,
}

// declaresIRQLChange reports whether fn (its definition or a prototype)
// carries an annotation that declares the IRQL or a lock changes on exit.
func (c *checker) declaresIRQLChange(fn *csrc.Func) bool {
	for _, a := range c.annots(fn.Name) {
		if irqlChangeAnnots[a.Name] {
			return true
		}
		if a.Name == "_When_" {
			// _When_(cond, _IRQL_raises_(DISPATCH_LEVEL)) and the like.
			for name := range irqlChangeAnnots {
				if strings.Contains(a.Args, name+"(") || strings.Contains(a.Args, name+" (") {
					return true
				}
			}
		}
	}
	for _, p := range fn.Params {
		for _, a := range p.Annots {
			if a.Name == "_IRQL_saves_" || a.Name == "__drv_savesIRQL" {
				return true // saves the old IRQL for its caller: a raising helper
			}
		}
	}
	return false
}

// raisesIRQL reports calls of fn that acquire a lock or raise the IRQL.
func raisesIRQL(fn *csrc.Func) bool {
	for _, call := range fn.Calls() {
		name := call.Callee()
		if op, ok := lockOps[name]; ok && op.acquire && !nonRaising[name] {
			return true
		}
	}
	return false
}

// checkIrqlNotAnnotated reports fn when some path returns with the IRQL
// raised above the level fn is entered at, and no annotation declares it.
func (c *checker) checkIrqlNotAnnotated(fn *csrc.Func) {
	// c.exits holds the exit states of exactly the functions that raise.
	if fn.Body == nil || len(c.exits[fn]) == 0 || c.declaresIRQLChange(fn) {
		return
	}
	entry := c.entry[fn.Name][0]
	if entry == unknown {
		entry = passive
	}
	var at *csrc.Expr
	level, kind := 0, ""
	for _, st := range c.exits[fn] {
		for _, h := range st.locks {
			if h.at == nil || nonRaising[h.at.Callee()] || h.level <= entry {
				continue
			}
			if at == nil || h.at.Pos.Off < at.Pos.Off {
				at, level, kind = h.at, h.level, h.kind
			}
		}
	}
	if at == nil {
		return
	}
	undo := fmt.Sprintf("release the %s %s acquires on line %d", kind, at.Callee(), at.Pos.Line)
	if kind == "raised IRQL" {
		undo = fmt.Sprintf("KeLowerIrql to the IRQL %s saved on line %d", at.Callee(), at.Pos.Line)
	}
	fix := fmt.Sprintf("Restore the IRQL on every path before %s returns (%s)", fn.Name, undo)
	if r := c.roles[fn.Name]; r != "" {
		fix += fmt.Sprintf("; as a %s, %s must return at the IRQL it was called at", r, fn.Name)
	} else {
		to := levelName(level)
		if kind == "raised IRQL" && at.Arg(0) != nil && at.Callee() != "KeRaiseIrqlToDpcLevel" {
			to = at.Arg(0).String() // as written: HIGH_LEVEL, not DIRQL
		}
		fix += fmt.Sprintf("; if returning raised is intended, annotate %s with _IRQL_raises_(%s) (and _Acquires_lock_ or _IRQL_saves_ for a lock helper) so that callers know", fn.Name, to)
	}
	c.reportFix(RuleIrqlNotAnnotated, fn, fn.Pos, fix,
		"%s can return at %s (raised by %s on line %d and not restored on some path) though it is entered at %s, and no annotation (_IRQL_raises_, _Acquires_lock_, _IRQL_saves_global_) declares the change",
		fn.Name, levelName(level), at.Callee(), at.Pos.Line, levelName(entry))
}

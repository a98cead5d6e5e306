package analyze

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SourceFinding is a defect found by reviewing the culprit driver's source
// code (bugcheck analyze --source). The review itself (package lint) runs
// outside this package; Analyze only ranks its findings against the crash.
type SourceFinding struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column,omitempty"`
	Function string `json:"function,omitempty"`
	Rule     string `json:"rule"` // BCL001, ...
	Name     string `json:"name"` // deprecated-pool-allocator, ...
	Severity string `json:"severity"`
	// Defect is the kind of defect, which is what relevance to a bug check
	// is judged by: one of the Defect* constants.
	Defect  string `json:"defect"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
	// BugChecks are the stop codes the defect leads to, most likely first
	// (lowercase 0x-prefixed hex, as BugCheck.Code).
	BugChecks []string `json:"bug_checks"`

	// Set by Analyze.
	Rank               int    `json:"rank"` // 1 = most relevant to this crash
	Relevance          string `json:"relevance"`
	InFaultingFunction bool   `json:"in_faulting_function,omitempty"`
	OnStack            bool   `json:"on_stack,omitempty"` // in a function of the culprit's frames

	score int
}

// Defect kinds of source findings.
const (
	DefectOverrun       = "overrun"          // writes or reads past the end of a buffer
	DefectUseAfterFree  = "use-after-free"   // freed memory used, freed twice, freed string kept
	DefectNullDeref     = "null-deref"       // unchecked allocation, NULL freed
	DefectUninitialised = "uninitialised"    // uninitialised pool contents
	DefectUserPointer   = "user-pointer"     // user-mode address touched without a probe
	DefectIRQL          = "irql"             // a routine called at the wrong IRQL
	DefectPagedCode     = "paged-code"       // pageable code placement
	DefectLock          = "lock"             // spin locks and IRQL not restored
	DefectLeak          = "leak"             // allocations never freed
	DefectPoolTag       = "pool-tag"         // default or malformed pool tags
	DefectIRP           = "irp"              // IRP handling: pending, completion, lower driver status
	DefectWait          = "wait"             // waits that can corrupt the stack or deadlock
	DefectUnchecked     = "unchecked-result" // a failure result dropped
	DefectFramework     = "framework"        // a KMDF framework rule broken (DriverCreate, StopAck, ...)
	DefectOther         = "other"
)

// defectPhrase names each defect kind in a sentence.
var defectPhrase = map[string]string{
	DefectOverrun: "a buffer overrun", DefectUseAfterFree: "memory used after it is freed",
	DefectNullDeref: "a NULL pointer dereference", DefectUninitialised: "uninitialised pool",
	DefectUserPointer: "an unprobed user-mode pointer", DefectIRQL: "a call at the wrong IRQL",
	DefectPagedCode: "pageable code at a raised IRQL", DefectLock: "a spin lock or IRQL not restored",
	DefectLeak: "a leaked allocation", DefectPoolTag: "a pool tag mistake", DefectIRP: "mishandled IRP status",
	DefectWait: "a wait on a stack object", DefectUnchecked: "a failure result that is not checked",
	DefectFramework: "a KMDF framework rule broken",
	DefectOther:     "this defect",
}

// defectOrder lists, per bug check family, the defect kinds most likely
// to cause it, most likely first; defects not listed still rank by whether
// their rule names the bug check.
var defectOrder = map[uint32][]string{
	0x50:  {DefectOverrun, DefectUseAfterFree, DefectUninitialised, DefectNullDeref, DefectUserPointer, DefectWait, DefectIRQL},
	0xD5:  {DefectUseAfterFree, DefectOverrun},
	0xD6:  {DefectOverrun, DefectUseAfterFree},
	0xC1:  {DefectOverrun, DefectUseAfterFree},
	0x19:  {DefectOverrun, DefectUseAfterFree, DefectPoolTag, DefectLeak},
	0xC2:  {DefectUseAfterFree, DefectNullDeref, DefectPoolTag, DefectOverrun},
	0x13A: {DefectOverrun, DefectUseAfterFree},
	0xD1:  {DefectIRQL, DefectPagedCode, DefectNullDeref, DefectLock, DefectUseAfterFree, DefectOverrun},
	0x0A:  {DefectIRQL, DefectLock, DefectPagedCode, DefectNullDeref, DefectUseAfterFree},
	0xC4:  {DefectIRQL, DefectLock, DefectLeak, DefectUseAfterFree, DefectPoolTag, DefectIRP, DefectPagedCode, DefectWait},
	0xC9:  {DefectIRP},
	0x44:  {DefectIRP, DefectUseAfterFree},
	0x10D: {DefectFramework, DefectNullDeref, DefectUseAfterFree, DefectIRP},
	0x9F:  {DefectIRP, DefectLock},
	0x133: {DefectLock, DefectIRQL},
	0x3B:  {DefectNullDeref, DefectUserPointer, DefectUseAfterFree, DefectUninitialised, DefectUnchecked, DefectOverrun},
	0x7E:  {DefectNullDeref, DefectUseAfterFree, DefectUninitialised, DefectUnchecked, DefectUserPointer, DefectOverrun},
	0x8E:  {DefectNullDeref, DefectUseAfterFree, DefectUninitialised, DefectUnchecked, DefectOverrun},
	0x1E:  {DefectNullDeref, DefectUseAfterFree, DefectUninitialised, DefectUnchecked, DefectOverrun},
	0x139: {DefectUseAfterFree, DefectOverrun},
	0xF7:  {DefectOverrun},
	0xCE:  {DefectLeak, DefectIRP},
	0xC7:  {DefectLeak},
}

// wdfOrder refines the order for 0x10D WDF_VIOLATION by its subtype
// (parameter 1), which names the broken framework rule.
var wdfOrder = map[uint64][]string{
	0x2: {DefectLock, DefectFramework},
	0x3: {DefectUseAfterFree, DefectIRP, DefectFramework},
	0x4: {DefectNullDeref, DefectFramework, DefectUnchecked},
	0x5: {DefectFramework, DefectUseAfterFree},
	0x6: {DefectIRP, DefectUseAfterFree, DefectFramework},
	0x7: {DefectFramework, DefectUseAfterFree},
	0xA: {DefectIRP, DefectFramework, DefectUseAfterFree},
	0xE: {DefectLock, DefectIRQL, DefectFramework},
	0xF: {DefectLock, DefectFramework},
}

// rankSource orders the source findings by their relevance to the crash:
// a finding in the function the crash happened in first, then one in a
// function of the culprit's other frames, then by how likely its kind of
// defect causes this bug check (a buffer overrun when a write landed on a
// page boundary), then by whether its rule names the bug check, then by
// severity and position.
func rankSource(r *Report, in []SourceFinding) []SourceFinding {
	if len(in) == 0 {
		return nil
	}
	out := make([]SourceFinding, len(in))
	copy(out, in)
	code, _ := parseHex(r.BugCheck.Code)
	base := uint32(code) &^ 0x10000000 // the _M variants (0x1000007E) share the meaning
	faultFn := ""
	if r.FaultingIP != nil {
		faultFn = bareFunction(r.FaultingIP.Function)
	}
	culprit := strings.ToLower(r.Culprit.Module)
	onStack := map[string]bool{}
	for _, f := range r.Frames {
		if culprit != "" && strings.EqualFold(f.Module, culprit) {
			if fn := bareFunction(f.Function); fn != "" {
				onStack[fn] = true
			}
		}
	}
	overrunSig := overrunSignature(r)
	order := defectOrder[base]
	if base == 0x10D && len(r.BugCheck.Parameters) > 0 {
		if p1, ok := parseHex(r.BugCheck.Parameters[0]); ok && wdfOrder[p1] != nil {
			order = wdfOrder[p1]
		}
	}
	for i := range out {
		f := &out[i]
		var why []string
		fn := f.Function
		switch {
		case fn != "" && fn == faultFn:
			f.score += 10000
			f.InFaultingFunction = true
			why = append(why, "in "+fn+", the function the crash happened in")
		case fn != "" && onStack[fn]:
			f.score += 5000
			f.OnStack = true
			why = append(why, "in "+fn+", which is on the crashing stack")
		}
		if overrunSig && f.Defect == DefectOverrun {
			f.score += 2000
			why = append(why, "the faulting write landed on a page boundary, the signature of a buffer overrun")
		}
		for k, d := range order {
			if d == f.Defect {
				f.score += (len(order) - k) * 100
				why = append(why, fmt.Sprintf("%s is a usual cause of bug check %s", defectPhrase[f.Defect], r.BugCheck.Code))
				break
			}
		}
		for k, c := range f.BugChecks {
			if v, ok := parseHex(c); ok && uint32(v)&^0x10000000 == base {
				f.score += 50 - 5*min(k, 9)
				why = append(why, "the rule names bug check "+r.BugCheck.Code+" as a consequence")
				break
			}
		}
		switch f.Severity {
		case "error":
			f.score += 20
		case "warning":
			f.score += 10
		}
		if len(why) == 0 {
			why = append(why, "not linked to this bug check")
		}
		f.Relevance = strings.Join(why, "; ")
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.score != b.score {
			return a.score > b.score
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	for i := range out {
		out[i].Rank = i + 1
		if out[i].BugChecks == nil {
			out[i].BugChecks = []string{}
		}
	}
	return out
}

// overrunSignature reports a write that faulted on the first byte of a
// page, as explain describes it.
func overrunSignature(r *Report) bool {
	f := r.FaultingIP
	if f == nil || f.Access != "write" {
		return false
	}
	ea, ok := parseHex(f.EffectiveAddress)
	return ok && ea%0x1000 == 0
}

// bareFunction strips the module and offset from a symbol
// (acmefilt!CopyFrame+0x40 -> CopyFrame).
func bareFunction(sym string) string {
	if i := strings.IndexByte(sym, '!'); i >= 0 {
		sym = sym[i+1:]
	}
	if i := strings.IndexByte(sym, '+'); i >= 0 {
		sym = sym[:i]
	}
	return strings.TrimSpace(sym)
}

// SourceBugChecks renders stop codes as BugCheck.Code does.
func SourceBugChecks(codes []uint32) []string {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		out = append(out, "0x"+strconv.FormatUint(uint64(c), 16))
	}
	return out
}

// DefectKinds returns the defect kinds SourceFinding.Defect may hold.
func DefectKinds() []string {
	out := make([]string, 0, len(defectPhrase))
	for k := range defectPhrase {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

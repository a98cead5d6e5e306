// Package lint reviews Windows driver C sources for the defects that end
// in blue screens: deprecated and unchecked pool allocations, leaks,
// default or malformed pool tags, code that runs at too high an IRQL
// (paged code under a spin lock, in a DPC or completion routine), use
// after free and double free, spin locks left held, sizeof of a pointer,
// unprobed user pointers and a saved RegistryPath pointer.
//
// Checks run over the csrc model of a file (functions, calls, assignments,
// conditions, annotations, pragmas), so they need no WDK headers and no
// preprocessor. Each finding names its rule, the bug checks the defect
// leads to and the concrete fix.
package lint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bugcheck/bugcheck/bugcode"
)

// Severity orders findings.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity accepts info, warning or error (note and warn too).
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "info", "note":
		return Info, nil
	case "warning", "warn":
		return Warning, nil
	case "error":
		return Error, nil
	}
	return 0, fmt.Errorf("unknown severity %q (info, warning or error)", s)
}

// Rule describes one check.
type Rule struct {
	ID        string
	Name      string
	Severity  Severity
	Summary   string   // what is wrong and why it crashes
	Fix       string   // the general fix; findings give the concrete one
	BugChecks []uint32 // the stop codes the defect leads to
	CodeQL    []string // Microsoft CodeQL driver queries covering the same defect
}

// Rule IDs.
const (
	RuleDeprecatedAlloc   = "BCL001"
	RuleAllocNullDeref    = "BCL002"
	RuleLeakEarlyReturn   = "BCL003"
	RuleLeakGlobal        = "BCL004"
	RuleDefaultTag        = "BCL005"
	RuleTagNotIntegral    = "BCL006"
	RuleIrqlTooHigh       = "BCL010"
	RuleIrqlTooLow        = "BCL011"
	RuleIrqlSetTooHigh    = "BCL012"
	RuleKeSetEventPaged   = "BCL013"
	RuleNoPagedCode       = "BCL014"
	RuleMultiplePagedCode = "BCL015"
	RuleNoPagingSegment   = "BCL016"
	RuleUseAfterFree      = "BCL020"
	RuleDoubleFree        = "BCL021"
	RuleFreeNull          = "BCL022"
	RuleLockNotReleased   = "BCL023"
	RuleLockTwice         = "BCL024"
	RuleSizeofPointer     = "BCL025"
	RuleUserPointer       = "BCL026"
	RuleSaveRegistryPath  = "BCL027"
)

var rules = []Rule{
	{RuleDeprecatedAlloc, "deprecated-pool-allocator", Warning,
		"ExAllocatePool, ExAllocatePoolWithTag, ...WithQuota, ...WithQuotaTag and ...WithTagPriority are deprecated: they return uninitialised memory, whose stale contents are later read as pointers or lengths.",
		"Call ExAllocatePool2 (or ExAllocatePool3 for a priority) with the matching POOL_FLAG_* value; it zeroes the allocation.",
		[]uint32{0x50, 0x3B, 0x7E}, []string{"WdkDeprecatedApis"}},
	{RuleAllocNullDeref, "allocation-not-checked", Error,
		"The result of an allocation that can fail (pool, MDL, IRP, work item) is dereferenced before it is compared with NULL; under memory pressure or Driver Verifier's low-resources simulation this is a NULL dereference in kernel mode.",
		"Compare the result with NULL right after the call and fail the request with STATUS_INSUFFICIENT_RESOURCES, or pass POOL_FLAG_RAISE_ON_FAILURE to ExAllocatePool2.",
		[]uint32{0x3B, 0x7E, 0x1E, 0xD1}, nil},
	{RuleLeakEarlyReturn, "allocation-leaked", Warning,
		"Memory allocated here is neither freed nor handed on before the function returns on this path; each call leaks it until pool is exhausted, and Driver Verifier stops the machine when the driver unloads with it outstanding.",
		"Free the allocation (ExFreePoolWithTag with the same tag, IoFreeMdl, IoFreeIrp, IoFreeWorkItem) on every return path, typically with a single cleanup label.",
		[]uint32{0xC4, 0x19}, nil},
	{RuleLeakGlobal, "global-allocation-never-freed", Warning,
		"DriverEntry stores an allocation in a global that no unload routine frees; the pool stays allocated after the driver unloads, which Driver Verifier reports as a leak (0xC4, parameter 0x62), and a reload leaks again.",
		"Set DriverObject->DriverUnload to a routine that frees the global with ExFreePoolWithTag.",
		[]uint32{0xC4}, nil},
	{RuleDefaultTag, "default-pool-tag", Warning,
		"The allocation uses a default pool tag (' kdD', ' mdW', 'none', 0, ...), so pool corruption and leaks cannot be traced to the driver from a dump (!pool, !poolused).",
		"Use a unique four-character tag for the driver, written reversed in a character constant: 'gaTx'.",
		[]uint32{0x19, 0xC2, 0xC5}, []string{"DefaultPoolTag", "DefaultPoolTagExtended"}},
	{RuleTagNotIntegral, "pool-tag-not-integral", Error,
		"The pool tag argument is a string or a pointer, not a ULONG character constant: the tag becomes pointer bits that identify nothing, and ExFreePoolWithTag with the 'same' tag may not match.",
		"Pass a four-character ULONG constant such as 'gaTx' (single quotes), not \"gaTx\" or a pointer.",
		[]uint32{0xC2, 0x19}, []string{"PoolTagIntegral"}},
	{RuleIrqlTooHigh, "irql-too-high", Error,
		"A routine that must run at a lower IRQL (pageable code, paged pool, PASSIVE_LEVEL-only APIs, waits) is called at DISPATCH_LEVEL or above: inside a spin-lock region, a DPC, timer, ISR, cancel or completion routine. A page fault at that IRQL cannot be serviced.",
		"Move the call out of the spin-lock region or defer it to a work item (IoQueueWorkItem) that runs at PASSIVE_LEVEL; use non-paged pool (POOL_FLAG_NON_PAGED) and non-paged code there.",
		[]uint32{0xD1, 0x0A, 0x50, 0xC4}, []string{"IrqlTooHigh"}},
	{RuleIrqlTooLow, "irql-too-low", Warning,
		"A routine that requires a raised IRQL (DISPATCH_LEVEL, by its annotation) is called at PASSIVE_LEVEL, where it is not protected against preemption.",
		"Raise the IRQL (acquire the spin lock with KeAcquireSpinLock) before the call, or call the variant meant for the lower IRQL.",
		[]uint32{0xC4}, []string{"IrqlTooLow"}},
	{RuleIrqlSetTooHigh, "irql-set-too-high", Error,
		"The function is annotated never to run above an IRQL but raises the IRQL beyond it (KeRaiseIrql, a spin lock or a raising call).",
		"Do not raise above the annotated level inside this function, or fix the annotation.",
		[]uint32{0xC4, 0x0A}, []string{"IrqlSetTooHigh"}},
	{RuleKeSetEventPaged, "kesetevent-wait-in-paged-code", Error,
		"KeSetEvent with Wait = TRUE returns at DISPATCH_LEVEL so that the caller can wait at once; in pageable code the next instruction may fault at DISPATCH_LEVEL.",
		"Pass FALSE as the Wait argument, or move the function out of the PAGE section.",
		[]uint32{0xD1, 0x0A}, []string{"KeSetEventPageable"}},
	{RuleNoPagedCode, "paged-function-without-paged-code", Info,
		"The function is placed in a PAGE section but does not start with PAGED_CODE(), so a call at DISPATCH_LEVEL is not caught on checked builds and Driver Verifier runs before it faults.",
		"Add PAGED_CODE(); as the first statement of the function.",
		[]uint32{0xD1, 0x0A}, []string{"NoPagedCode"}},
	{RuleMultiplePagedCode, "multiple-paged-code", Info,
		"PAGED_CODE() appears more than once in the function; the second is dead weight and hints at merged code.",
		"Keep a single PAGED_CODE(); at the start of the function.",
		nil, []string{"MultiplePagedCode"}},
	{RuleNoPagingSegment, "paged-code-not-in-page-section", Info,
		"The function calls PAGED_CODE() but is not placed in a PAGE section (#pragma alloc_text(PAGE, ...) or code_seg(\"PAGE\")), so the assertion and the placement disagree.",
		"Add #pragma alloc_text(PAGE, Function) after the prototype, or drop PAGED_CODE() if the function must stay resident.",
		nil, []string{"NoPagingSegment"}},
	{RuleUseAfterFree, "use-after-free", Error,
		"Memory is used after it was freed; the pool block may already belong to someone else.",
		"Do not touch the pointer after freeing it; free last, and set the pointer to NULL right after ExFreePool*.",
		[]uint32{0xD5, 0x50, 0xC1, 0x19}, []string{"UseAfterFree"}},
	{RuleDoubleFree, "double-free", Error,
		"The same allocation is freed twice on this path; the pool manager detects the second free and stops the machine.",
		"Free once; set the pointer to NULL after freeing and test it before freeing again.",
		[]uint32{0xC2, 0x19, 0xC4}, nil},
	{RuleFreeNull, "free-of-null", Error,
		"ExFreePool* is called with a pointer that is NULL on this path; ExFreePool does not accept NULL.",
		"Test the pointer before freeing it.",
		[]uint32{0xC2, 0x3B, 0x7E}, nil},
	{RuleLockNotReleased, "spin-lock-not-released", Error,
		"A spin lock (or raised IRQL) acquired here is still held when the function returns on this path: the IRQL stays at DISPATCH_LEVEL and the next acquirer spins forever.",
		"Release the lock (KeReleaseSpinLock, KeReleaseInStackQueuedSpinLock, IoReleaseCancelSpinLock, KeLowerIrql) on every path before returning.",
		[]uint32{0x133, 0xC4, 0x0A, 0x4A}, nil},
	{RuleLockTwice, "spin-lock-acquired-twice", Error,
		"The spin lock is acquired again while this path already holds it: the processor spins on a lock it owns.",
		"Release the lock before acquiring it again, or restructure so each path acquires it once.",
		[]uint32{0x133, 0xC4}, nil},
	{RuleSizeofPointer, "sizeof-pointer", Error,
		"sizeof is applied to a pointer variable where the size of the object it points to was meant: the allocation or copy is 4 or 8 bytes long, and the code then overruns it.",
		"Use sizeof(*p) or sizeof(TYPE).",
		[]uint32{0x19, 0xC1, 0x50}, []string{"PointerVariableSize"}},
	{RuleUserPointer, "user-pointer-without-probe", Error,
		"A user-mode buffer (Type3InputBuffer, UserBuffer) is accessed without ProbeForRead/ProbeForWrite inside __try/__except: a bad or freed user address crashes the kernel instead of failing the request.",
		"Wrap the access in __try { ProbeForRead(p, len, align); ... } __except (EXCEPTION_EXECUTE_HANDLER) { status = GetExceptionCode(); }, or use METHOD_BUFFERED.",
		[]uint32{0x50, 0x3B, 0x7E}, []string{"UserModeMemoryOutsideTry"}},
	{RuleSaveRegistryPath, "driverentry-saves-registrypath", Error,
		"DriverEntry keeps the RegistryPath pointer (or its Buffer); the I/O manager frees that string when DriverEntry returns, so later use reads freed pool.",
		"Copy the string: allocate RegistryPath->Length + sizeof(WCHAR) bytes with ExAllocatePool2 and RtlCopyUnicodeString into it (free it in the unload routine).",
		[]uint32{0x50, 0xD5, 0x7E}, []string{"DriverEntrySaveBuffer"}},
}

// Rules returns every rule, ordered by ID.
func Rules() []Rule {
	out := append([]Rule(nil), rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RuleByID finds a rule by its ID or name.
func RuleByID(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id || r.Name == id {
			return r, true
		}
	}
	return Rule{}, false
}

// BugCheck is a stop code a finding leads to.
type BugCheck struct {
	Code uint32 `json:"-"`
	Hex  string `json:"code"`
	Name string `json:"name"`
}

func bugChecks(codes []uint32) []BugCheck {
	out := make([]BugCheck, 0, len(codes))
	for _, c := range codes {
		out = append(out, BugCheck{Code: c, Hex: fmt.Sprintf("0x%X", c), Name: bugcode.Name(c)})
	}
	return out
}

// Package lint reviews Windows driver C sources for the defects that end
// in blue screens: deprecated and unchecked pool allocations, leaks,
// default or malformed pool tags, code that runs at too high an IRQL
// (paged code under a spin lock, in a DPC or completion routine), use
// after free and double free, spin locks left held, IRQLs not saved or
// restored, sizeof of a pointer, fixed-size buffers indexed or filled with
// an unchecked length, unprobed user pointers, a saved RegistryPath
// pointer, UserMode waits on stack objects and IRP status mistakes.
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
	RuleDeprecatedAlloc       = "BCL001"
	RuleAllocNullDeref        = "BCL002"
	RuleLeakEarlyReturn       = "BCL003"
	RuleLeakGlobal            = "BCL004"
	RuleDefaultTag            = "BCL005"
	RuleTagNotIntegral        = "BCL006"
	RuleIrqlTooHigh           = "BCL010"
	RuleIrqlTooLow            = "BCL011"
	RuleIrqlSetTooHigh        = "BCL012"
	RuleKeSetEventPaged       = "BCL013"
	RuleNoPagedCode           = "BCL014"
	RuleMultiplePagedCode     = "BCL015"
	RuleNoPagingSegment       = "BCL016"
	RuleUseAfterFree          = "BCL020"
	RuleDoubleFree            = "BCL021"
	RuleFreeNull              = "BCL022"
	RuleLockNotReleased       = "BCL023"
	RuleLockTwice             = "BCL024"
	RuleSizeofPointer         = "BCL025"
	RuleUserPointer           = "BCL026"
	RuleSaveRegistryPath      = "BCL027"
	RuleBufferBound           = "BCL028"
	RuleIrqlNotSaved          = "BCL030"
	RuleIrqlNotRestored       = "BCL031"
	RuleCancelIrql            = "BCL032"
	RuleWaitLocal             = "BCL033"
	RulePendingStatus         = "BCL034"
	RuleLowerStatus           = "BCL035"
	RuleResultIgnored         = "BCL036"
	RuleIrqlNotAnnotated      = "BCL037"
	RuleRefCountRace          = "BCL038"
	RuleRequestAfterComplete  = "BCL040"
	RuleDeviceInitAfterCreate = "BCL041"
	RuleDriverNotCreated      = "BCL042"
	RuleControlNotFinished    = "BCL043"
	RuleStopAckOutsideStop    = "BCL044"
	RuleCancelableMisuse      = "BCL045"
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
		"Memory allocated here (pool, an MDL, an IRP, a work item, a string RtlCreateUnicodeString filled) is neither freed nor handed on before the function returns on this path; each call leaks it until pool is exhausted, and Driver Verifier stops the machine when the driver unloads with it outstanding.",
		"Free the allocation (ExFreePoolWithTag with the same tag, IoFreeMdl, IoFreeIrp, IoFreeWorkItem, RtlFreeUnicodeString for RtlCreateUnicodeString) on every return path, typically with a single cleanup label.",
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
	{RuleBufferBound, "buffer-bound-unchecked", Error,
		"A buffer of fixed size (a pool allocation of a constant size, or a local array) is indexed or copied into with a length that comes from the caller and is never checked against the buffer's size: a longer frame, request or index writes or reads past the end, into the next pool block or off the end of the page.",
		"Compare the length or index with the buffer's size before the access and fail the request (STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER) when it does not fit, or allocate the buffer with the length it must hold.",
		[]uint32{0x50, 0x19, 0xC1, 0xD6, 0x13A, 0xF7}, nil},
	{RuleIrqlNotSaved, "irql-not-saved", Error,
		"A parameter annotated _IRQL_saves_ never receives the IRQL, so the caller later restores an IRQL that was never saved: the processor drops to a wrong level or stays raised.",
		"Save the IRQL into the parameter (KeAcquireSpinLock(lock, param), KeRaiseIrql(level, param)) on every path, or drop the annotation.",
		[]uint32{0xC4, 0x0A, 0x133}, []string{"IrqlNotSaved"}},
	{RuleIrqlNotRestored, "irql-not-restored", Error,
		"A parameter annotated _IRQL_restores_ is never used to restore the IRQL: the IRQL stays raised after the function returns.",
		"Restore the IRQL from the parameter (KeReleaseSpinLock(lock, param), KeLowerIrql(param)) on every path, or drop the annotation.",
		[]uint32{0xC4, 0x0A, 0x133}, []string{"IrqlNotUsed"}},
	{RuleCancelIrql, "cancel-routine-wrong-irql", Error,
		"A cancel routine releases the cancel spin lock with an IRQL other than Irp->CancelIrql, the level the I/O manager saved when it acquired the lock for the routine: the processor returns to the wrong IRQL.",
		"Call IoReleaseCancelSpinLock(Irp->CancelIrql) in the cancel routine.",
		[]uint32{0xC4, 0x0A, 0xD1}, []string{"IrqlCancelRoutine"}},
	{RuleWaitLocal, "usermode-wait-on-stack-object", Error,
		"A wait on an event or other dispatcher object that lives on the stack uses WaitMode UserMode, which lets the kernel page the thread's stack out during the wait; whoever signals the object then touches paged-out memory, at DISPATCH_LEVEL if it is a DPC.",
		"Wait with KernelMode when the object is on the stack, or allocate the object from non-paged pool.",
		[]uint32{0x0A, 0x50, 0xD1}, []string{"KeWaitLocal"}},
	{RulePendingStatus, "pending-irp-wrong-status", Error,
		"The dispatch routine marks the IRP pending (IoMarkIrpPending) but returns a status other than STATUS_PENDING, so the I/O manager and the completion path disagree about who finishes the IRP: it completes twice or the caller waits forever.",
		"Return STATUS_PENDING whenever IoMarkIrpPending was called, or do not mark the IRP pending when completing it synchronously.",
		[]uint32{0xC4, 0x44, 0x9F}, []string{"PendingStatusError"}},
	{RuleLowerStatus, "lower-driver-status-dropped", Warning,
		"The dispatch routine passes the IRP down with IoCallDriver but drops the status it returns; when the lower driver returns STATUS_PENDING the routine reports something else, and the IRP is completed or waited on wrongly.",
		"Return the status IoCallDriver returned (return IoCallDriver(...);), or wait for the completion and return Irp->IoStatus.Status.",
		[]uint32{0xC4, 0x9F, 0x44}, nil},
	{RuleResultIgnored, "result-not-examined", Warning,
		"The result of a routine whose result the rest of the file checks (an NTSTATUS, a pointer) is dropped or overwritten unread here: when the call fails the code goes on with what the call should have set up, an uninitialised or NULL pointer, a missing object.",
		"Check the result (if (!NT_SUCCESS(status)) ..., if (p == NULL) ...) and fail or clean up; cast the call to (void) where dropping the result is deliberate.",
		[]uint32{0x3B, 0x7E, 0x50, 0xC4}, []string{"ExaminedValue"}},
	{RuleIrqlNotAnnotated, "irql-change-not-annotated", Warning,
		"The function can return at a higher IRQL than it was entered at (a KeRaiseIrql or spin-lock acquisition not undone on some path), but no annotation (_IRQL_raises_, _Acquires_lock_, _IRQL_saves_global_) says so: callers go on at DISPATCH_LEVEL believing they run at their own IRQL, touch paged memory or call PASSIVE_LEVEL routines, or return to user mode raised.",
		"Restore the IRQL on every path before returning (release the lock, KeLowerIrql); if returning raised is the function's purpose, annotate it _IRQL_raises_(level) (with _Acquires_lock_ or _IRQL_saves_ for a lock helper).",
		[]uint32{0x0A, 0xD1, 0xC4, 0x133, 0x4A}, []string{"IrqlFunctionNotAnnotated"}},
	{RuleRefCountRace, "refcount-read-after-release", Error,
		"A reference count is decremented, the object is destroyed when the count reaches zero, and the count (read from the object again) is used on the path where this thread did not reach zero: between the decrement and the read another thread can drop the last reference and free the object, so the read touches freed memory. It only shows under load, as a rare 0x50 or 0x7E.",
		"Use only the value the interlocked decrement returned (ULONG ref = InterlockedDecrement(&obj->Ref); if (ref == 0) { free } return ref;) and touch the object no more after the decrement unless this thread still holds a reference.",
		[]uint32{0x50, 0x7E, 0x1E, 0xC2}, []string{"MultithreadedAVCondition"}},
	{RuleRequestAfterComplete, "request-used-after-completion", Error,
		"A request or IRP (or a buffer, MDL or memory object that belongs to it) is touched after WdfRequestComplete/IoCompleteRequest completed it, or after IoCallDriver gave it to a lower driver without a completion routine: the request and its buffers may already be freed and reused, so the access reads or writes someone else's memory; completing it twice corrupts the I/O manager's state.",
		"Read everything you need from the request (status, length, buffer contents) before completing it or passing it down, and make the completion (or IoCallDriver) the last thing done with it; to use the IRP after the lower driver finishes, set a completion routine that returns STATUS_MORE_PROCESSING_REQUIRED and wait for it.",
		[]uint32{0x50, 0x44, 0x10D, 0xC4, 0x7E}, nil},
	{RuleDeviceInitAfterCreate, "device-init-used-after-create", Error,
		"The WDFDEVICE_INIT is used after WdfDeviceCreate took it: on success the framework frees it and sets the pointer to NULL, so the call dereferences NULL (or, under KMDF Verifier, breaks the DeviceInitAPI rule).",
		"Make every WdfDeviceInit* call before WdfDeviceCreate; after it, configure the WDFDEVICE with WdfDevice* calls instead. Only free the init (WdfDeviceInitFree) when WdfDeviceCreate failed.",
		[]uint32{0x10D, 0x7E, 0x3B}, nil},
	{RuleDriverNotCreated, "kmdf-driver-not-created", Error,
		"DriverEntry of a KMDF driver returns without calling WdfDriverCreate: the framework has no WDFDRIVER for it, so EvtDriverDeviceAdd is never registered and framework calls made for the driver fail or fault (KMDF Verifier: the DriverCreate rule).",
		"Call WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE) in DriverEntry with a WDF_DRIVER_CONFIG that names EvtDriverDeviceAdd, and return its status.",
		[]uint32{0x10D, 0x7E}, nil},
	{RuleControlNotFinished, "control-device-not-finished", Warning,
		"A control device created from WdfControlDeviceInitAllocate is never finished with WdfControlFinishInitializing before the creating routine returns: the device stays marked as initializing, every open of it fails, and the driver's unload path deletes a half-built device.",
		"Call WdfControlFinishInitializing(device) once the control device's queues and symbolic link are set up, on every success path.",
		[]uint32{0x10D}, nil},
	{RuleStopAckOutsideStop, "stop-acknowledge-outside-evtiostop", Error,
		"WdfRequestStopAcknowledge is called outside EvtIoStop, for a request the framework did not ask to stop: the framework's power-down bookkeeping for the queue goes wrong, and KMDF Verifier stops the machine (StopAckWithinEvtIoStop rule).",
		"Call WdfRequestStopAcknowledge only from the queue's EvtIoStop callback (or for a request EvtIoStop was given); in other callbacks complete, forward or requeue the request.",
		[]uint32{0x10D, 0x9F}, nil},
	{RuleCancelableMisuse, "cancelable-request-mishandled", Error,
		"A request marked cancelable (WdfRequestMarkCancelable) is completed, forwarded or requeued without WdfRequestUnmarkCancelable first, or is marked cancelable a second time: the framework still has the cancel routine armed, so a cancellation completes the request again or runs the routine on a request that is gone (KMDF Verifier's MarkCancOnCancReq and CompleteCanceledReq rules).",
		"Call WdfRequestUnmarkCancelable before completing or handing on a request marked cancelable, and when it returns STATUS_CANCELLED leave the request to the cancel routine; mark a request cancelable only once.",
		[]uint32{0x10D, 0x44, 0x50}, nil},
}

// ruleDefects classifies each rule's defect for ranking findings against
// a crash (bugcheck analyze --source); the names are those of
// analyze.SourceFinding.Defect.
var ruleDefects = map[string]string{
	RuleDeprecatedAlloc: "uninitialised", RuleAllocNullDeref: "null-deref", RuleLeakEarlyReturn: "leak",
	RuleLeakGlobal: "leak", RuleDefaultTag: "pool-tag", RuleTagNotIntegral: "pool-tag", RuleIrqlTooHigh: "irql",
	RuleIrqlTooLow: "irql", RuleIrqlSetTooHigh: "irql", RuleKeSetEventPaged: "paged-code", RuleNoPagedCode: "paged-code",
	RuleMultiplePagedCode: "paged-code", RuleNoPagingSegment: "paged-code", RuleUseAfterFree: "use-after-free",
	RuleDoubleFree: "use-after-free", RuleFreeNull: "null-deref", RuleLockNotReleased: "lock", RuleLockTwice: "lock",
	RuleSizeofPointer: "overrun", RuleUserPointer: "user-pointer", RuleSaveRegistryPath: "use-after-free",
	RuleBufferBound: "overrun", RuleIrqlNotSaved: "lock", RuleIrqlNotRestored: "lock", RuleCancelIrql: "lock",
	RuleWaitLocal: "wait", RulePendingStatus: "irp", RuleLowerStatus: "irp", RuleResultIgnored: "unchecked-result",
	RuleIrqlNotAnnotated: "irql", RuleRefCountRace: "use-after-free", RuleRequestAfterComplete: "use-after-free", RuleDeviceInitAfterCreate: "null-deref", RuleDriverNotCreated: "framework",
	RuleControlNotFinished: "framework", RuleStopAckOutsideStop: "framework", RuleCancelableMisuse: "framework",
}

// DefectOf returns the kind of defect a rule finds: overrun,
// use-after-free, null-deref, uninitialised, user-pointer, irql,
// paged-code, lock, leak, pool-tag, irp, wait, unchecked-result, or other.
func DefectOf(rule string) string {
	if d, ok := ruleDefects[rule]; ok {
		return d
	}
	return "other"
}

// Rules returns every rule, ordered by ID.
func Rules() []Rule {
	out := append([]Rule(nil), rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RuleByID finds a rule by its ID or name, in any case.
func RuleByID(id string) (Rule, bool) {
	for _, r := range rules {
		if strings.EqualFold(r.ID, id) || strings.EqualFold(r.Name, id) {
			return r, true
		}
	}
	return Rule{}, false
}

// RuleDoc is a rule as the command line writes it in JSON: bug checks
// with their names, severity as text.
type RuleDoc struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Severity  string   `json:"severity"`
	Summary   string   `json:"summary"`
	Fix       string   `json:"fix"`
	BugChecks []string `json:"bug_checks"` // "0x50 PAGE_FAULT_IN_NONPAGED_AREA"
	CodeQL    []string `json:"codeql_queries,omitempty"`
}

// Doc describes the rule for people and tools.
func (r Rule) Doc() RuleDoc {
	d := RuleDoc{ID: r.ID, Name: r.Name, Severity: r.Severity.String(), Summary: r.Summary, Fix: r.Fix,
		BugChecks: make([]string, 0, len(r.BugChecks)), CodeQL: r.CodeQL}
	for _, b := range bugChecks(r.BugChecks) {
		d.BugChecks = append(d.BugChecks, b.Hex+" "+b.Name)
	}
	return d
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

package lint

import (
	"strconv"
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// allocator describes a routine that returns memory or an object that
// must be checked for NULL and released.
type allocator struct {
	tagArg  int    // index of the pool tag argument, -1 when none
	typeArg int    // index of the POOL_TYPE or POOL_FLAGS argument, -1 when none
	flags   bool   // typeArg holds POOL_FLAG_* (ExAllocatePool2/3)
	free    string // how it is released, for messages
	raises  bool   // raises an exception instead of returning NULL
}

var allocators = map[string]allocator{
	"ExAllocatePool":                         {-1, 0, false, "ExFreePool", false},
	"ExAllocatePoolWithTag":                  {2, 0, false, "ExFreePoolWithTag", false},
	"ExAllocatePoolWithQuota":                {-1, 0, false, "ExFreePool", true},
	"ExAllocatePoolWithQuotaTag":             {2, 0, false, "ExFreePoolWithTag", true},
	"ExAllocatePoolWithTagPriority":          {2, 0, false, "ExFreePoolWithTag", false},
	"ExAllocatePool2":                        {2, 0, true, "ExFreePoolWithTag", false},
	"ExAllocatePool3":                        {2, 0, true, "ExFreePoolWithTag", false},
	"ExAllocatePoolZero":                     {2, 0, false, "ExFreePoolWithTag", false},
	"ExAllocatePoolUninitialized":            {2, 0, false, "ExFreePoolWithTag", false},
	"ExAllocatePoolQuotaZero":                {2, 0, false, "ExFreePoolWithTag", false},
	"ExAllocatePoolQuotaUninitialized":       {2, 0, false, "ExFreePoolWithTag", false},
	"ExAllocateFromNPagedLookasideList":      {-1, -1, false, "ExFreeToNPagedLookasideList", false},
	"ExAllocateFromPagedLookasideList":       {-1, -1, false, "ExFreeToPagedLookasideList", false},
	"ExAllocateFromLookasideListEx":          {-1, -1, false, "ExFreeToLookasideListEx", false},
	"IoAllocateMdl":                          {-1, -1, false, "IoFreeMdl", false},
	"IoAllocateIrp":                          {-1, -1, false, "IoFreeIrp", false},
	"IoAllocateIrpEx":                        {-1, -1, false, "IoFreeIrp", false},
	"IoAllocateWorkItem":                     {-1, -1, false, "IoFreeWorkItem", false},
	"IoAllocateErrorLogEntry":                {-1, -1, false, "IoWriteErrorLogEntry", false},
	"MmAllocateContiguousMemory":             {-1, -1, false, "MmFreeContiguousMemory", false},
	"MmAllocateContiguousMemorySpecifyCache": {-1, -1, false, "MmFreeContiguousMemory", false},
	"MmAllocateContiguousNodeMemory":         {-1, -1, false, "MmFreeContiguousMemory", false},
	"MmAllocateNonCachedMemory":              {-1, -1, false, "MmFreeNonCachedMemory", false},
	"MmAllocatePagesForMdl":                  {-1, -1, false, "MmFreePagesFromMdl", false},
	"MmAllocatePagesForMdlEx":                {-1, -1, false, "MmFreePagesFromMdl", false},
	"IoBuildDeviceIoControlRequest":          {-1, -1, false, "IoCallDriver", false},
	"IoBuildSynchronousFsdRequest":           {-1, -1, false, "IoCallDriver", false},
	"IoBuildAsynchronousFsdRequest":          {-1, -1, false, "IoFreeIrp", false},
	"ExAllocateTimer":                        {-1, -1, false, "ExDeleteTimer", false},
}

// stringAllocs allocate the buffer of the string their first argument
// points to, returning BOOLEAN success; the value is how it is freed.
var stringAllocs = map[string]string{"RtlCreateUnicodeString": "RtlFreeUnicodeString"}

// stringFreers free the buffer of the string their first argument points
// to (and clear the string, so freeing again is harmless).
var stringFreers = map[string]bool{"RtlFreeUnicodeString": true, "RtlFreeAnsiString": true}

// freeOf names how an allocation by the named routine is freed.
func freeOf(alloc string) string {
	if f, ok := stringAllocs[alloc]; ok {
		return f
	}
	return allocators[alloc].free
}

// deprecatedAllocs are the allocators ExAllocatePool2/3 replace.
var deprecatedAllocs = map[string]bool{
	"ExAllocatePool": true, "ExAllocatePoolWithTag": true, "ExAllocatePoolWithQuota": true,
	"ExAllocatePoolWithQuotaTag": true, "ExAllocatePoolWithTagPriority": true,
}

// freers maps a release routine to the index of the argument it frees.
var freers = map[string]int{
	"ExFreePool": 0, "ExFreePoolWithTag": 0, "ExFreePool2": 0, "IoFreeMdl": 0, "IoFreeIrp": 0,
	"IoFreeWorkItem": 0, "MmFreeContiguousMemory": 0, "MmFreeContiguousMemorySpecifyCache": 0,
	"MmFreeNonCachedMemory": 0, "ExFreeToNPagedLookasideList": 1, "ExFreeToPagedLookasideList": 1,
	"ExFreeToLookasideListEx": 1, "ExDeleteTimer": 0, "IoWriteErrorLogEntry": 0,
}

// poolFreers are the freers that stop the machine on NULL.
var poolFreers = map[string]bool{"ExFreePool": true, "ExFreePoolWithTag": true, "ExFreePool2": true}

// derefArgs lists routines that read or write through pointer arguments
// (the indexes), so passing an unchecked allocation to them dereferences
// it.
var derefArgs = map[string][]int{
	"memcpy": {0, 1}, "memmove": {0, 1}, "memset": {0}, "RtlCopyMemory": {0, 1}, "RtlMoveMemory": {0, 1},
	"RtlZeroMemory": {0}, "RtlFillMemory": {0}, "RtlSecureZeroMemory": {0}, "RtlCopyBytes": {0, 1},
	"RtlCompareMemory": {0, 1}, "RtlEqualMemory": {0, 1}, "InitializeListHead": {0},
	"KeInitializeSpinLock": {0}, "KeInitializeEvent": {0}, "RtlCopyUnicodeString": {0},
	"RtlStringCbCopyW": {0}, "RtlStringCbCopyA": {0}, "RtlStringCchCopyW": {0}, "RtlStringCchCopyA": {0},
	"strcpy": {0, 1}, "wcscpy": {0, 1}, "MmBuildMdlForNonPagedPool": {0}, "MmProbeAndLockPages": {0},
	"IoInitializeIrp": {0}, "IoGetNextIrpStackLocation": {0}, "IoQueueWorkItem": {0},
}

// nonEscaping routines take a pointer without keeping it.
var nonEscaping = map[string]bool{
	"DbgPrint": true, "DbgPrintEx": true, "KdPrint": true, "KdPrintEx": true, "ASSERT": true, "NT_ASSERT": true,
	"UNREFERENCED_PARAMETER": true, "RtlInitUnicodeString": true, "TraceEvents": true,
}

// IRQL levels.
const (
	passive  = 0
	apc      = 1
	dispatch = 2
	dirql    = 3 // any device IRQL
	unknown  = -1
)

// irqlReq is what a routine demands of its caller's IRQL.
type irqlReq struct {
	min, max int // unknown when unconstrained
	why      string
}

// apiIRQL holds the documented IRQL ceilings of kernel routines that are
// called at the wrong level in practice.
var apiIRQL = map[string]irqlReq{}

func init() {
	for _, n := range strings.Fields(`ZwCreateFile ZwOpenFile ZwReadFile ZwWriteFile ZwClose ZwOpenKey ZwCreateKey
		ZwQueryValueKey ZwSetValueKey ZwDeleteKey ZwDeleteValueKey ZwEnumerateKey ZwEnumerateValueKey ZwQueryInformationFile
		ZwSetInformationFile ZwQueryDirectoryFile ZwFlushKey ZwMapViewOfSection ZwUnmapViewOfSection ZwCreateSection
		ZwOpenSection ZwQuerySystemInformation ZwWaitForSingleObject IoCreateDevice IoDeleteDevice IoCreateSymbolicLink
		IoDeleteSymbolicLink IoRegisterDeviceInterface IoSetDeviceInterfaceState IoOpenDeviceRegistryKey
		IoGetDeviceProperty IoGetDeviceObjectPointer IoBuildDeviceIoControlRequest IoBuildSynchronousFsdRequest
		IoAttachDeviceToDeviceStack IoDetachDevice IoRegisterPlugPlayNotification IoUnregisterPlugPlayNotification
		IoWMIRegistrationControl IoCreateNotificationEvent IoCreateSynchronizationEvent PsCreateSystemThread
		PsTerminateSystemThread PsGetVersion RtlQueryRegistryValues RtlWriteRegistryValue RtlDeleteRegistryValue RtlCheckRegistryKey
		ObReferenceObjectByName MmMapIoSpace MmUnmapIoSpace MmLockPagableCodeSection MmLockPagableDataSection
		MmUnlockPagableImageSection MmPageEntireDriver MmResetDriverPaging MmMapLockedPagesWithReservedMapping
		IoAllocateDriverObjectExtension KeFlushQueuedDpcs ExUuidCreate RtlUnicodeStringToAnsiString
		RtlAnsiStringToUnicodeString RtlUpcaseUnicodeString RtlFreeUnicodeString RtlFreeAnsiString RtlAppendUnicodeToString
		RtlUnicodeStringToInteger RtlIntegerToUnicodeString WdfDeviceCreate WdfIoQueueCreate WdfRequestSend
		ZwPowerInformation IoGetDeviceInterfaces IoOpenDeviceInterfaceRegistryKey IoReportTargetDeviceChange
		ExInitializeResourceLite ExDeleteResourceLite PsSetCreateProcessNotifyRoutine PsSetLoadImageNotifyRoutine
		CmRegisterCallback CmUnRegisterCallback FltRegisterFilter FltStartFiltering FltCloseCommunicationPort`) {
		apiIRQL[n] = irqlReq{unknown, passive, "runs only at PASSIVE_LEVEL"}
	}
	for _, n := range strings.Fields(`KeDelayExecutionThread ExAcquireFastMutex ExReleaseFastMutex
		ExAcquireResourceExclusiveLite ExAcquireResourceSharedLite ExReleaseResourceLite KeEnterCriticalRegion
		KeLeaveCriticalRegion KeWaitForMutexObject ObReferenceObjectByHandle ObReferenceObjectByHandleWithTag
		IoGetInitialStack IoGetStackLimits IoQueryFileDosDeviceName IoVolumeDeviceToDosName FsRtlEnterFileSystem
		ExEnterCriticalRegionAndAcquireResourceExclusive KeEnterGuardedRegion KeLeaveGuardedRegion
		PsGetCurrentProcessSessionId ExAcquirePushLockExclusive ExAcquirePushLockShared`) {
		apiIRQL[n] = irqlReq{unknown, apc, "runs only at or below APC_LEVEL"}
	}
	for _, n := range strings.Fields(`KeAcquireSpinLockAtDpcLevel KeReleaseSpinLockFromDpcLevel
		KeAcquireInStackQueuedSpinLockAtDpcLevel KeReleaseInStackQueuedSpinLockFromDpcLevel`) {
		apiIRQL[n] = irqlReq{dispatch, unknown, "requires DISPATCH_LEVEL"}
	}
}

// lockOp describes spin-lock and IRQL raise/lower routines: which
// argument names the lock (-1: a fixed key), the IRQL it raises to, and
// whether it acquires or releases.
type lockOp struct {
	arg     int
	key     string // fixed key when arg < 0
	level   int    // level while held; 0 for releases
	acquire bool
	kind    string
}

var lockOps = map[string]lockOp{
	"KeAcquireSpinLock":                          {0, "", dispatch, true, "spin lock"},
	"KeAcquireSpinLockRaiseToDpc":                {0, "", dispatch, true, "spin lock"},
	"KeAcquireSpinLockAtDpcLevel":                {0, "", dispatch, true, "spin lock"},
	"KeAcquireInStackQueuedSpinLock":             {1, "", dispatch, true, "queued spin lock"},
	"KeAcquireInStackQueuedSpinLockAtDpcLevel":   {1, "", dispatch, true, "queued spin lock"},
	"KeAcquireInStackQueuedSpinLockForDpc":       {1, "", dispatch, true, "queued spin lock"},
	"ExAcquireSpinLockExclusive":                 {0, "", dispatch, true, "spin lock"},
	"ExAcquireSpinLockShared":                    {0, "", dispatch, true, "spin lock"},
	"ExAcquireSpinLockExclusiveAtDpcLevel":       {0, "", dispatch, true, "spin lock"},
	"ExAcquireSpinLockSharedAtDpcLevel":          {0, "", dispatch, true, "spin lock"},
	"KeAcquireInterruptSpinLock":                 {0, "", dirql, true, "interrupt spin lock"},
	"IoAcquireCancelSpinLock":                    {-1, "cancel spin lock", dispatch, true, "cancel spin lock"},
	"NdisAcquireSpinLock":                        {0, "", dispatch, true, "spin lock"},
	"NdisDprAcquireSpinLock":                     {0, "", dispatch, true, "spin lock"},
	"WdfSpinLockAcquire":                         {0, "", dispatch, true, "spin lock"},
	"WdfInterruptAcquireLock":                    {0, "", dirql, true, "interrupt lock"},
	"KeRaiseIrql":                                {-1, "raised IRQL", 0, true, "raised IRQL"},
	"KfRaiseIrql":                                {-1, "raised IRQL", 0, true, "raised IRQL"},
	"KeRaiseIrqlToDpcLevel":                      {-1, "raised IRQL", dispatch, true, "raised IRQL"},
	"KeReleaseSpinLock":                          {0, "", 0, false, ""},
	"KeReleaseSpinLockFromDpcLevel":              {0, "", 0, false, ""},
	"KeReleaseInStackQueuedSpinLock":             {0, "", 0, false, ""},
	"KeReleaseInStackQueuedSpinLockFromDpcLevel": {0, "", 0, false, ""},
	"KeReleaseInStackQueuedSpinLockForDpc":       {0, "", 0, false, ""},
	"ExReleaseSpinLockExclusive":                 {0, "", 0, false, ""},
	"ExReleaseSpinLockShared":                    {0, "", 0, false, ""},
	"ExReleaseSpinLockExclusiveFromDpcLevel":     {0, "", 0, false, ""},
	"ExReleaseSpinLockSharedFromDpcLevel":        {0, "", 0, false, ""},
	"KeReleaseInterruptSpinLock":                 {0, "", 0, false, ""},
	"IoReleaseCancelSpinLock":                    {-1, "cancel spin lock", 0, false, ""},
	"NdisReleaseSpinLock":                        {0, "", 0, false, ""},
	"NdisDprReleaseSpinLock":                     {0, "", 0, false, ""},
	"WdfSpinLockRelease":                         {0, "", 0, false, ""},
	"WdfInterruptReleaseLock":                    {0, "", 0, false, ""},
	"KeLowerIrql":                                {-1, "raised IRQL", 0, false, ""},
}

// roleIRQL gives the IRQL a routine of a WDK role runs at: min and max.
func roleIRQL(r csrc.Role) (int, int, bool) {
	switch r {
	case "DRIVER_INITIALIZE", "DRIVER_UNLOAD", "DRIVER_ADD_DEVICE", "EVT_WDF_DRIVER_DEVICE_ADD",
		"EVT_WDF_DRIVER_UNLOAD", "IO_WORKITEM_ROUTINE", "IO_WORKITEM_ROUTINE_EX", "KSTART_ROUTINE",
		"WORKER_THREAD_ROUTINE", "EVT_WDF_WORKITEM":
		return passive, passive, true
	case "KDEFERRED_ROUTINE", "IO_DPC_ROUTINE", "EVT_WDF_DPC", "EVT_WDF_INTERRUPT_DPC", "DRIVER_CANCEL",
		"DRIVER_STARTIO", "IO_TIMER_ROUTINE", "EVT_WDF_TIMER", "DRIVER_CONTROL":
		return dispatch, dispatch, true
	case "KSERVICE_ROUTINE", "EVT_WDF_INTERRUPT_ISR", "KMESSAGE_SERVICE_ROUTINE", "KSYNCHRONIZE_ROUTINE",
		"EVT_WDF_INTERRUPT_SYNCHRONIZE":
		return dirql, dirql, true
	case "IO_COMPLETION_ROUTINE", "EVT_WDF_REQUEST_COMPLETION_ROUTINE":
		return passive, dispatch, true
	}
	return 0, 0, false
}

// registrations infer roles from the routines a function is passed to:
// callee -> (argument index, role).
var registrations = map[string]struct {
	arg  int
	role csrc.Role
}{
	"IoSetCompletionRoutine":   {1, "IO_COMPLETION_ROUTINE"},
	"IoSetCompletionRoutineEx": {2, "IO_COMPLETION_ROUTINE"},
	"KeInitializeDpc":          {1, "KDEFERRED_ROUTINE"},
	"KeInitializeThreadedDpc":  {1, "KDEFERRED_ROUTINE"},
	"IoInitializeDpcRequest":   {1, "IO_DPC_ROUTINE"},
	"IoConnectInterrupt":       {1, "KSERVICE_ROUTINE"},
	"IoSetCancelRoutine":       {1, "DRIVER_CANCEL"},
	"IoStartPacket":            {3, "DRIVER_CANCEL"},
	"IoInitializeTimer":        {1, "IO_TIMER_ROUTINE"},
	"IoQueueWorkItem":          {1, "IO_WORKITEM_ROUTINE"},
	"IoQueueWorkItemEx":        {1, "IO_WORKITEM_ROUTINE_EX"},
	"ExInitializeWorkItem":     {1, "WORKER_THREAD_ROUTINE"},
	"PsCreateSystemThread":     {5, "KSTART_ROUTINE"},
}

// parseIRQL reads an IRQL annotation argument.
func parseIRQL(s string) int {
	s = strings.TrimSpace(s)
	switch s {
	case "PASSIVE_LEVEL", "LOW_LEVEL":
		return passive
	case "APC_LEVEL":
		return apc
	case "DISPATCH_LEVEL", "SYNCH_LEVEL":
		return dispatch
	case "HIGH_LEVEL", "POWER_LEVEL", "IPI_LEVEL", "CLOCK_LEVEL", "PROFILE_LEVEL", "DIRQL":
		return dirql
	}
	if v, err := strconv.ParseInt(s, 0, 32); err == nil && v >= 0 {
		if v > dirql {
			return dirql
		}
		return int(v)
	}
	if strings.Contains(s, "DISPATCH_LEVEL") {
		return dispatch
	}
	return unknown
}

// defaultTags are pool tags that identify nobody, as written in C.
var defaultTags = map[string]bool{
	"' kdD'": true, "'kdD '": true, "' mdW'": true, "'mdW '": true, "'enoN'": true, "'None'": true,
	"'none'": true, "'enon'": true, "' ??'": true, "'    '": true, "'gaT '": true, "'gaT'": true,
	"'Tag '": true, "' gaT'": true, "'Tag'": true,
}

// poolFlags maps a POOL_TYPE to the ExAllocatePool2 flags.
func poolFlags(poolType string) (flags string, paged bool, ok bool) {
	t := strings.TrimSpace(poolType)
	extra := ""
	if strings.Contains(t, "POOL_RAISE_IF_ALLOCATION_FAILURE") {
		extra = " | POOL_FLAG_RAISE_ON_FAILURE"
		t = strings.TrimSpace(strings.NewReplacer("POOL_RAISE_IF_ALLOCATION_FAILURE", "", "|", "", "(", "", ")", "").Replace(t))
	}
	switch t {
	case "NonPagedPool", "NonPagedPoolNx", "NonPagedPoolMustSucceed", "NonPagedPoolBaseMustSucceed", "NonPagedPoolBase", "0":
		return "POOL_FLAG_NON_PAGED" + extra, false, true
	case "NonPagedPoolExecute":
		return "POOL_FLAG_NON_PAGED_EXECUTE" + extra, false, true
	case "NonPagedPoolCacheAligned", "NonPagedPoolNxCacheAligned", "NonPagedPoolCacheAlignedMustS", "NonPagedPoolBaseCacheAligned":
		return "POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED" + extra, false, true
	case "NonPagedPoolSession", "NonPagedPoolNxSession", "NonPagedPoolMustSucceedSession":
		return "POOL_FLAG_NON_PAGED | POOL_FLAG_SESSION" + extra, false, true
	case "PagedPool", "1":
		return "POOL_FLAG_PAGED" + extra, true, true
	case "PagedPoolCacheAligned":
		return "POOL_FLAG_PAGED | POOL_FLAG_CACHE_ALIGNED" + extra, true, true
	case "PagedPoolSession":
		return "POOL_FLAG_PAGED | POOL_FLAG_SESSION" + extra, true, true
	}
	return "", false, false
}

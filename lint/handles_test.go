package lint

import (
	"fmt"
	"strings"
	"testing"
)

// onlyRules keeps the findings of the given rules as "RULE@line".
func onlyRules(fs []Finding, rules ...string) string {
	var out []string
	for _, f := range fs {
		for _, r := range rules {
			if f.Rule == r {
				out = append(out, fmt.Sprintf("%s@%d", f.Rule, f.Line))
			}
		}
	}
	return strings.Join(out, " ")
}

func TestHandleLifetime(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"status read after completion", `
NTSTATUS D(PDEVICE_OBJECT d, PIRP Irp)
{
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Irp->IoStatus.Status;
}`, "BCL040@6"},
		{"status saved before completion", `
NTSTATUS D(PDEVICE_OBJECT d, PIRP Irp)
{
    NTSTATUS status = Irp->IoStatus.Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}`, ""},
		{"completed twice", `
VOID D(PIRP Irp, NTSTATUS s)
{
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    if (s != 0) {
        Log(s);
    }
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}`, "BCL040@8"},
		{"completed on one path only", `
NTSTATUS D(PIRP Irp, BOOLEAN now)
{
    if (now) {
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
    } else {
        IoMarkIrpPending(Irp);
    }
    Irp->Tail.Overlay.DriverContext[0] = NULL;
    return STATUS_PENDING;
}`, ""},
		{"completed on both paths", `
VOID Q(WDFQUEUE q, WDFREQUEST Request)
{
    WDFMEMORY memory;
    PMDL mdl;
    NTSTATUS status = WdfRequestRetrieveInputMemory(Request, &memory);
    if (!NT_SUCCESS(status)) {
        return;
    }
    status = WdfRequestRetrieveOutputWdmMdl(Request, &mdl);
    if (NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
    } else {
        WdfRequestCompleteWithInformation(Request, status, 0);
    }
    Use(memory);
    Use2(mdl);
}`, "BCL040@16 BCL040@17"},
		{"buffer of a completed request", `
VOID Q(WDFQUEUE q, WDFREQUEST Request)
{
    PVOID buf;
    if (!NT_SUCCESS(WdfRequestRetrieveOutputBuffer(Request, 4, &buf, NULL))) {
        return;
    }
    WdfRequestComplete(Request, STATUS_SUCCESS);
    RtlZeroMemory(buf, 4);
}`, "BCL040@9"},
		{"system buffer and stack location of a completed IRP", `
NTSTATUS D(PDEVICE_OBJECT d, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    PULONG out = Irp->AssociatedIrp.SystemBuffer;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    *out = 0;
    return sp->Parameters.Read.Length;
}`, "BCL040@7 BCL040@8"},
		{"handle values printed, remove lock tag", `
NTSTATUS D(PDEVICE_EXTENSION e, PIRP Irp, WDFREQUEST r)
{
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    IoReleaseRemoveLock(&e->RemoveLock, Irp);
    WdfRequestComplete(r, STATUS_SUCCESS);
    TraceEvents(TRACE_LEVEL_INFORMATION, DBG_IO, "completed %p", r);
    UNREFERENCED_PARAMETER(r);
    return STATUS_SUCCESS;
}`, ""},
		{"queue drained in a loop", `
VOID Purge(WDFQUEUE q)
{
    WDFREQUEST req;
    while (NT_SUCCESS(WdfIoQueueRetrieveNextRequest(q, &req))) {
        WdfRequestComplete(req, STATUS_CANCELLED);
    }
}`, ""},
		{"reassigned after completion", `
VOID Dpc(PKDPC dpc, PDEVICE_EXTENSION e)
{
    PIRP irp = e->Current;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    irp = e->Next;
    irp->IoStatus.Information = 0;
}`, ""},
		{"IRP passed down without a completion routine", `
NTSTATUS D(PDEVICE_EXTENSION e, PIRP Irp)
{
    NTSTATUS status;
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(e->Lower, Irp);
    Irp->IoStatus.Status = status;
    return status;
}`, "BCL040@7"},
		{"IRP passed down with a completion routine", `
NTSTATUS D(PDEVICE_EXTENSION e, PIRP Irp)
{
    KEVENT ev;
    NTSTATUS status;
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, Done, &ev, TRUE, TRUE, TRUE);
    status = IoCallDriver(e->Lower, Irp);
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
        status = Irp->IoStatus.Status;
    }
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}`, ""},
		{"device init used after create", `
NTSTATUS Add(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDFDEVICE device;
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, WDF_NO_OBJECT_ATTRIBUTES, &device);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoBuffered);
    return status;
}`, "BCL041@9"},
		{"device init freed when create fails", `
NTSTATUS Ctl(WDFDRIVER Driver)
{
    WDFDEVICE device;
    NTSTATUS status;
    PWDFDEVICE_INIT init = WdfControlDeviceInitAllocate(Driver, &SDDL_DEVOBJ_SYS_ALL_ADM_ALL);
    if (init == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    status = WdfDeviceCreate(&init, WDF_NO_OBJECT_ATTRIBUTES, &device);
    if (!NT_SUCCESS(status)) {
        WdfDeviceInitFree(init);
        return status;
    }
    WdfControlFinishInitializing(device);
    return status;
}`, ""},
		{"nonpnp cleanup idiom", `
NTSTATUS Ctl(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDFDEVICE controlDevice;
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, WDF_NO_OBJECT_ATTRIBUTES, &controlDevice);
    if (!NT_SUCCESS(status)) {
        goto End;
    }
    status = WdfDeviceCreateSymbolicLink(controlDevice, &name);
    if (!NT_SUCCESS(status)) {
        goto End;
    }
    WdfControlFinishInitializing(controlDevice);
End:
    if (DeviceInit != NULL) {
        WdfDeviceInitFree(DeviceInit);
    }
    return status;
}`, ""},
		{"control device not finished", `
NTSTATUS Add(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDFDEVICE ctl = NULL;
    NTSTATUS status = STATUS_SUCCESS;
    PWDFDEVICE_INIT ci = WdfControlDeviceInitAllocate(WdfGetDriver(), &sddl);
    if (ci != NULL) {
        status = WdfDeviceCreate(&ci, WDF_NO_OBJECT_ATTRIBUTES, &ctl);
    }
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfDeviceCreateSymbolicLink(ctl, &name);
    return status;
}`, "BCL043@14"},
		{"control device handed to a helper", `
NTSTATUS Add(WDFDRIVER Driver)
{
    WDFDEVICE ctl;
    PWDFDEVICE_INIT ci = WdfControlDeviceInitAllocate(Driver, &sddl);
    NTSTATUS status = WdfDeviceCreate(&ci, WDF_NO_OBJECT_ATTRIBUTES, &ctl);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    return FinishLater(ctl);
}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := onlyRules(lintSrc(t, tc.src), RuleRequestAfterComplete, RuleDeviceInitAfterCreate, RuleControlNotFinished)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKMDFRules(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"DriverEntry without WdfDriverCreate", `
DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD Add;
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    Setup();
    return STATUS_SUCCESS;
}`, "BCL042@9"},
		{"DriverEntry with WdfDriverCreate", `
EVT_WDF_DRIVER_DEVICE_ADD Add;
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, Add);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}`, ""},
		{"driver created by a helper of this file", `
EVT_WDF_DRIVER_DEVICE_ADD Add;
static NTSTATUS Create(PDRIVER_OBJECT d, PUNICODE_STRING r)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, Add);
    return WdfDriverCreate(d, r, WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WPP_INIT_TRACING(DriverObject, RegistryPath);
    return Create(DriverObject, RegistryPath);
}`, ""},
		{"driver object handed to code elsewhere", `
EVT_WDF_DRIVER_DEVICE_ADD Add;
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    return CommonDriverEntry(DriverObject, RegistryPath);
}`, ""},
		{"WDM driver", `
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    DriverObject->MajorFunction[IRP_MJ_CREATE] = Create;
    DriverObject->DriverUnload = Unload;
    return STATUS_SUCCESS;
}`, ""},
		{"stop acknowledged in a read callback", `
VOID Read(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    WdfRequestMarkCancelable(Request, Cancel);
    WdfRequestStopAcknowledge(Request, FALSE);
}
VOID Stop(WDFQUEUE Queue, WDFREQUEST Request, ULONG ActionFlags)
{
    WdfRequestStopAcknowledge(Request, TRUE);
}
VOID Helper(WDFREQUEST Request)
{
    WdfRequestStopAcknowledge(Request, FALSE);
}
NTSTATUS Add(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDF_IO_QUEUE_CONFIG cfg;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&cfg, WdfIoQueueDispatchSequential);
    cfg.EvtIoRead = Read;
    cfg.EvtIoStop = Stop;
    return STATUS_SUCCESS;
}`, "BCL044@5"},
		{"stop acknowledged in a declared stop callback", `
EVT_WDF_IO_QUEUE_IO_STOP OnStop;
VOID OnStop(WDFQUEUE Queue, WDFREQUEST Request, ULONG ActionFlags)
{
    WdfRequestStopAcknowledge(Request, TRUE);
}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := onlyRules(lintSrc(t, tc.src), RuleDriverNotCreated, RuleStopAckOutsideStop)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCancelableRequests(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"completed while cancelable", `
VOID Read(WDFQUEUE q, WDFREQUEST Request, size_t n)
{
    WdfRequestMarkCancelable(Request, OnCancel);
    if (Ready()) {
        WdfRequestComplete(Request, STATUS_SUCCESS);
    }
}`, "BCL045@6"},
		{"unmarked before completion", `
VOID Done(WDFREQUEST Request)
{
    WdfRequestMarkCancelable(Request, OnCancel);
    Wait();
    if (WdfRequestUnmarkCancelable(Request) != STATUS_CANCELLED) {
        WdfRequestComplete(Request, STATUS_SUCCESS);
    }
}`, ""},
		{"marked twice", `
VOID Read(WDFQUEUE q, WDFREQUEST Request, size_t n)
{
    WdfRequestMarkCancelable(Request, OnCancel);
    WdfRequestMarkCancelable(Request, OnCancel);
}`, "BCL045@5"},
		{"MarkCancelableEx failure completes the request", `
VOID Read(WDFQUEUE q, WDFREQUEST Request, size_t n)
{
    NTSTATUS status = WdfRequestMarkCancelableEx(Request, OnCancel);
    if (!NT_SUCCESS(status)) {
        WdfRequestCompleteWithInformation(Request, status, 0);
    }
}`, ""},
		{"requeued while cancelable", `
VOID Read(WDFQUEUE q, WDFREQUEST Request, size_t n)
{
    WdfRequestMarkCancelable(Request, OnCancel);
    WdfRequestForwardToIoQueue(Request, Other);
}`, "BCL045@5"},
		{"handed to a helper that may unmark it", `
VOID Read(WDFQUEUE q, WDFREQUEST Request, size_t n)
{
    WdfRequestMarkCancelable(Request, OnCancel);
    FinishRequest(Request);
    WdfRequestComplete(Request, STATUS_SUCCESS);
}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := onlyRules(lintSrc(t, tc.src), RuleCancelableMisuse); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

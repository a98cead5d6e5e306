// acmefilt: the frame filter of the shipped sample crash
// (samples/page-fault-0x50.dmp), written for the analyze --source test.
// CopyFrame has the overrun behind the crash; the deprecated allocator
// and the default tag are real findings that did not cause it.

#include <ntddk.h>

#define FRAME_BUFFER_SIZE 0x100

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD FilterUnload;

PVOID g_Scratch;

NTSTATUS
CopyFrame(
    _In_reads_bytes_(FrameLength) const ULONG *Frame,
    _In_ ULONG FrameLength
    )
{
    PULONG buffer;
    ULONG i;

    buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, FRAME_BUFFER_SIZE, 'tlfA');
    if (buffer == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    for (i = 0; i < FrameLength / sizeof(ULONG); i++) {
        buffer[i] = Frame[i];
    }
    ExFreePoolWithTag(buffer, 'tlfA');
    return STATUS_SUCCESS;
}

VOID
FilterUnload(
    _In_ PDRIVER_OBJECT DriverObject
    )
{
    UNREFERENCED_PARAMETER(DriverObject);
    if (g_Scratch != NULL) {
        ExFreePoolWithTag(g_Scratch, ' kdD');
    }
}

NTSTATUS
DriverEntry(
    _In_ PDRIVER_OBJECT DriverObject,
    _In_ PUNICODE_STRING RegistryPath
    )
{
    UNREFERENCED_PARAMETER(RegistryPath);
    g_Scratch = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'tlfA');
    if (g_Scratch == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    DriverObject->DriverUnload = FilterUnload;
    return STATUS_SUCCESS;
}

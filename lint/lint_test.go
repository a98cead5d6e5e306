package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

func lintSrc(t testing.TB, src string) []Finding {
	t.Helper()
	if !csrc.HasFrontEnd {
		t.Skip("built without cgo: no C front end")
	}
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := l.Source("t.c", []byte(src))
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	return r.Findings
}

// The 0x50 example: exactly the deprecated allocator and the leak.
const example0x50 = `#include <ntddk.h>

DRIVER_INITIALIZE DriverEntry;

_Use_decl_annotations_
NTSTATUS
DriverEntry(
    _In_ PDRIVER_OBJECT DriverObject,
    _In_ PUNICODE_STRING RegistryPath
    )
{
    PVOID buffer;

    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);

    buffer = ExAllocatePoolWithTag(NonPagedPool, 1024, 'Buff');
    if (buffer == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *(PULONG)buffer = 0x12345678;
    return STATUS_SUCCESS;
}
`

func TestExample0x50(t *testing.T) {
	for _, tc := range []struct {
		name, src string
	}{
		{"local", example0x50},
		{"global", strings.Replace(strings.Replace(example0x50, "    PVOID buffer;\n", "", 1), "DRIVER_INITIALIZE DriverEntry;", "DRIVER_INITIALIZE DriverEntry;\nPVOID buffer;", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := lintSrc(t, tc.src)
			if len(fs) != 2 {
				t.Fatalf("want exactly 2 findings, got %d: %+v", len(fs), fs)
			}
			dep, leak := fs[0], fs[1]
			if dep.Rule != RuleDeprecatedAlloc || dep.Line != 17 {
				t.Errorf("first finding %s line %d, want %s line 17", dep.Rule, dep.Line, RuleDeprecatedAlloc)
			}
			if !strings.HasPrefix(dep.Fix, "ExAllocatePool2(POOL_FLAG_NON_PAGED, 1024, 'Buff')") || !strings.Contains(dep.Fix, "zeroes") {
				t.Errorf("fix = %q", dep.Fix)
			}
			wantLeak := RuleLeakEarlyReturn
			if tc.name == "global" {
				wantLeak = RuleLeakGlobal
			}
			if leak.Rule != wantLeak || leak.Line != 17 || !strings.Contains(strings.ToLower(leak.Message), "unload") {
				t.Errorf("second finding %s line %d %q, want %s line 17 naming the missing unload routine", leak.Rule, leak.Line, leak.Message, wantLeak)
			}
			for _, f := range fs {
				if f.Rule == RuleAllocNullDeref || f.Rule == RuleIrqlTooHigh {
					t.Errorf("false alarm %s: %s", f.Rule, f.Message)
				}
			}
		})
	}
}

// Per-check positive and negative sources.
func TestChecks(t *testing.T) {
	tests := []struct {
		name string
		rule string
		want int // findings of rule
		src  string
	}{
		{"deprecated/quota", RuleDeprecatedAlloc, 1, `void f(void){ PVOID p = ExAllocatePoolWithQuotaTag(PagedPool, 8, 'abcd'); if (!p) return; ExFreePoolWithTag(p, 'abcd'); }`},
		{"deprecated/pool2 ok", RuleDeprecatedAlloc, 0, `void f(void){ PVOID p = ExAllocatePool2(POOL_FLAG_PAGED, 8, 'abcd'); if (!p) return; ExFreePoolWithTag(p, 'abcd'); }`},
		{"null/deref", RuleAllocNullDeref, 1, `void f(void){ PULONG p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); *p = 1; ExFreePoolWithTag(p, 'abcd'); }`},
		{"null/member", RuleAllocNullDeref, 1, `void f(void){ PCTX c = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); c->x = 1; ExFreePoolWithTag(c, 'abcd'); }`},
		{"null/memcpy", RuleAllocNullDeref, 1, `void f(PVOID s){ PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); RtlCopyMemory(p, s, 8); ExFreePoolWithTag(p, 'abcd'); }`},
		{"null/checked", RuleAllocNullDeref, 0, `void f(void){ PULONG p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); if (p == NULL) return; *p = 1; ExFreePoolWithTag(p, 'abcd'); }`},
		{"null/checked-and", RuleAllocNullDeref, 0, `void f(void){ PCTX p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); if (p && p->x) { g(); } if (p) ExFreePoolWithTag(p, 'abcd'); }`},
		{"null/assign-in-cond", RuleAllocNullDeref, 0, `void f(void){ PULONG p; if ((p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd')) == NULL) return; *p = 1; ExFreePoolWithTag(p, 'abcd'); }`},
		{"null/raise flag", RuleAllocNullDeref, 0, `void f(void){ PULONG p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 8, 'abcd'); *p = 1; ExFreePoolWithTag(p, 'abcd'); }`},
		{"null/mdl", RuleAllocNullDeref, 1, `void f(PVOID b){ PMDL m = IoAllocateMdl(b, 8, FALSE, FALSE, NULL); MmBuildMdlForNonPagedPool(m); IoFreeMdl(m); }`},
		{"leak/early return", RuleLeakEarlyReturn, 1, `NTSTATUS f(void){ PVOID a = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); PVOID b; if (!a) return STATUS_NO_MEMORY; b = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); if (!b) return STATUS_NO_MEMORY; g(a, b); return 0; }`},
		{"leak/goto cleanup", RuleLeakEarlyReturn, 0, `NTSTATUS f(void){ NTSTATUS s = 0; PVOID a = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); if (!a) return STATUS_NO_MEMORY; if (h()) { s = 1; goto out; } k(); out: ExFreePoolWithTag(a, 'abcd'); return s; }`},
		{"leak/handed on", RuleLeakEarlyReturn, 0, `NTSTATUS f(PLIST_ENTRY l){ PCTX a = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); if (!a) return 1; InsertTailList(l, &a->Link); return 0; }`},
		{"leak/global no unload", RuleLeakGlobal, 1, `PVOID g; NTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r){ g = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); return g ? 0 : 1; }`},
		{"leak/global freed in unload", RuleLeakGlobal, 0, `PVOID g; VOID Unload(PDRIVER_OBJECT d){ ExFreePoolWithTag(g, 'abcd'); } NTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r){ d->DriverUnload = Unload; g = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'abcd'); return g ? 0 : 1; }`},
		{"tag/default", RuleDefaultTag, 2, `void f(void){ ExFreePoolWithTag(ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, ' kdD'), 0); }`},
		{"tag/good", RuleDefaultTag, 0, `void f(void){ PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); if (p) ExFreePoolWithTag(p, 'gaTx'); }`},
		{"tag/string", RuleTagNotIntegral, 1, `void f(void){ PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, "gaTx"); if (p) ExFreePoolWithTag(p, 'gaTx'); }`},
		{"irql/paged pool under lock", RuleIrqlTooHigh, 1, `KSPIN_LOCK L; void f(void){ KIRQL o; PVOID p; KeAcquireSpinLock(&L, &o); p = ExAllocatePool2(POOL_FLAG_PAGED, 8, 'gaTx'); KeReleaseSpinLock(&L, o); if (p) ExFreePoolWithTag(p, 'gaTx'); }`},
		{"irql/nonpaged under lock", RuleIrqlTooHigh, 0, `KSPIN_LOCK L; void f(void){ KIRQL o; PVOID p; KeAcquireSpinLock(&L, &o); p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); KeReleaseSpinLock(&L, o); if (p) ExFreePoolWithTag(p, 'gaTx'); }`},
		{"irql/paged call after release", RuleIrqlTooHigh, 0, `KSPIN_LOCK L; void f(void){ KIRQL o; KeAcquireSpinLock(&L, &o); KeReleaseSpinLock(&L, o); ZwClose(h); }`},
		{"irql/paged function from dpc", RuleIrqlTooHigh, 1, "#pragma alloc_text(PAGE, Helper)\nvoid Helper(void){ PAGED_CODE(); }\nKDEFERRED_ROUTINE Dpc;\nvoid Dpc(PKDPC d, PVOID c, PVOID a, PVOID b){ Helper(); }\n"},
		{"irql/requires min dispatch fn", RuleIrqlTooHigh, 1, "_IRQL_requires_min_(DISPATCH_LEVEL) void f(void){ ZwClose(h); }"},
		{"irql/kesetevent pageable", RuleKeSetEventPaged, 1, "#pragma alloc_text(PAGE, f)\nvoid f(PKEVENT e){ PAGED_CODE(); KeSetEvent(e, 0, TRUE); }"},
		{"paged/no PAGED_CODE", RuleNoPagedCode, 1, "#pragma alloc_text(PAGE, f)\nvoid f(void){ g(); }"},
		{"paged/twice", RuleMultiplePagedCode, 1, "#pragma alloc_text(PAGE, f)\nvoid f(void){ PAGED_CODE(); PAGED_CODE(); }"},
		{"uaf/use", RuleUseAfterFree, 1, `void f(void){ PCTX p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); if (!p) return; ExFreePoolWithTag(p, 'gaTx'); p->x = 1; }`},
		{"uaf/double", RuleDoubleFree, 1, `void f(void){ PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); if (!p) return; ExFreePoolWithTag(p, 'gaTx'); ExFreePoolWithTag(p, 'gaTx'); }`},
		{"uaf/reassigned", RuleDoubleFree, 0, `void f(void){ PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); if (!p) return; ExFreePoolWithTag(p, 'gaTx'); p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); if (p) ExFreePoolWithTag(p, 'gaTx'); }`},
		{"lock/not released", RuleLockNotReleased, 1, `NTSTATUS f(PCTX c){ KIRQL o; KeAcquireSpinLock(&c->Lock, &o); if (c->x) return 1; KeReleaseSpinLock(&c->Lock, o); return 0; }`},
		{"lock/released", RuleLockNotReleased, 0, `NTSTATUS f(PCTX c){ KIRQL o; KeAcquireSpinLock(&c->Lock, &o); if (c->x) { KeReleaseSpinLock(&c->Lock, o); return 1; } KeReleaseSpinLock(&c->Lock, o); return 0; }`},
		{"lock/twice", RuleLockTwice, 1, `void f(PCTX c){ KIRQL o, p; KeAcquireSpinLock(&c->Lock, &o); KeAcquireSpinLock(&c->Lock, &p); KeReleaseSpinLock(&c->Lock, p); KeReleaseSpinLock(&c->Lock, o); }`},
		{"sizeof/pointer", RuleSizeofPointer, 1, `void f(PUCHAR b){ RtlZeroMemory(b, sizeof(b)); }`},
		{"sizeof/pointee", RuleSizeofPointer, 0, `void f(PUCHAR b){ RtlZeroMemory(b, sizeof(*b)); }`},
		{"user/probe outside try", RuleUserPointer, 1, `void f(PVOID u){ ProbeForRead(u, 4, 1); }`},
		{"user/probe in try", RuleUserPointer, 0, `void f(PVOID u){ __try { ProbeForRead(u, 4, 1); } __except (EXCEPTION_EXECUTE_HANDLER) { } }`},
		{"registry/saved", RuleSaveRegistryPath, 1, `PUNICODE_STRING g; NTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r){ g = r; return 0; }`},
		{"registry/copied", RuleSaveRegistryPath, 0, `UNICODE_STRING g; NTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r){ RtlCopyUnicodeString(&g, r); return 0; }`},
		{"path/status correlation", RuleLeakEarlyReturn, 0, `NTSTATUS f(PCTX *out){ NTSTATUS status = STATUS_SUCCESS; PCTX c = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); if (!c) { status = STATUS_NO_MEMORY; goto cleanup; } c->b = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); if (!c->b) { status = STATUS_NO_MEMORY; goto cleanup; } *out = c; cleanup: if (!NT_SUCCESS(status)) { if (c) ExFreePoolWithTag(c, 'gaTx'); } return status; }`},
		{"path/lock flag", RuleLockNotReleased, 0, `NTSTATUS f(PCTX c){ NTSTATUS s = STATUS_SUCCESS; BOOLEAN held = FALSE; KLOCK_QUEUE_HANDLE h; if (c->a) { s = STATUS_INVALID_PARAMETER; goto Exit; } held = TRUE; KeAcquireInStackQueuedSpinLock(&c->Lock, &h); if (c->b) { s = STATUS_INVALID_PARAMETER; goto Exit; } KeReleaseInStackQueuedSpinLock(&h); held = FALSE; return s; Exit: if (held) { KeReleaseInStackQueuedSpinLock(&h); } return s; }`},
		{"path/flag compound assignment", RuleIrqlTooHigh, 1, `void f(PKIRQL o){ BOOLEAN b = FALSE; b |= 1; KeRaiseIrql(DISPATCH_LEVEL, o); if (b) { ZwClose(h); } KeLowerIrql(*o); }`},
		{"path/flag dead branch", RuleIrqlTooHigh, 0, `void f(PKIRQL o){ BOOLEAN b = FALSE; KeRaiseIrql(DISPATCH_LEVEL, o); if (b) { ZwClose(h); } KeLowerIrql(*o); }`},
		{"path/loop exit", RuleLockNotReleased, 0, `void f(PCTX c){ KIRQL o; BOOLEAN empty; KeAcquireSpinLock(&c->Lock, &o); empty = IsListEmpty(&c->Q); if (empty) { KeReleaseSpinLock(&c->Lock, o); } else { while (!empty) { RemoveHeadList(&c->Q); empty = IsListEmpty(&c->Q); if (empty) { KeReleaseSpinLock(&c->Lock, o); } } } }`},
		{"path/fresh pointer equality", RuleLeakEarlyReturn, 0, `NTSTATUS f(PVOID in, BOOLEAN copy){ PVOID b; if (copy) { b = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); if (!b) return 1; } else { b = in; } if (g()) { if (b != in) { ExFreePoolWithTag(b, 'gaTx'); } return 1; } h(b); return 0; }`},
		{"out parameter", RuleFreeNull, 0, `void f(void){ PVOID p = NULL; Get(&p); ExFreePoolWithTag(p, 'gaTx'); }`},
		{"#if 0 ignored", RuleDeprecatedAlloc, 0, "#if 0\nvoid f(void){ PVOID p = ExAllocatePool(NonPagedPool, 8); }\n#endif\n"},
		{"WHILE macro", RuleAllocNullDeref, 1, "void f(void){ PULONG p; do { p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'gaTx'); *p = 1; } WHILE (FALSE); }"},
		{"TRY/FINALLY macros", RuleLockNotReleased, 0, "void f(PCTX c){ KIRQL o; KeAcquireSpinLock(&c->Lock, &o); TRY { if (c->a) { LEAVE; } c->b = 1; } FINALLY { KeReleaseSpinLock(&c->Lock, o); } }"},
		{"extern C braces", RuleDeprecatedAlloc, 1, "#ifdef __cplusplus\nextern \"C\" {\n#endif\nvoid f(void){ PVOID p = ExAllocatePool(NonPagedPool, 8); if (p) ExFreePool(p); }\n#ifdef __cplusplus\n}\n#endif\n"},
		{"pragma between type and name", RuleIrqlTooHigh, 1, "KDEFERRED_ROUTINE Dpc;\nVOID\n#pragma warning(suppress: 28167)\nDpc(PKDPC d, PVOID c, PVOID a, PVOID b){ ZwClose(h); }\n"},
		{"raise to current irql", RuleLockNotReleased, 0, `VOID f(KIRQL o){ KeRaiseIrql(KeGetCurrentIrql(), &o); }`},
		{"irql saves parameter", RuleLockNotReleased, 0, `VOID f(_IRQL_saves_ PKIRQL o, PKSPIN_LOCK l){ KeAcquireSpinLock(l, o); }`},
		{"bounds/index param", RuleBufferBound, 1, `UCHAR f(ULONG i){ PUCHAR b = ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 'gaTx'); UCHAR v; if (!b) return 0; v = b[i]; ExFreePoolWithTag(b, 'gaTx'); return v; }`},
		{"bounds/index checked", RuleBufferBound, 0, `UCHAR f(ULONG i){ PUCHAR b = ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 'gaTx'); UCHAR v; if (!b || i >= 16) return 0; v = b[i]; ExFreePoolWithTag(b, 'gaTx'); return v; }`},
		{"bounds/loop to caller length", RuleBufferBound, 1, `void f(PULONG s, ULONG n){ ULONG i; PULONG b = ExAllocatePool2(POOL_FLAG_NON_PAGED, SIZE, 'gaTx'); if (!b) return; for (i = 0; i < n / 4; i++) b[i] = s[i]; ExFreePoolWithTag(b, 'gaTx'); }`},
		{"bounds/loop length checked", RuleBufferBound, 0, `void f(PULONG s, ULONG n){ ULONG i; PULONG b; if (n > SIZE) return; b = ExAllocatePool2(POOL_FLAG_NON_PAGED, SIZE, 'gaTx'); if (!b) return; for (i = 0; i < n / 4; i++) b[i] = s[i]; ExFreePoolWithTag(b, 'gaTx'); }`},
		{"bounds/copy caller length", RuleBufferBound, 1, `void f(PVOID s, PREQ r){ PVOID b = ExAllocatePool2(POOL_FLAG_NON_PAGED, 256, 'gaTx'); if (!b) return; RtlCopyMemory(b, s, r->Length); ExFreePoolWithTag(b, 'gaTx'); }`},
		{"bounds/variable allocation", RuleBufferBound, 0, `void f(PVOID s, ULONG n){ PVOID b = ExAllocatePool2(POOL_FLAG_NON_PAGED, n, 'gaTx'); if (!b) return; RtlCopyMemory(b, s, n); ExFreePoolWithTag(b, 'gaTx'); }`},
		{"irql/not saved", RuleIrqlNotSaved, 1, `VOID f(_IRQL_saves_ KIRQL o, PKSPIN_LOCK l){ }`},
		{"irql/saved", RuleIrqlNotSaved, 0, `VOID f(_IRQL_saves_ KIRQL o, PKSPIN_LOCK l){ KeAcquireSpinLock(l, &o); }`},
		{"irql/not restored", RuleIrqlNotRestored, 1, `VOID f(_IRQL_restores_ KIRQL o, PKSPIN_LOCK l){ }`},
		{"irql/restored", RuleIrqlNotRestored, 0, `VOID f(_IRQL_restores_ KIRQL o, PKSPIN_LOCK l){ KeReleaseSpinLock(l, o); }`},
		{"cancel/wrong irql", RuleCancelIrql, 1, "DRIVER_CANCEL Cancel;\nVOID Cancel(PDEVICE_OBJECT d, PIRP Irp){ IoReleaseCancelSpinLock(PASSIVE_LEVEL); }"},
		{"cancel/cancel irql", RuleCancelIrql, 0, "DRIVER_CANCEL Cancel;\nVOID Cancel(PDEVICE_OBJECT d, PIRP Irp){ IoReleaseCancelSpinLock(Irp->CancelIrql); }"},
		{"wait/usermode on stack", RuleWaitLocal, 1, `void f(void){ KEVENT e; KeInitializeEvent(&e, NotificationEvent, FALSE); KeWaitForSingleObject(&e, Executive, UserMode, FALSE, NULL); }`},
		{"wait/kernelmode on stack", RuleWaitLocal, 0, `void f(void){ KEVENT e; KeInitializeEvent(&e, NotificationEvent, FALSE); KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL); }`},
		{"pending/wrong status", RulePendingStatus, 1, "DRIVER_DISPATCH D;\nNTSTATUS D(PDEVICE_OBJECT d, PIRP Irp){ NTSTATUS s; if (TRUE) { IoMarkIrpPending(Irp); } s = STATUS_SUCCESS; return s; }"},
		{"pending/pending", RulePendingStatus, 0, "DRIVER_DISPATCH D;\nNTSTATUS D(PDEVICE_OBJECT d, PIRP Irp){ IoMarkIrpPending(Irp); IoStartPacket(d, Irp, NULL, NULL); return STATUS_PENDING; }"},
		{"pending/other path", RulePendingStatus, 0, "DRIVER_DISPATCH D;\nNTSTATUS D(PDEVICE_OBJECT d, PIRP Irp){ if (g()) { IoMarkIrpPending(Irp); return STATUS_PENDING; } return STATUS_SUCCESS; }"},
		{"lower/status overwritten", RuleLowerStatus, 1, "DRIVER_DISPATCH D;\nNTSTATUS D(PDEVICE_OBJECT d, PIRP Irp){ NTSTATUS s = IoCallDriver(d, Irp); s = STATUS_SUCCESS; return s; }"},
		{"lower/status returned", RuleLowerStatus, 0, "DRIVER_DISPATCH D;\nNTSTATUS D(PDEVICE_OBJECT d, PIRP Irp){ NTSTATUS s = IoCallDriver(d, Irp); if (s == STATUS_PENDING) g(); return s; }"},
		{"lower/status assigned and returned", RuleLowerStatus, 0, "DRIVER_DISPATCH D;\nNTSTATUS D(PDEVICE_OBJECT d, PIRP Irp){ NTSTATUS s; s = IoCallDriver(d, Irp); return s; }"},
		{"examined/dropped", RuleResultIgnored, 2, "NTSTATUS g(void);\nvoid f(void){ NTSTATUS s; s = g(); if (!NT_SUCCESS(s)) return; s = g(); if (s) return; if (NT_SUCCESS(g())) return; s = g(); s = g(); if (s) return; g(); s = g(); if (s) return; s = g(); if (s) return; }"},
		{"examined/below share", RuleResultIgnored, 0, "void f(void){ g(); g(); g(); if (g()) return; if (g()) return; }"},
		{"examined/void cast", RuleResultIgnored, 0, "void f(void){ if (g()) return; if (g()) return; if (g()) return; if (g()) return; (void)g(); }"},
		{"examined/loop", RuleResultIgnored, 0, "void f(void){ PVOID p = g(); while (p) { h(p); p = g(); } if (g()) return; if (g()) return; if (g()) return; }"},
		{"string/not freed", RuleLeakEarlyReturn, 1, "void f(void){ UNICODE_STRING u; if (!RtlCreateUnicodeString(&u, L\"x\")) return; g(u.Length); }"},
		{"string/freed", RuleLeakEarlyReturn, 0, "void f(void){ UNICODE_STRING u; if (!RtlCreateUnicodeString(&u, L\"x\")) return; RtlFreeUnicodeString(&u); RtlFreeUnicodeString(&u); }"},
		{"string/buffer handed on", RuleLeakEarlyReturn, 0, "UNICODE_STRING g; void f(void){ UNICODE_STRING u; if (!RtlCreateUnicodeString(&u, L\"x\")) return; g.Buffer = u.Buffer; }"},
		{"string/buffer freed", RuleLeakEarlyReturn, 0, "void f(void){ UNICODE_STRING u; if (RtlCreateUnicodeString(&u, L\"x\")) { ExFreePool(u.Buffer); } }"},
		{"string/stored result", RuleLeakEarlyReturn, 0, "void f(void){ UNICODE_STRING u; BOOLEAN ok = RtlCreateUnicodeString(&u, L\"x\"); if (!ok) return; RtlFreeUnicodeString(&u); }"},
		{"lower/synchronous wait", RuleLowerStatus, 0, "DRIVER_DISPATCH D;\nNTSTATUS D(PDEVICE_OBJECT d, PIRP Irp){ KEVENT e; IoCallDriver(d, Irp); KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL); return Irp->IoStatus.Status; }"},
		{"ifdef both arms", RuleDeprecatedAlloc, 2, "void f(void){ PVOID p;\n#ifdef X\n p = ExAllocatePool(NonPagedPool, 8);\n#else\n p = ExAllocatePoolWithTag(PagedPool, 8, 'gaTx');\n#endif\n if (p) ExFreePool(p); }\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := lintSrc(t, tc.src)
			n := 0
			for _, f := range fs {
				if f.Rule == tc.rule {
					n++
				}
			}
			if n != tc.want {
				t.Errorf("%d %s findings, want %d; all: %v", n, tc.rule, tc.want, fs)
			}
		})
	}
}

func TestDeprecatedFixes(t *testing.T) {
	for _, tc := range []struct{ call, fix string }{
		{"ExAllocatePoolWithTag(PagedPool, n, 'gaTx')", "ExAllocatePool2(POOL_FLAG_PAGED, n, 'gaTx')"},
		{"ExAllocatePoolWithTag(NonPagedPoolNx, n, 'gaTx')", "ExAllocatePool2(POOL_FLAG_NON_PAGED, n, 'gaTx')"},
		{"ExAllocatePoolWithTag(NonPagedPoolCacheAligned, n, 'gaTx')", "ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED, n, 'gaTx')"},
		{"ExAllocatePoolWithQuotaTag(PagedPool, n, 'gaTx')", "ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_USE_QUOTA, n, 'gaTx')"},
		{"ExAllocatePoolWithTagPriority(NonPagedPool, n, 'gaTx', HighPoolPriority)", "ExAllocatePool3(POOL_FLAG_NON_PAGED, n, 'gaTx', &param, 1)"},
	} {
		fs := lintSrc(t, "void f(SIZE_T n){ PVOID p = "+tc.call+"; if (p) ExFreePoolWithTag(p, 'gaTx'); }")
		if len(fs) == 0 || fs[0].Rule != RuleDeprecatedAlloc || !strings.HasPrefix(fs[0].Fix, tc.fix) {
			t.Errorf("%s: findings %v, want fix starting %q", tc.call, fs, tc.fix)
		}
	}
}

func TestHostileInput(t *testing.T) {
	if !csrc.HasFrontEnd {
		t.Skip("built without cgo")
	}
	garbage := make([]byte, 64<<10)
	x := uint32(1)
	for i := range garbage {
		x = x*1664525 + 1013904223
		garbage[i] = byte(x >> 24)
	}
	inputs := map[string]string{
		"binary":      string(garbage),
		"huge line":   "int x = " + strings.Repeat("a+", 200000) + "1;",
		"deep braces": "void f(void)" + strings.Repeat("{", 5000) + strings.Repeat("}", 5000),
		"deep parens": "void f(void){ x = " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + "; }",
		"deep ifs":    "void f(void){" + strings.Repeat("if (p) ", 3000) + "*p = 1; }",
		"open annot":  "_IRQL_requires_max_(DISPATCH_LEVEL void f(void){}",
		"empty":       "",
		"nul bytes":   "void f(void){\x00\x00 ExAllocatePool(\x00); }",
	}
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for name, src := range inputs {
		r := l.Source(name, []byte(src))
		if r.Err != "" {
			t.Errorf("%s: %s", name, r.Err)
		}
		if r.ErrorShare < 0 || r.ErrorShare > 1 {
			t.Errorf("%s: error share %v", name, r.ErrorShare)
		}
	}
}

func TestCheckNoFrontEndFile(t *testing.T) {
	// Checks run over a model built by hand, without the front end.
	f := csrc.Build("x.c", nil, nil, nil, 0, 0, nil, nil)
	if fs := Check(f); len(fs) != 0 {
		t.Errorf("empty model gave %v", fs)
	}
}

func TestFilesShareHeaders(t *testing.T) {
	if !csrc.HasFrontEnd {
		t.Skip("built without cgo")
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h := write("drv.h", "KDEFERRED_ROUTINE MyDpc;\n_IRQL_requires_max_(PASSIVE_LEVEL)\nVOID Helper(VOID);\n")
	c := write("drv.c", "#include \"drv.h\"\nVOID MyDpc(PKDPC d, PVOID x, PVOID a, PVOID b)\n{\n    Helper();\n}\n")
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	files, err := Expand([]string{dir})
	if err != nil || len(files) != 2 || files[0] != c || files[1] != h {
		t.Fatalf("Expand = %v, %v", files, err)
	}
	rs := l.Files(files)
	if len(rs) != 2 || rs[0].Path != c || len(rs[0].Findings) != 1 {
		t.Fatalf("results %+v", rs)
	}
	f := rs[0].Findings[0]
	if f.Rule != RuleIrqlTooHigh || f.Line != 4 || f.Col != 5 || f.Function != "MyDpc" {
		t.Errorf("finding %+v, want %s at 4:5 in MyDpc", f, RuleIrqlTooHigh)
	}
	// Alone, the source knows neither the DPC role nor Helper's annotation.
	if r := l.File(c); len(r.Findings) != 0 {
		t.Errorf("without the header: %+v", r.Findings)
	}
}

func TestOutputs(t *testing.T) {
	fs := lintSrc(t, example0x50)
	results := []FileResult{{Path: "t.c", Lines: 23, Findings: fs}}
	var text, js, sarif bytes.Buffer
	if err := Text(&text, results); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"t.c:17:14: warning BCL001 [deprecated-pool-allocator]",
		"       17 |     buffer = ExAllocatePoolWithTag(NonPagedPool, 1024, 'Buff');",
		"    fix: ExAllocatePool2(POOL_FLAG_NON_PAGED, 1024, 'Buff')",
		"leads to: 0x50 PAGE_FAULT_IN_NONPAGED_AREA",
		"2 finding(s) in 1 file(s), 23 lines",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, text.String())
		}
	}
	if err := JSON(&js, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Files []struct {
			File     string `json:"file"`
			Findings []struct {
				Rule, Severity, Fix string
				Line                int
				BugChecks           []struct{ Code, Name string } `json:"bug_checks"`
			} `json:"findings"`
		} `json:"files"`
		Findings int `json:"findings"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Findings != 2 || doc.Files[0].Findings[0].Rule != "BCL001" || doc.Files[0].Findings[0].Severity != "warning" || doc.Files[0].Findings[0].BugChecks[0].Code != "0x50" {
		t.Errorf("json = %+v", doc)
	}
	if err := SARIF(&sarif, results, "test"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine, StartColumn int }
					}
				}
				Fixes []struct{ Description struct{ Text string } }
			}
		}
	}
	if err := json.Unmarshal(sarif.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	r0 := run.Results[0]
	if log.Version != "2.1.0" || len(run.Tool.Driver.Rules) != len(Rules()) || len(run.Results) != 2 ||
		r0.RuleID != "BCL001" || run.Tool.Driver.Rules[r0.RuleIndex].ID != "BCL001" || r0.Level != "warning" ||
		r0.Locations[0].PhysicalLocation.ArtifactLocation.URI != "t.c" || r0.Locations[0].PhysicalLocation.Region.StartLine != 17 ||
		!strings.HasPrefix(r0.Fixes[0].Description.Text, "ExAllocatePool2(") {
		t.Errorf("sarif = %+v", log)
	}
}

func TestRulesComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || r.Name == "" || r.Summary == "" || r.Fix == "" {
			t.Errorf("rule %+v is duplicated or incomplete", r)
		}
		seen[r.ID] = true
		for _, bc := range bugChecks(r.BugChecks) {
			if bc.Name == "" {
				t.Errorf("%s: bug check %s has no name", r.ID, bc.Hex)
			}
		}
		if d := r.Doc(); d.ID != r.ID || d.Severity != r.Severity.String() || len(d.BugChecks) != len(r.BugChecks) ||
			len(d.BugChecks) > 0 && !strings.HasPrefix(d.BugChecks[0], fmt.Sprintf("0x%X ", r.BugChecks[0])) {
			t.Errorf("%s: doc %+v", r.ID, d)
		}
	}
	if len(seen) != 37 {
		t.Errorf("%d rules", len(seen))
	}
	for id := range seen {
		if DefectOf(id) == "other" {
			t.Errorf("%s has no defect kind for analyze --source", id)
		}
	}
}

// FuzzLint runs the whole pipeline, annotation stripping, parse, model and
// every check, over arbitrary text.
func FuzzLint(f *testing.F) {
	f.Add([]byte(example0x50))
	f.Add([]byte("NTSTATUS f(PCTX c){ KIRQL o; KeAcquireSpinLock(&c->Lock, &o); if (c->x) goto out; ExFreePool(c); out: return 0; }"))
	if !csrc.HasFrontEnd {
		f.Skip("built without cgo")
	}
	l, err := New()
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	f.Fuzz(func(t *testing.T, src []byte) {
		r := l.Source("fuzz.c", src)
		for _, fd := range r.Findings {
			if fd.Line < 1 || fd.Col < 1 || fd.Rule == "" || fd.Fix == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
		}
	})
}

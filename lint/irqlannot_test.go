package lint

import (
	"fmt"
	"strings"
	"testing"
)

func TestIrqlNotAnnotated(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		line    int // line of the BCL037 finding; 0: none
		bcl023  int // BCL023 findings expected alongside
		message string
	}{
		{"raise not restored", "VOID\nRaise(PKIRQL o)\n{\n    KeRaiseIrql(DISPATCH_LEVEL, o);\n}\n", 2, 1,
			"Raise can return at DISPATCH_LEVEL (raised by KeRaiseIrql on line 4"},
		{"raise on one path (CodeQL snippet)", "void fail1(PKIRQL oldIrql)\n{\n    if (oldIrql == PASSIVE_LEVEL) {\n        KeLowerIrql(*oldIrql);\n    } else {\n        KeRaiseIrql(DISPATCH_LEVEL, oldIrql);\n    }\n}\n", 1, 1, "fail1"},
		{"annotated _IRQL_raises_", "_IRQL_raises_(DISPATCH_LEVEL)\nVOID\nRaise(PKIRQL o)\n{\n    KeRaiseIrql(DISPATCH_LEVEL, o);\n}\n", 0, 0, ""},
		{"annotated on the prototype", "_IRQL_raises_(DISPATCH_LEVEL) VOID Raise(PKIRQL o);\n_Use_decl_annotations_\nVOID Raise(PKIRQL o)\n{\n    KeRaiseIrql(DISPATCH_LEVEL, o);\n}\n", 0, 0, ""},
		// BCL023 does not read _When_ (yet).
		{"_When_ _IRQL_raises_", "_When_(x, _IRQL_raises_(DISPATCH_LEVEL))\nVOID Raise(BOOLEAN x, PKIRQL o)\n{\n    if (x) KeRaiseIrql(DISPATCH_LEVEL, o);\n}\n", 0, 1, ""},
		{"_IRQL_saves_global_", "_IRQL_saves_global_(SpinLock, c)\nVOID Lock(PCTX c)\n{\n    KeAcquireSpinLock(&c->Lock, &c->Irql);\n}\n", 0, 0, ""},
		{"_Acquires_lock_ helper", "_Acquires_lock_(c->Lock)\nVOID Take(PCTX c)\n{\n    KeAcquireSpinLock(&c->Lock, &c->Irql);\n}\n", 0, 0, ""},
		{"_Requires_lock_held_", "_Requires_lock_held_(c->Lock)\nVOID Drop(PCTX c, KIRQL o)\n{\n    KeReleaseSpinLock(&c->Lock, o);\n    KeAcquireSpinLock(&c->Lock, &o);\n}\n", 0, 0, ""},
		{"_IRQL_saves_ parameter", "VOID Take(PCTX c, _IRQL_saves_ PKIRQL o)\n{\n    KeAcquireSpinLock(&c->Lock, o);\n}\n", 0, 0, ""},
		{"released on every path", "NTSTATUS f(PCTX c)\n{\n    KIRQL o;\n    KeAcquireSpinLock(&c->Lock, &o);\n    if (c->x) {\n        KeReleaseSpinLock(&c->Lock, o);\n        return 1;\n    }\n    KeReleaseSpinLock(&c->Lock, o);\n    return 0;\n}\n", 0, 0, ""},
		{"raise and lower", "VOID f(VOID)\n{\n    KIRQL o;\n    KeRaiseIrql(DISPATCH_LEVEL, &o);\n    g();\n    KeLowerIrql(o);\n}\n", 0, 0, ""},
		{"not released on an early return", "NTSTATUS\nf(PCTX c)\n{\n    KIRQL o;\n    KeAcquireSpinLock(&c->Lock, &o);\n    if (c->x) return 1;\n    KeReleaseSpinLock(&c->Lock, o);\n    return 0;\n}\n", 2, 1,
			"raised by KeAcquireSpinLock on line 5"},
		{"cancel routine releases the cancel lock", "DRIVER_CANCEL Cancel;\nVOID\nCancel(PDEVICE_OBJECT d, PIRP Irp)\n{\n    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);\n    IoReleaseCancelSpinLock(Irp->CancelIrql);\n    IoCompleteRequest(Irp, IO_NO_INCREMENT);\n}\n", 0, 0, ""},
		{"DPC holds a lock at DISPATCH_LEVEL", "KDEFERRED_ROUTINE Dpc;\nVOID Dpc(PKDPC d, PVOID c, PVOID a, PVOID b)\n{\n    KIRQL o;\n    KeAcquireSpinLock(&((PCTX)c)->Lock, &o);\n}\n", 0, 1, ""},
		{"DPC-level acquire leaves the IRQL", "VOID f(PCTX c)\n{\n    KeAcquireSpinLockAtDpcLevel(&c->Lock);\n}\n", 0, 1, ""},
		{"DPC raises above DISPATCH_LEVEL", "KDEFERRED_ROUTINE Dpc;\nVOID\nDpc(PKDPC d, PVOID c, PVOID a, PVOID b)\n{\n    KIRQL o;\n    KeRaiseIrql(HIGH_LEVEL, &o);\n}\n", 3, 1,
			"can return at DIRQL (raised by KeRaiseIrql on line 6"},
		{"dispatch routine: fix keeps the role's contract", "DRIVER_DISPATCH Read;\nNTSTATUS\nRead(PDEVICE_OBJECT d, PIRP Irp)\n{\n    KIRQL o;\n    IoAcquireCancelSpinLock(&o);\n    return STATUS_SUCCESS;\n}\n", 3, 1,
			"Read can return at DISPATCH_LEVEL (raised by IoAcquireCancelSpinLock on line 6"},
		// A lock helper by name: BCL023 trusts the name, BCL037 wants the
		// annotation that tells callers (what CodeQL's query reports).
		{"unannotated lock helper", "VOID\nAcquireQueueLock(PCTX c)\n{\n    KeAcquireSpinLock(&c->Lock, &c->Irql);\n}\n", 2, 0,
			"AcquireQueueLock can return at DISPATCH_LEVEL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := lintSrc(t, tc.src)
			var got []Finding
			n023 := 0
			for _, f := range fs {
				switch f.Rule {
				case RuleIrqlNotAnnotated:
					got = append(got, f)
				case RuleLockNotReleased:
					n023++
				}
			}
			if n023 != tc.bcl023 {
				t.Errorf("%d BCL023 findings, want %d: %v", n023, tc.bcl023, fs)
			}
			if tc.line == 0 {
				if len(got) != 0 {
					t.Fatalf("unexpected BCL037: %v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d BCL037 findings, want 1: %v", len(got), fs)
			}
			f := got[0]
			if f.Line != tc.line || !strings.Contains(f.Message, tc.message) {
				t.Errorf("BCL037 at line %d %q, want line %d containing %q", f.Line, f.Message, tc.line, tc.message)
			}
			if f.Severity != Warning || len(f.BugChecks) == 0 || f.BugChecks[0].Hex != "0xA" {
				t.Errorf("severity %v, bug checks %v", f.Severity, f.BugChecks)
			}
			// A role's contract is fixed by its typedef: no annotation to add.
			role := strings.Contains(tc.src, "_ROUTINE ") || strings.Contains(tc.src, "DRIVER_DISPATCH ")
			if strings.Contains(f.Fix, "_IRQL_raises_") == role || role && !strings.Contains(f.Fix, "must return at the IRQL it was called at") {
				t.Errorf("fix %q", f.Fix)
			}
		})
	}
}

// On the corpus, BCL037 reports the five functions CodeQL's
// IrqlFunctionNotAnnotated expects (its four template hits point at an
// older copy of fail_driver1.c, 13 lines shorter; see codeql-map.tsv) and
// nothing in the production samples.
func TestCorpusIrqlNotAnnotated(t *testing.T) {
	run := lintCorpus(t)
	const tmpl = "driver-src/codeql/src/drivers/test/TestTemplates/WDMTestTemplate/driver/fail_driver1.c"
	want := map[string]string{
		"driver-src/codeql/src/drivers/general/queries/IrqlFunctionNotAnnotated/driver_snippet.c:13": "fail1",
		tmpl + ":215": "DispatchRead",          // CodeQL: 202
		tmpl + ":259": "DispatchSystemControl", // CodeQL: 246
		tmpl + ":298": "DispatchPnp",           // CodeQL: 285
		tmpl + ":316": "CompletionRoutine",     // CodeQL: 303
	}
	found := 0
	for rel, r := range run.results {
		for _, f := range r.Findings {
			if f.Rule != RuleIrqlNotAnnotated {
				continue
			}
			key := fmt.Sprintf("%s:%d", rel, f.Line)
			if fn, ok := want[key]; ok && f.Function == fn {
				found++
			}
			if strings.HasPrefix(rel, "driver-src/wds/") && !strings.HasPrefix(rel, "driver-src/wds/tools/") {
				t.Errorf("BCL037 in a production sample: %s %s", key, f.Message)
			}
		}
	}
	if found != len(want) {
		t.Errorf("%d of the %d IrqlFunctionNotAnnotated hits found", found, len(want))
	}
}

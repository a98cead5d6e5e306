package bugcode

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	cases := []struct {
		code    uint32
		name    string
		variant bool
	}{
		{0x50, "PAGE_FAULT_IN_NONPAGED_AREA", false},
		{0x7e, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED", false},
		{0x1000007e, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M", true},
		{0x1000008e, "KERNEL_MODE_EXCEPTION_NOT_HANDLED_M", true},
		{0x1000000a, "IRQL_NOT_LESS_OR_EQUAL_M", true},
		{0x10000050, "PAGE_FAULT_IN_NONPAGED_AREA_M", true},
		{0x100000d1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL_M", true},
		{0x133, "DPC_WATCHDOG_VIOLATION", false},
		{0x139, "KERNEL_SECURITY_CHECK_FAILURE", false},
		{0x124, "WHEA_UNCORRECTABLE_ERROR", false},
		{0x1c8, "MANUALLY_INITIATED_POWER_BUTTON_HOLD", false},
		{0xdeaddead, "MANUALLY_INITIATED_CRASH1", false},
		{0xc000021a, "WINLOGON_FATAL_ERROR", false},
		{0x4000008a, "THREAD_TERMINATE_HELD_MUTEX", false},
		{0x1, "APC_INDEX_MISMATCH", false},
	}
	for _, c := range cases {
		in, ok := Lookup(c.code)
		if !ok || in.Name != c.name || in.Variant != c.variant || Name(c.code) != c.name {
			t.Errorf("%#x: got %+v ok=%v, want %s", c.code, in, ok, c.name)
		}
	}
	for _, code := range []uint32{0x0, 0x12345678, 0x1fffffff} {
		if _, ok := Lookup(code); ok || Name(code) != "" {
			t.Errorf("%#x: unknown code resolved", code)
		}
	}
}

func TestTable(t *testing.T) {
	if n := Count(); n < 400 {
		t.Errorf("only %d codes", n)
	}
	seen := map[string]uint32{}
	for code, name := range names {
		if name == "" {
			t.Errorf("%#x has no name", code)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("%s is both %#x and %#x", name, prev, code)
		}
		seen[name] = code
	}
	// Every common code named by the diagnosis work has parameters and a summary.
	for _, c := range []uint32{0x0a, 0x19, 0x1a, 0x1e, 0x24, 0x3b, 0x4e, 0x50, 0x7a, 0x7e, 0x7f, 0x8e, 0x9f, 0xa0,
		0xbe, 0xc1, 0xc2, 0xc4, 0xc5, 0xce, 0xd1, 0xd5, 0xd6, 0xea, 0xef, 0xf4, 0xf7, 0xfc, 0x101, 0x109, 0x10d,
		0x116, 0x117, 0x119, 0x124, 0x133, 0x139, 0x13a, 0x154, 0x15f, 0x160, 0x18b, 0x1c8, 0xdeaddead,
		0x3f, 0x44, 0x4a, 0x76, 0x7b, 0x9e, 0xa5, 0xc7, 0xcb, 0xe6, 0xed, 0xf5, 0xfe, 0x113, 0x12b, 0x144} {
		in, ok := Lookup(c)
		if !ok || in.Summary == "" || len(in.Causes) == 0 {
			t.Errorf("%#x: no summary or causes", c)
		}
		if _, ok := names[c]; !ok {
			t.Errorf("%#x: details for an unnamed code", c)
		}
	}
	if in, _ := Lookup(0x1000007e); in.Params[3] != "address of the context record" {
		t.Errorf("variant params = %q", in.Params)
	}
}

func TestHelpers(t *testing.T) {
	if !IsException(0x1000007e) || !IsException(0x3b) || IsException(0x50) {
		t.Error("IsException")
	}
	if PageFaultType(2) == "" || PageFaultType(0x99) != "" {
		t.Error("PageFaultType")
	}
}

func TestSubtype(t *testing.T) {
	for _, c := range []struct {
		code uint32
		p1   uint64
		has  string
	}{{0x1a, 0x41792, "page table entry"}, {0x139, 3, "LIST_ENTRY"}, {0x7f, 8, "stack overflow"},
		{0x124, 0, "machine check"}, {0x133, 0, "DPC"}, {0x9f, 3, "IRP"}, {0xc4, 0x62, "unloaded"}, {0x1000007f, 8, "double fault"}} {
		if got := Subtype(c.code, c.p1); !strings.Contains(got, c.has) {
			t.Errorf("Subtype(%#x, %#x) = %q, want it to mention %q", c.code, c.p1, got, c.has)
		}
	}
	if Subtype(0x50, 0) != "" || Subtype(0x1a, 0x12345678) != "" {
		t.Error("subtype for a code without subtypes")
	}
}

package ntstatus

import "testing"

func TestName(t *testing.T) {
	cases := map[uint32]string{
		0xc0000005: "STATUS_ACCESS_VIOLATION", 0x80000003: "STATUS_BREAKPOINT", 0xc0000409: "STATUS_STACK_BUFFER_OVERRUN",
		0xc000001d: "STATUS_ILLEGAL_INSTRUCTION", 0xc0000094: "STATUS_INTEGER_DIVIDE_BY_ZERO", 0xc0000006: "STATUS_IN_PAGE_ERROR",
		0xc000009a: "STATUS_INSUFFICIENT_RESOURCES", 0xc0000420: "STATUS_ASSERTION_FAILURE", 0xc00000fd: "STATUS_STACK_OVERFLOW",
		0xc000001c: "STATUS_INVALID_SYSTEM_SERVICE", 0x80000002: "STATUS_DATATYPE_MISALIGNMENT",
	}
	for code, want := range cases {
		if got := Name(code); got != want || Describe(code) == "" {
			t.Errorf("%#x: %q (%q), want %q", code, got, Describe(code), want)
		}
	}
	if Name(0x12345678) != "" || Describe(0x12345678) != "" {
		t.Error("unknown code named")
	}
	if len(table) < 80 {
		t.Errorf("only %d codes", len(table))
	}
}

func TestAccessViolationKind(t *testing.T) {
	for p, want := range map[uint64]string{0: "read", 1: "write", 8: "execute", 2: ""} {
		if got := AccessViolationKind(p); got != want {
			t.Errorf("%d: %q", p, got)
		}
	}
}

package lint

import (
	"strings"
	"testing"
)

func TestArrayBounds(t *testing.T) {
	for _, tc := range []struct {
		name, src, want, msg string
	}{
		{"local array, index from the caller", `
UCHAR Get(ULONG Index)
{
    UCHAR table[16];
    RtlZeroMemory(table, sizeof(table));
    return table[Index];
}`, "BCL028@6", "indexes table (16 elements, a local array)"},
		{"file-scope array", `
ULONG Counters[MAX_COUNTERS];
VOID Bump(ULONG Which)
{
    Counters[Which]++;
}`, "BCL028@5", "(MAX_COUNTERS elements, a file-scope array)"},
		{"index checked first", `
UCHAR Table[8];
UCHAR Get(ULONG Index)
{
    if (Index >= ARRAYSIZE(Table)) {
        return 0;
    }
    return Table[Index];
}`, "", ""},
		{"parameter hides the file-scope array", `
UCHAR Table[8];
UCHAR Get(PUCHAR Table, ULONG Index)
{
    return Table[Index];
}`, "", ""},
		{"local pointer hides the file-scope array", `
UCHAR Table[8];
UCHAR Get(ULONG Index)
{
    PUCHAR Table = Lookup();
    return Table[Index];
}`, "", ""},
		{"array of pointers", `
PVOID Get(ULONG Index)
{
    PVOID *slots[4];
    return slots[Index];
}`, "", ""},
		{"copy of a caller's length into a local array", `
VOID Save(PVOID Src, ULONG Length)
{
    UCHAR copy[64];
    RtlCopyMemory(copy, Src, Length);
}`, "BCL028@5", "(64 elements, a local array)"},
		{"copy of the array's own size", `
VOID Save(PVOID Src)
{
    UCHAR copy[64];
    RtlCopyMemory(copy, Src, sizeof(copy));
}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := lintSrc(t, tc.src)
			if got := onlyRules(fs, RuleBufferBound); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for _, f := range fs {
				if f.Rule == RuleBufferBound && !strings.Contains(f.Message, tc.msg) {
					t.Errorf("message %q lacks %q", f.Message, tc.msg)
				}
			}
		})
	}
}

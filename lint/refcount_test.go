package lint

import "testing"

func TestRefCountRace(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"C++ member read after the decrement", `
class CObject {
public:
    ULONG Release()
    {
        if (0 == InterlockedDecrement(&m_cRef)) {
            delete this;
            return 0;
        }
        return m_cRef;
    }
    long m_cRef;
};`, "BCL038@10"},
		{"C++ returns the decremented value", `
class CObject {
public:
    ULONG Release()
    {
        ULONG cRef = InterlockedDecrement(&m_cRef);
        if (0 == cRef) {
            delete this;
            return 0;
        }
        return cRef;
    }
    long m_cRef;
};`, ""},
		{"C context freed at zero, count read again", `
LONG Deref(PCTX ctx)
{
    if (InterlockedDecrement(&ctx->RefCount) == 0) {
        ExFreePoolWithTag(ctx, 'xtcA');
        return 0;
    }
    return ctx->RefCount;
}`, "BCL038@8"},
		{"C decrement without a free", `
VOID Release(PDEVICE_EXTENSION e)
{
    if (InterlockedDecrement(&e->OutstandingIo) == 0) {
        KeSetEvent(&e->RemoveEvent, IO_NO_INCREMENT, FALSE);
    }
    DbgPrint("%d", e->OutstandingIo);
}`, ""},
		{"local counter", `
VOID F(VOID)
{
    LONG n = 2;
    PVOID p = Get();
    if (InterlockedDecrement(&n) == 0) {
        ExFreePool(p);
    }
    Use(n);
}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := onlyRules(lintSrc(t, tc.src), RuleRefCountRace); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

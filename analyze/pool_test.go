package analyze_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/internal/sample"
)

// TestPoolAllocation finds the overrun buffer of the sample crash from
// the faulting registers, reads its POOL_HEADER and finds the tag in the
// driver's code.
func TestPoolAllocation(t *testing.T) {
	r := analyze.Analyze(open(t, sample.Bytes()), analyze.Options{})
	p := r.Access.Pool
	if p == nil || p.Address != "0xffffc80a1b2c3f00" || p.Size != "0x100" || p.Tag != sample.PoolTag || p.Where != "0 bytes past the end" ||
		len(p.Owners) != 1 || p.Owners[0] != sample.DriverName {
		t.Fatalf("pool %+v", p)
	}
	if !strings.Contains(strings.Join(r.Culprit.Evidence, "\n"), "tagged 'AcFr', and that tag is in the code of acmefilt.sys") || r.Culprit.Confidence != "high" {
		t.Errorf("culprit %+v", r.Culprit)
	}

	// The same overrun made by a kernel routine the driver called, with the
	// driver's return addresses gone from the stack: the pool tag alone
	// names the driver.
	d := sample.Triage()
	const ntCopy = sample.NtBase + 0x1000
	le := binary.LittleEndian
	le.PutUint64(d.Stack[sample.TrapFrameRVA+0x168:], ntCopy)
	sp := sample.TrapFrameRVA + cpuctx.TrapFrameX64Size
	le.PutUint64(d.Stack[sp:], 0)
	le.PutUint64(d.Stack[sp+0x48:], 0)
	d.Params[2] = ntCopy
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	r = analyze.Analyze(open(t, b), analyze.Options{})
	if r.Culprit.Module != sample.DriverName || r.Culprit.Confidence != "medium" || !strings.Contains(r.Culprit.Reason, "pool allocation whose tag") {
		t.Errorf("culprit by pool tag: %+v (pool %+v)", r.Culprit, r.Access.Pool)
	}
}

package ntoffsets

import (
	"testing"

	"github.com/bugcheck/bugcheck/cpuctx"
)

func TestFor(t *testing.T) {
	if o, ok := For(cpuctx.ArchX64, 19041); !ok || o.EprocessImageFileName != 0x5a8 || o.EthreadCid != 0x478 {
		t.Errorf("19041: %+v %v", o, ok)
	}
	if o, ok := For(cpuctx.ArchX64, 26100); !ok || o.EprocessImageFileName != 0x338 || o.KthreadProcess != 0 {
		t.Errorf("26100: %+v %v", o, ok)
	}
	if _, ok := For(cpuctx.ArchARM64, 19041); ok {
		t.Error("ARM64 offsets are not known")
	}
	if _, ok := For(cpuctx.ArchX64, 99999); ok {
		t.Error("unknown build")
	}
}

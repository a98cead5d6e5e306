package analyze

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/bugcode"
)

// subtypeCodes are bug checks whose first parameter is a subtype that
// separates unrelated bugs, so it belongs in the bucket.
var subtypeCodes = map[uint32]bool{
	0x19: true, 0x1a: true, 0x4e: true, 0x9f: true, 0xa0: true, 0xc2: true, 0xc4: true, 0x10d: true,
	0x119: true, 0x124: true, 0x139: true, 0x13a: true, 0x7f: true, 0x101: false, 0x133: true,
}

// bucket builds the grouping key: the same bug gives the same key on any
// machine and any boot, so it holds no absolute address — only the bug
// check, its kind of fault, the module and the offset inside it. See
// docs/buckets.md.
func (a *analysis) bucket() string {
	r := a.r
	code := a.f.Header.BugCheckCode
	base := bugcode.Base(code)
	where := a.bucketWhere()
	switch r.Culprit.Kind {
	case KindManual:
		return fmt.Sprintf("MANUAL_0x%X", base)
	case KindHardware:
		return fmt.Sprintf("0x%X_%X_HARDWARE", base, a.param(0))
	case KindCorruption:
		if subtypeCodes[base] {
			return fmt.Sprintf("0x%X_%X_CORRUPTION", base, a.param(0))
		}
		return fmt.Sprintf("0x%X_CORRUPTION", base)
	}
	acc := ""
	if r.Access != nil {
		acc = map[string]string{"read": "R", "write": "W", "execute": "X"}[r.Access.Kind]
	}
	switch family(base) {
	case "exception":
		if a.hasExc && a.exc.Code == 0xc0000005 {
			if acc == "" {
				acc = "UNKNOWN"
			}
			return fmt.Sprintf("AV_%s_%s", acc, where)
		}
		if a.hasExc {
			return fmt.Sprintf("0x%X_%X_%s", base, a.exc.Code, where)
		}
	case "pagefault", "irql":
		if acc == "" {
			acc = "UNKNOWN"
		}
		return fmt.Sprintf("0x%X_%s_%s", base, acc, where)
	}
	if subtypeCodes[base] {
		sub := a.param(0)
		if base == 0x133 {
			return fmt.Sprintf("0x133_%s_%s", map[uint64]string{0: "DPC", 1: "WATCHDOG"}[sub], where)
		}
		return fmt.Sprintf("0x%X_%X_%s", base, sub, where)
	}
	return fmt.Sprintf("0x%X_%s", base, where)
}

// bucketWhere names the place of the fault: module!+offset when the
// faulting instruction is in the culprit, else the culprit alone.
func (a *analysis) bucketWhere() string {
	c := a.r.Culprit
	if c.Module == "" {
		return "UNKNOWN"
	}
	mod := strings.ToLower(c.Module)
	if f := a.r.FaultingIP; f != nil && strings.EqualFold(f.Module, c.Module) && f.Offset != "" {
		return mod + "!+" + f.Offset
	}
	return mod
}

// Package bugcode knows the Windows bug check (stop) codes: the name of
// every code Microsoft documents, the "_M" variants Windows reports with
// bit 0x10000000 set, what the four parameters mean for the codes seen most
// in practice, and a plain-language summary of each of those.
//
// Names come from Microsoft's bug check code reference; the parameter
// meanings and summaries are our own words for the facts documented there.
package bugcode

import (
	"slices"
	"strings"
)

// VariantBit is set in the code of the "_M" variant of a bug check (for
// example 0x1000007E, SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M). The variants
// mean the same as their base codes; Windows raises them on some paths.
const VariantBit = 0x10000000

// Info describes a bug check code.
type Info struct {
	Code    uint32
	Name    string
	Base    uint32    // the code without VariantBit
	Variant bool      // an "_M" variant
	Params  [4]string // what each parameter holds; "" where unknown or reserved
	Summary string    // one plain-language sentence; "" where we have none yet
	Causes  []string  // usual causes, most likely first
}

// Lookup returns what is known about a code. ok is false for codes
// Microsoft does not document.
func Lookup(code uint32) (Info, bool) {
	base := Base(code)
	variant := code != base
	name, ok := names[code] // some variants are documented under their own names
	if !ok {
		if name, ok = names[base]; !ok {
			return Info{Code: code, Base: base}, false
		}
		name += "_M"
	}
	in := Info{Code: code, Name: name, Base: base, Variant: variant}
	if d, ok := details[base]; ok {
		in.Params, in.Summary = d.params, d.summary
	}
	in.Causes = causes[base]
	return in, true
}

// Base returns the base code of an "_M" variant, and any other code
// unchanged. Codes such as 0xDEADDEAD that have the variant bit set but are
// not variants stay as they are.
func Base(code uint32) uint32 {
	if code&VariantBit == 0 {
		return code
	}
	base := code &^ VariantBit
	if _, ok := names[base]; !ok {
		return code
	}
	if name, ok := names[code]; ok && name != names[base]+"_M" {
		return code
	}
	return base
}

// Name returns the symbolic name of a code, or "" when it is unknown.
func Name(code uint32) string {
	in, _ := Lookup(code)
	return in.Name
}

// ByName finds a code by its symbolic name (case-insensitive); a name
// ending in _M gives the variant code.
func ByName(name string) (uint32, bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	for code, known := range names {
		if known == n {
			return code, true
		}
	}
	if base, ok := strings.CutSuffix(n, "_M"); ok {
		if c, ok := ByName(base); ok && c&VariantBit == 0 {
			return c | VariantBit, true
		}
	}
	return 0, false
}

// Count returns the number of documented base codes.
func Count() int { return len(names) }

// Codes returns every documented code in ascending order.
func Codes() []uint32 {
	out := make([]uint32, 0, len(names))
	for c := range names {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// IsException reports whether the bug check reports an unhandled
// exception whose code and address are among its parameters (0x1E, 0x7E,
// 0x8E, 0x3B and their variants).
func IsException(code uint32) bool {
	switch code &^ VariantBit {
	case 0x1e, 0x7e, 0x8e, 0x3b:
		return true
	}
	return false
}

// PageFaultType names the fourth parameter of 0x50
// (PAGE_FAULT_IN_NONPAGED_AREA): why the page fault could not be resolved.
func PageFaultType(v uint64) string {
	switch v {
	case 0x0:
		return "the page table entry is marked free"
	case 0x2:
		return "no valid page table entry maps the address"
	case 0x3:
		return "session address used from a process without a session"
	case 0x4:
		return "the address is not canonical"
	case 0xf:
		return "kernel code touched a user address where that is not allowed"
	}
	return ""
}

package analyze

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/bugcode"
	"github.com/bugcheck/bugcheck/inbox"
)

// Culprit kinds.
const (
	KindDriver   = "driver"
	KindCore     = "core"
	KindHardware = "hardware"
	KindManual   = "manual"
	// KindCorruption: memory was found corrupted after the fact and no
	// driver can be tied to the damage from this dump.
	KindCorruption = "corruption"
	KindUnknown    = "unknown"
)

// Confidence levels of a verdict.
const (
	ConfidenceHigh   = "high"
	ConfidenceMedium = "medium"
	ConfidenceLow    = "low"
)

// corruptionCodes are bug checks raised when the kernel finds its data
// already damaged: the code running at the time is usually a victim.
var corruptionCodes = map[uint32]bool{0x19: true, 0x1a: true, 0x4e: true, 0xc5: true, 0x13a: true, 0xc2: true, 0x139: true}

// blame picks the module most probably at fault and grades the verdict.
func (a *analysis) blame() {
	a.pickCulprit()
	base := bugcode.Base(a.f.Header.BugCheckCode)
	if c := &a.r.Culprit; corruptionCodes[base] && (c.Kind == KindCore || c.Kind == KindUnknown) {
		victim := ""
		if c.Module != "" {
			victim = fmt.Sprintf(" %s noticed the damage but is most likely its victim.", c.Module)
		}
		*c = Culprit{Kind: KindCorruption, Reason: "the kernel found memory already corrupted, and nothing in this dump shows who wrote it." + victim +
			" Driver Verifier's special pool catches the corrupting driver at the moment it writes"}
	}
	a.grade()
}

// grade sets the confidence of the verdict and lists the evidence for it.
func (a *analysis) grade() {
	c := &a.r.Culprit
	ev := []string{}
	conf := ConfidenceLow
	switch c.Kind {
	case KindManual, KindHardware:
		conf = ConfidenceHigh
		ev = append(ev, fmt.Sprintf("bug check %s (%s) is raised only for this kind of stop", a.r.BugCheck.Code, a.r.BugCheck.Name))
	case KindDriver, KindCore:
		fip := a.r.FaultingIP
		inFault := fip != nil && fip.Module != "" && strings.EqualFold(fip.Module, c.Module)
		if inFault {
			conf = ConfidenceHigh
			ev = append(ev, fmt.Sprintf("the faulting instruction %s is inside %s (%s)", fip.Address, c.Module, fip.Source))
			if fip.Instruction != "" {
				ev = append(ev, fmt.Sprintf("the instruction decodes as `%s`", fip.Instruction))
			}
			if fip.EffectiveAddress != "" && a.r.Access != nil && a.r.Access.Address == fip.EffectiveAddress {
				ev = append(ev, "the address the instruction touched equals the address the bug check reports")
			}
		}
		for _, s := range a.r.Stack {
			if strings.EqualFold(s.Module, c.Module) && s.CallVerified != nil && *s.CallVerified && (s.AfterFault || a.faultSP == 0) {
				ev = append(ev, fmt.Sprintf("a return address into %s follows a call instruction on the stack (%s at %s)", c.Module, s.Symbol, s.Address))
				if !inFault {
					conf = ConfidenceMedium
				}
				break
			}
		}
		if a.byParam {
			ev = append(ev, "a bug check parameter points into its code: "+c.Reason)
			if conf == ConfidenceLow {
				conf = ConfidenceMedium
			}
		}
		if !inFault && len(ev) == 0 {
			ev = append(ev, fmt.Sprintf("%s appears on the captured stack, but no call instruction before it could be checked", c.Module))
		}
		if c.Kind == KindCore {
			conf = ConfidenceLow
			ev = append(ev, "a core component is rarely the real cause; another driver may have corrupted its data")
		}
	case KindCorruption:
		ev = append(ev, fmt.Sprintf("bug check %s reports damage found after the fact", a.r.BugCheck.Name))
		if sub := bugcode.Subtype(a.f.Header.BugCheckCode, a.param(0)); sub != "" {
			ev = append(ev, "subtype: "+sub)
		}
	default:
		ev = append(ev, "no module could be tied to the fault")
	}
	c.Confidence, c.Evidence = conf, ev
}

// pickCulprit chooses the module to blame.
func (a *analysis) pickCulprit() {
	base := bugcode.Base(a.f.Header.BugCheckCode)
	c := &a.r.Culprit
	switch base {
	case 0xe2, 0xdeaddead, 0x1c8, 0x161:
		*c = Culprit{Kind: KindManual, Reason: "the crash was started on purpose (keyboard crash, debugger, power-button hold or a test tool), not by a fault"}
		return
	case 0x124, 0x9c:
		*c = Culprit{Kind: KindHardware, Reason: "the processor or platform reported an uncorrectable hardware error (WHEA / machine check); check the hardware, its firmware and its temperature before suspecting a driver"}
		return
	}
	var faultMod string
	if a.ipKnown {
		if m, ok := a.moduleAt(a.ip); ok {
			faultMod = m.BaseName()
			if !a.skip(faultMod) {
				a.setCulprit(faultMod, fmt.Sprintf("the faulting instruction at %s (%s+%#x) is in %s", a.ptrHex(a.ip), faultMod, a.ip-m.Base, faultMod))
				return
			}
		}
	}
	// Without a faulting instruction, a parameter that points into a
	// driver's image (a caller address, a routine, a callback) names it.
	if !a.ipKnown {
		for i, p := range a.f.Header.BugCheckParameters {
			if m, ok := a.moduleAt(p); ok && !a.skip(m.BaseName()) {
				a.setCulprit(m.BaseName(), fmt.Sprintf("bug check parameter %d (%s) points into %s at %s+%#x", i+1, a.ptrHex(p), m.BaseName(), m.BaseName(), p-m.Base))
				a.byParam = true
				return
			}
		}
	}
	// The fault is in a core module or unknown: look up the stack.
	if slot, ok := a.firstOnStack(); ok {
		why := "first module on the stack that is not a core Windows component"
		if faultMod != "" {
			why = fmt.Sprintf("the fault is in %s, a core component that runs on behalf of drivers; %s is the first other module on the stack above the fault (%s at %s)", faultMod, slot.Module, slot.Symbol, slot.Address)
		} else if a.ipKnown {
			why = fmt.Sprintf("the faulting address %s is in no loaded module; %s is the first non-core module on the stack (%s at %s)", a.ptrHex(a.ip), slot.Module, slot.Symbol, slot.Address)
		} else {
			why = fmt.Sprintf("the bug check names no faulting instruction; %s is the first non-core module on the captured stack (%s at %s)", slot.Module, slot.Symbol, slot.Address)
		}
		a.setCulprit(slot.Module, why)
		return
	}
	if faultMod != "" {
		a.setCulprit(faultMod, fmt.Sprintf("the fault is in %s and no other module is on the captured stack; a core component that faults on its own usually points to memory corrupted by another driver or to failing hardware", faultMod))
		c.Kind = KindCore
		return
	}
	if a.ipKnown {
		*c = Culprit{Kind: KindUnknown, Reason: fmt.Sprintf("the faulting address %s is in no loaded module and no driver is on the captured stack: code ran from freed or corrupted memory, or from a driver that has since unloaded", a.ptrHex(a.ip))}
		for _, u := range a.unloaded {
			if a.ip >= u.Start && a.ip < u.End {
				c.Module = u.Name
				c.Kind = KindDriver
				c.Origin = string(inbox.Classify(u.Name, ""))
				c.Reason = fmt.Sprintf("the faulting address %s is inside %s, which had been unloaded: the driver left a callback, timer or thread running after it unloaded", a.ptrHex(a.ip), u.Name)
			}
		}
		return
	}
	*c = Culprit{Kind: KindUnknown, Reason: "the dump names no faulting instruction and no driver other than core Windows components is on the captured stack"}
}

// firstOnStack returns the innermost caller in a non-core module: from the
// unwound frames when there are any, else from the stack scan, preferring
// slots above the fault and values that follow a call.
func (a *analysis) firstOnStack() (StackSlot, bool) {
	if len(a.r.Frames) > 1 {
		for _, f := range a.r.Frames[1:] {
			if f.Module != "" && !a.skip(f.Module) {
				t := true
				return StackSlot{Address: f.ChildSP, Value: f.IP, Module: f.Module, Offset: f.Offset, Symbol: f.Symbol, AfterFault: true, CallVerified: &t}, true
			}
		}
	}
	pick := func(needAfter, needCall bool) (StackSlot, bool) {
		for _, s := range a.r.Stack {
			if needAfter && !s.AfterFault {
				continue
			}
			if needCall && (s.CallVerified == nil || !*s.CallVerified) {
				continue
			}
			if !a.skip(s.Module) {
				return s, true
			}
		}
		return StackSlot{}, false
	}
	tries := [][2]bool{{true, true}, {true, false}, {false, true}, {false, false}}
	if a.faultSP == 0 {
		tries = [][2]bool{{false, true}, {false, false}}
	}
	for _, t := range tries {
		if s, ok := pick(t[0], t[1]); ok {
			return s, true
		}
	}
	return StackSlot{}, false
}

func (a *analysis) setCulprit(name, reason string) {
	c := Culprit{Module: name, Kind: KindDriver, Reason: reason}
	for _, m := range a.mods {
		if strings.EqualFold(m.BaseName(), name) {
			c.Path, c.Version = m.Name, hex64(uint64(m.Timestamp))
			break
		}
	}
	if a.skip(name) {
		c.Kind = KindCore
	}
	c.Origin = string(inbox.Classify(name, c.Path))
	if a.opt.Versions != nil {
		for _, m := range a.mods {
			if strings.EqualFold(m.BaseName(), name) {
				if v, ok := a.opt.Versions.Version(m.BaseName(), m.Timestamp, m.Size); ok {
					c.Description, c.Company, c.FileVersion, c.Product = v["FileDescription"], v["CompanyName"], v["FileVersion"], v["ProductName"]
				}
				break
			}
		}
	}
	a.r.Culprit = c
}

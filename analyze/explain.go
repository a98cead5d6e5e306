package analyze

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/bugcode"
)

// Bug check families that share an explanation.
func family(base uint32) string {
	switch base {
	case 0x1e, 0x7e, 0x8e, 0x3b:
		return "exception"
	case 0x50, 0xd5, 0xd6:
		return "pagefault"
	case 0x0a, 0xd1:
		return "irql"
	}
	return ""
}

var verbs = map[string][2]string{
	"read":    {"read from", "reads"},
	"write":   {"write to", "writes"},
	"execute": {"execute code at", "executes"},
}

// explain writes the summary line, the plain-language explanation and the
// next steps.
func (a *analysis) explain() {
	r := a.r
	code := a.f.Header.BugCheckCode
	base := bugcode.Base(code)
	culprit := r.Culprit.Module
	where := ""
	if culprit != "" {
		where = " in " + culprit
	}

	// Summary line.
	sum := fmt.Sprintf("%s (%s)", r.BugCheck.Name, r.BugCheck.Code)
	if culprit != "" {
		sum += ", probably caused by " + culprit
	}
	switch {
	case r.Exception != nil && r.Exception.Name != "":
		sum += ": " + r.Exception.Name
		if r.Access != nil && r.Access.Kind != "unknown" {
			sum += " (" + r.Access.Kind + ")"
		}
	case r.Access != nil:
		sum += fmt.Sprintf(": invalid %s of %s", r.Access.Kind, r.Access.Address)
	}
	if r.FaultingIP != nil {
		sum += " at " + r.FaultingIP.Symbol
	}
	r.Summary = sum

	// Explanation.
	var p []string
	acc := ""
	if r.Access != nil {
		acc = r.Access.Kind
	}
	switch family(base) {
	case "exception":
		who := map[uint32]string{0x7e: "A system thread", 0x8e: "Kernel-mode code", 0x1e: "Kernel-mode code", 0x3b: "A system call (a program's request into the kernel)"}[base]
		exc := "an exception"
		if r.Exception != nil {
			exc = "exception " + r.Exception.Code
			if r.Exception.Name != "" {
				exc += " (" + r.Exception.Name + ")"
			}
		}
		s := fmt.Sprintf("%s running code%s raised %s", who, where, exc)
		if v, ok := verbs[acc]; ok && r.Exception != nil && r.Exception.Code == "0xc0000005" {
			s += " while trying to " + v[0] + " memory it may not touch"
		}
		s += ", and no exception handler caught it, so Windows stopped the machine to protect your data."
		p = append(p, s)
		if r.Access != nil && r.Access.Note != "" {
			p = append(p, "The processor "+strings.TrimPrefix(r.Access.Note, "the processor ")+".")
		}
	case "pagefault":
		v := verbs[acc]
		if v[0] == "" {
			v[0] = "access"
		}
		p = append(p, fmt.Sprintf("Code%s tried to %s address %s, where no valid memory is mapped. In kernel mode Windows cannot recover from that. Usual causes: running past the end of a buffer, using memory after it was freed, or a corrupt or uninitialised pointer.", where, v[0], r.Access.Address))
	case "irql":
		v := verbs[acc]
		if v[0] == "" {
			v[0] = "access"
		}
		irql := ""
		if len(r.BugCheck.Meanings) > 1 {
			irql = r.BugCheck.Meanings[1].Decoded
		}
		p = append(p, fmt.Sprintf("Code%s tried to %s address %s while running at %s, a raised priority at which Windows cannot bring paged-out memory back. Either the address is invalid, or the driver touched pageable memory where only nonpaged memory may be used.", where, v[0], r.Access.Address, irql))
	default:
		info, _ := bugcode.Lookup(code)
		if info.Summary != "" {
			p = append(p, info.Summary)
		} else {
			p = append(p, fmt.Sprintf("Windows stopped with bug check %s (%s).", r.BugCheck.Name, r.BugCheck.Code))
		}
	}
	if f := r.FaultingIP; f != nil && f.Instruction != "" && f.Access != "" {
		s := fmt.Sprintf("The faulting instruction `%s` %s %d bytes", f.Instruction, verbs[f.Access][1], f.AccessSize)
		if f.Access == "read-write" {
			s = fmt.Sprintf("The faulting instruction `%s` reads and writes %d bytes", f.Instruction, f.AccessSize)
		}
		if f.EffectiveAddress != "" {
			s += " at " + f.EffectiveAddress
			if r.Access != nil && r.Access.Address == f.EffectiveAddress {
				s += ", the same address the bug check reports"
			}
		}
		s += "."
		if ea, ok := parseHex(f.EffectiveAddress); ok && f.Access == "write" && ea%0x1000 == 0 && family(base) == "pagefault" {
			s += " The write lands exactly on the first byte of a page: the code most likely ran off the end of a buffer that ends at a page boundary (a buffer overrun)."
		}
		p = append(p, s)
	}
	if r.Culprit.Reason != "" {
		if culprit != "" {
			p = append(p, fmt.Sprintf("bugcheck blames %s because %s.", culprit, r.Culprit.Reason))
		} else {
			p = append(p, "No single driver can be blamed: "+r.Culprit.Reason+".")
		}
	}
	r.Explanation = strings.Join(p, " ")
	r.NextSteps = a.nextSteps(base, culprit)
}

func parseHex(s string) (uint64, bool) {
	var v uint64
	if _, err := fmt.Sscanf(s, "0x%x", &v); err != nil {
		return 0, false
	}
	return v, true
}

// nextSteps gives the concrete actions for the verdict.
func (a *analysis) nextSteps(base uint32, culprit string) []string {
	var s []string
	switch a.r.Culprit.Kind {
	case KindManual:
		return []string{"Nothing needs fixing if the crash was deliberate. If nobody started it, check for a stuck power button, a keyboard crash hotkey (CrashOnCtrlScroll) or a tool that forces crashes."}
	case KindHardware:
		return []string{
			"Look in the System event log for WHEA-Logger events before the crash: they name the failing component (processor, memory, PCIe device).",
			"Update the BIOS/UEFI firmware and chipset drivers; undo any overclocking.",
			"Test the memory (mdsched.exe or MemTest86) and check temperatures and power.",
		}
	}
	if culprit != "" && a.r.Culprit.Kind == KindDriver {
		ver := ""
		if a.r.Culprit.Version != "" {
			ver = " (image timestamp " + a.r.Culprit.Version + ")"
		}
		s = append(s,
			fmt.Sprintf("Update %s%s from Windows Update or its vendor; if the crashes began after it was updated, roll it back (Device Manager → the device → Driver → Roll Back Driver).", culprit, ver),
			fmt.Sprintf("Confirm with Driver Verifier, as administrator: `verifier /standard /driver %s`, reboot and reproduce; the next crash stops at the driver's first bad call. For pool corruption, add IRP logging to the standard checks (which include special pool and pool tracking): `verifier /flags 0x20dbb /driver %s`. Turn it off afterwards with `verifier /reset`.", culprit, culprit))
	} else {
		s = append(s, "Run Driver Verifier on all non-Microsoft drivers to find one that corrupts memory: `verifier /standard /all` is heavy, so prefer `verifier /standard /driver A.sys B.sys …` with the third-party drivers from the module list, then reproduce. Turn it off with `verifier /reset`.")
	}
	switch family(base) {
	case "pagefault":
		s = append(s, "For the driver's developer: check the size of every copy into a pool buffer; allocate with ExAllocatePool2 (POOL_FLAG_NON_PAGED for memory used at raised IRQL) and check the result for NULL before use; never use memory after ExFreePool; protect data shared between threads, DPCs and interrupts with a spin lock.")
	case "irql":
		s = append(s, "For the driver's developer: at DISPATCH_LEVEL and above, touch only nonpaged memory (ExAllocatePool2 with POOL_FLAG_NON_PAGED, no code in PAGE sections, no PAGED_CODE functions), and check pointers for NULL before use.")
	case "exception":
		s = append(s, "For the driver's developer: validate pointers and allocation results before dereferencing them, probe user-mode buffers inside __try/__except, and synchronise access to shared data.")
	}
	s = append(s, "If crashes keep coming with different bug checks and different drivers, suspect hardware: test the memory (mdsched.exe) and check the System event log for WHEA-Logger errors.")
	return s
}

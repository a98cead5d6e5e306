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
	r.Playbook = a.playbook(base)
}

func parseHex(s string) (uint64, bool) {
	var v uint64
	if _, err := fmt.Sscanf(s, "0x%x", &v); err != nil {
		return 0, false
	}
	return v, true
}

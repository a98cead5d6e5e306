package disasm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

func decodeX86(code []byte, addr uint64, mode int, regs Registers) (Inst, error) {
	in, err := x86asm.Decode(code, mode)
	if err != nil {
		if err == x86asm.ErrTruncated {
			return Inst{}, ErrTruncated
		}
		return Inst{}, fmt.Errorf("disasm: %w", err)
	}
	out := Inst{Addr: addr, Len: in.Len, Bytes: append([]byte(nil), code[:in.Len]...),
		Mnemonic: strings.ToLower(in.Op.String())}
	out.Text = x86Text(in, addr, mode)
	memIdx := -1
	var mem x86asm.Mem
	for i, a := range in.Args {
		if m, ok := a.(x86asm.Mem); ok {
			memIdx, mem = i, m
			break
		}
	}
	if memIdx < 0 {
		return out, nil
	}
	out.Access = x86Access(in, memIdx)
	if out.Access == AccessNone {
		return out, nil
	}
	out.AccessSize = in.MemBytes
	if out.AccessSize == 0 {
		out.AccessSize = stringOpSize(in)
	}
	if m := memExprRe.FindString(out.Text); m != "" {
		out.MemExpr = m
	}
	if mem.Segment == x86asm.FS || mem.Segment == x86asm.GS {
		out.Segment = strings.ToLower(mem.Segment.String())
		return out, nil // the segment base is not part of the register context
	}
	out.EA, out.EAKnown = x86EA(in, mem, addr, mode, regs)
	return out, nil
}

var memExprRe = regexp.MustCompile(`(?:[a-z]s:)?\[[^\]]*\]`)

// x86Access classifies the access of the memory operand at argument idx
// (Intel operand order: destination first).
func x86Access(in x86asm.Inst, idx int) Access {
	op := in.Op
	switch op {
	case x86asm.LEA, x86asm.NOP, x86asm.PREFETCHNTA, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2,
		x86asm.PREFETCHW, x86asm.INVLPG, x86asm.CLFLUSH:
		return AccessNone
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ:
		return AccessWrite
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ:
		if len(in.Args) > 1 && in.Args[1] != nil {
			if _, ok := in.Args[1].(x86asm.Mem); ok {
				return AccessWrite // the string move: it reads [rsi] and writes [rdi], the operand shown
			}
		}
	case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ, x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ:
		return AccessRead
	}
	if idx > 0 {
		return AccessRead
	}
	name := op.String()
	switch {
	case op == x86asm.CMP || op == x86asm.TEST || op == x86asm.BT || op == x86asm.PUSH ||
		op == x86asm.CALL || op == x86asm.JMP || op == x86asm.LJMP || op == x86asm.LCALL ||
		strings.HasPrefix(name, "UCOMIS") || strings.HasPrefix(name, "COMIS") || op == x86asm.VERR || op == x86asm.VERW:
		return AccessRead
	case op == x86asm.POP || strings.HasPrefix(name, "SET") || strings.HasPrefix(name, "MOV") ||
		strings.HasPrefix(name, "VMOV") || strings.HasPrefix(name, "FST") || strings.HasPrefix(name, "FIST") ||
		strings.HasPrefix(name, "FBSTP") || op == x86asm.SGDT || op == x86asm.SIDT || op == x86asm.SLDT || op == x86asm.STR ||
		op == x86asm.SMSW || op == x86asm.FXSAVE || op == x86asm.FXSAVE64 || op == x86asm.XSAVE || op == x86asm.XSAVEOPT ||
		op == x86asm.FNSTCW || op == x86asm.FNSTSW || op == x86asm.FNSTENV || op == x86asm.FNSAVE || op == x86asm.STMXCSR ||
		strings.HasPrefix(name, "PEXTR") || strings.HasPrefix(name, "EXTRACTPS") || op == x86asm.MASKMOVQ:
		return AccessWrite
	case op == x86asm.FLD || strings.HasPrefix(name, "FILD") || op == x86asm.FLDCW || op == x86asm.LDMXCSR ||
		op == x86asm.FXRSTOR || op == x86asm.FXRSTOR64 || op == x86asm.XRSTOR || op == x86asm.LGDT || op == x86asm.LIDT ||
		op == x86asm.LLDT || op == x86asm.LTR || op == x86asm.LMSW:
		return AccessRead
	}
	// Everything else with a memory destination (arithmetic, logic, shifts,
	// inc/dec, xchg, cmpxchg, xadd, bts/btr/btc) reads and writes it.
	return AccessReadWrite
}

func stringOpSize(in x86asm.Inst) int {
	switch in.Op.String()[len(in.Op.String())-1] {
	case 'B':
		return 1
	case 'W':
		return 2
	case 'D':
		return 4
	case 'Q':
		return 8
	}
	return 0
}

// x86EA computes base + index*scale + disp.
func x86EA(in x86asm.Inst, m x86asm.Mem, addr uint64, mode int, regs Registers) (uint64, bool) {
	var ea uint64
	switch m.Base {
	case 0:
	case x86asm.RIP, x86asm.EIP:
		ea = addr + uint64(in.Len)
	default:
		v, ok := regs.Reg(strings.ToLower(m.Base.String()))
		if !ok {
			return 0, false
		}
		ea = v
	}
	if m.Index != 0 && m.Scale != 0 {
		v, ok := regs.Reg(strings.ToLower(m.Index.String()))
		if !ok {
			return 0, false
		}
		ea += v * uint64(m.Scale)
	}
	ea += uint64(m.Disp)
	if mode == 32 || in.AddrSize == 32 {
		ea &= 0xffffffff
	}
	return ea, true
}

var (
	hexRe      = regexp.MustCompile(`0x[0-9a-f]+`)
	scaledRe   = regexp.MustCompile(`\[([a-z0-9]+)\+([1248])\*([a-z0-9]+)`)
	indexOnlyR = regexp.MustCompile(`\[([1248])\*([a-z0-9]+)`)
	ripRe      = regexp.MustCompile(`\[rip([+-]0x[0-9a-f]+)?\]`)
	bareMemRe  = regexp.MustCompile(`(, |^\S+ )ptr \[`)
	negImmRe   = regexp.MustCompile(`([, ])-0x([0-9a-f]+)$`)
)

// x86Text renders the instruction like WinDbg: "mov dword ptr [rcx+rax*4],edx".
func x86Text(in x86asm.Inst, addr uint64, mode int) string {
	s := x86asm.IntelSyntax(in, addr, nil)
	// RIP-relative operands: show the absolute target.
	s = ripRe.ReplaceAllStringFunc(s, func(m string) string {
		disp := int64(0)
		if sub := ripRe.FindStringSubmatch(m); sub[1] != "" {
			v, _ := strconv.ParseInt(strings.Replace(sub[1], "0x", "", 1), 16, 64)
			disp = v
		}
		return fmt.Sprintf("[%s%x]", absMark, addr+uint64(in.Len)+uint64(disp))
	})
	s = scaledRe.ReplaceAllString(s, "[$1+$3*$2")
	s = indexOnlyR.ReplaceAllString(s, "[$2*$1")
	s = bareMemRe.ReplaceAllString(s, "$1[") // "lea rax, ptr [rsp]" has no operand size
	// A negative immediate operand is shown as the unsigned value of the
	// operand size, as WinDbg does ("mov ecx,0C0000005h").
	s = negImmRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := negImmRe.FindStringSubmatch(m)
		v, err := strconv.ParseUint(sub[2], 16, 64)
		if err != nil {
			return m
		}
		v = -v
		if in.DataSize > 0 && in.DataSize < 64 {
			v &= 1<<uint(in.DataSize) - 1
		}
		return fmt.Sprintf("%s%#x", sub[1], v)
	})
	s = strings.ReplaceAll(s, ", ", ",")
	// Immediates and displacements in WinDbg's hex style, but keep absolute
	// addresses (branch targets, RIP-relative) as 0x-prefixed values.
	s = hexRe.ReplaceAllStringFunc(s, func(h string) string {
		v, err := strconv.ParseUint(h[2:], 16, 64)
		if err != nil || isTarget(in) && (mode == 64 && v > 0xffffffff || mode == 32 && v >= 0x10000000) {
			return h // an absolute branch target
		}
		return hexImm(v)
	})
	s = strings.ReplaceAll(s, absMark, "0x")
	if i := strings.IndexByte(s, ' '); i > 0 {
		s = s[:i] + " " + strings.TrimLeft(s[i+1:], " ")
	}
	return s
}

// absMark tags RIP-relative targets so the immediate pass leaves them as
// absolute 0x addresses.
const absMark = "\x00abs"

func isTarget(in x86asm.Inst) bool {
	_, rel := in.Args[0].(x86asm.Rel)
	return rel
}

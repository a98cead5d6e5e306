package disasm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
)

func decodeARM64(code []byte, addr uint64, regs Registers) (Inst, error) {
	if len(code) < 4 {
		return Inst{}, ErrTruncated
	}
	in, err := arm64asm.Decode(code[:4])
	if err != nil {
		return Inst{}, fmt.Errorf("disasm: %w", err)
	}
	op := in.Op.String()
	out := Inst{Addr: addr, Len: 4, Bytes: append([]byte(nil), code[:4]...), Mnemonic: strings.ToLower(op),
		Text: strings.ToLower(in.String())}
	var memArg arm64asm.Arg
	var transfer string
	for i, a := range in.Args {
		if a == nil {
			break
		}
		switch a.(type) {
		case arm64asm.MemImmediate, arm64asm.MemExtend:
			memArg = a
		case arm64asm.PCRel:
			if strings.HasPrefix(op, "LD") || strings.HasPrefix(op, "PRF") {
				memArg = a
			}
		}
		if i == 0 {
			transfer = a.String()
		}
	}
	if memArg == nil {
		return out, nil
	}
	out.Access = arm64Access(op)
	if out.Access == AccessNone {
		return out, nil
	}
	out.AccessSize = arm64Size(op, transfer)
	if _, pcrel := memArg.(arm64asm.PCRel); pcrel {
		out.MemExpr = strings.ToLower(memArg.String())
		out.EA, out.EAKnown = addr+uint64(int64(memArg.(arm64asm.PCRel))), true
		return out, nil
	}
	out.MemExpr = strings.ToLower(memArg.String())
	out.EA, out.EAKnown = arm64EA(out.MemExpr, regs)
	return out, nil
}

// arm64 atomic read-modify-write mnemonics begin with these.
var rmwPrefixes = []string{"LDADD", "LDCLR", "LDEOR", "LDSET", "LDSMAX", "LDSMIN", "LDUMAX", "LDUMIN",
	"STADD", "STCLR", "STEOR", "STSET", "STSMAX", "STSMIN", "STUMAX", "STUMIN", "SWP", "CAS"}

func arm64Access(op string) Access {
	for _, p := range rmwPrefixes {
		if strings.HasPrefix(op, p) {
			return AccessReadWrite
		}
	}
	switch {
	case strings.HasPrefix(op, "PRF"):
		return AccessNone
	case strings.HasPrefix(op, "LD"):
		return AccessRead
	case strings.HasPrefix(op, "ST"):
		return AccessWrite
	}
	return AccessNone
}

// arm64Size derives the access size from the mnemonic suffix or the
// transfer register's width; pair instructions move two registers.
func arm64Size(op, reg string) int {
	base := strings.TrimSuffix(strings.TrimSuffix(op, "P"), "NP")
	switch {
	case strings.HasSuffix(base, "SB") || strings.HasSuffix(base, "B") && !strings.HasSuffix(op, "SB") && len(base) > 2 && base[len(base)-1] == 'B':
		return 1
	case strings.HasSuffix(base, "SH") || strings.HasSuffix(base, "H"):
		return 2
	case strings.HasSuffix(base, "SW"):
		return 4
	}
	size := 0
	if reg != "" {
		switch reg[0] {
		case 'X':
			size = 8
		case 'W':
			size = 4
		case 'Q':
			size = 16
		case 'D':
			size = 8
		case 'S':
			size = 4
		case 'H':
			size = 2
		case 'B':
			size = 1
		}
	}
	if strings.HasSuffix(op, "P") || strings.HasSuffix(op, "NP") {
		size *= 2
	}
	return size
}

var (
	armImmRe = regexp.MustCompile(`^\[([a-z0-9]+)(?:,#(-?(?:0x)?[0-9a-f]+))?\](!)?(?:,#(-?(?:0x)?[0-9a-f]+))?$`)
	armExtRe = regexp.MustCompile(`^\[([a-z0-9]+),([a-z0-9]+)(?:,(lsl|uxtw|sxtw|sxtx|uxtx)(?: #(\d+))?)?\]$`)
)

func parseImm(s string) int64 {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	v, _ := strconv.ParseInt(strings.TrimPrefix(s, "0x"), map[bool]int{true: 16, false: 10}[strings.HasPrefix(s, "0x")], 64)
	if neg {
		return -v
	}
	return v
}

// arm64EA evaluates a memory operand such as "[x1,#16]", "[sp,#-16]!",
// "[x1],#8" or "[x3,w4,uxtw #2]".
func arm64EA(expr string, regs Registers) (uint64, bool) {
	if m := armImmRe.FindStringSubmatch(expr); m != nil {
		base, ok := regs.Reg(m[1])
		if !ok {
			return 0, false
		}
		if m[4] != "" { // post-index: the access uses the base as it was
			return base, true
		}
		if m[2] != "" {
			base += uint64(parseImm(m[2]))
		}
		return base, true
	}
	if m := armExtRe.FindStringSubmatch(expr); m != nil {
		base, ok1 := regs.Reg(m[1])
		idx, ok2 := regs.Reg(m[2])
		if !ok1 || !ok2 {
			return 0, false
		}
		switch m[3] {
		case "uxtw":
			idx &= 0xffffffff
		case "sxtw":
			idx = uint64(int64(int32(uint32(idx))))
		}
		if m[4] != "" {
			sh, _ := strconv.Atoi(m[4])
			idx <<= uint(sh & 63)
		}
		return base + idx, true
	}
	return 0, false
}

// Package disasm decodes the instruction at a crash's faulting address and
// says what memory it touched: read, write or both, how many bytes, and the
// effective address when the registers are known. Decoding itself is done
// by golang.org/x/arch (x86asm for x86 and x64, arm64asm for ARM64); this
// package adds the memory-access semantics and WinDbg-style text.
package disasm

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
)

// Arch names a CPU architecture.
type Arch int

// Architectures.
const (
	X64 Arch = iota + 1
	X86
	ARM64
)

// Access says how an instruction touches memory.
type Access int

// Memory access kinds.
const (
	AccessNone Access = iota
	AccessRead
	AccessWrite
	AccessReadWrite
)

// String returns "none", "read", "write" or "read-write".
func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessReadWrite:
		return "read-write"
	}
	return "none"
}

// Registers supplies register values by lower-case name ("rax", "r9d",
// "eax", "x0", "w3", "sp"). ok is false when a value is unknown.
type Registers interface {
	Reg(name string) (uint64, bool)
}

// RegMap is a map-based Registers.
type RegMap map[string]uint64

// Reg implements Registers.
func (m RegMap) Reg(name string) (uint64, bool) {
	v, ok := m[name]
	return v, ok
}

// Inst is one decoded instruction.
type Inst struct {
	Addr       uint64
	Len        int
	Bytes      []byte
	Text       string // WinDbg-style Intel syntax for x86/x64; ARM64 assembly in lower case
	Mnemonic   string // lower case, e.g. "mov", "call", "str"
	Access     Access // the data access of the memory operand; AccessNone when there is none
	MemExpr    string // the memory operand as written in Text, e.g. "[rcx+rax*4]"
	AccessSize int    // bytes accessed, 0 when unknown
	EA         uint64 // effective address, when EAKnown
	EAKnown    bool
	Segment    string // x86 segment override of the memory operand ("gs", "fs"), whose base is not known here
}

// ErrTruncated means the bytes end inside an instruction.
var ErrTruncated = errors.New("disasm: instruction is truncated")

// Decode decodes the instruction at the start of code, which sits at addr.
// regs may be nil; with it, the effective address of a memory operand is
// computed when every register it uses is known.
func Decode(arch Arch, code []byte, addr uint64, regs Registers) (inst Inst, err error) {
	if len(code) == 0 {
		return Inst{}, ErrTruncated
	}
	// The decoders are well fuzzed, but a crash analyser must never crash
	// on the bytes it is shown.
	defer func() {
		if r := recover(); r != nil {
			inst, err = Inst{}, fmt.Errorf("disasm: cannot decode % x: %v", code[:min(len(code), 16)], r)
		}
	}()
	if regs == nil {
		regs = RegMap(nil)
	}
	switch arch {
	case X64:
		return decodeX86(code, addr, 64, regs)
	case X86:
		return decodeX86(code, addr, 32, regs)
	case ARM64:
		return decodeARM64(code, addr, regs)
	}
	return Inst{}, fmt.Errorf("disasm: unknown architecture %d", arch)
}

// Mnemonic decodes only the operation and length of the instruction at the
// start of code: a cheap check, for instance, that the bytes before a
// return address hold a call.
func Mnemonic(arch Arch, code []byte) (op string, length int, err error) {
	defer func() {
		if r := recover(); r != nil {
			op, length, err = "", 0, fmt.Errorf("disasm: cannot decode % x: %v", code[:min(len(code), 16)], r)
		}
	}()
	switch arch {
	case X64, X86:
		mode := 64
		if arch == X86 {
			mode = 32
		}
		in, err := x86asm.Decode(code, mode)
		if err != nil {
			return "", 0, err
		}
		return strings.ToLower(in.Op.String()), in.Len, nil
	case ARM64:
		if len(code) < 4 {
			return "", 0, ErrTruncated
		}
		in, err := arm64asm.Decode(code[:4])
		if err != nil {
			return "", 0, err
		}
		return strings.ToLower(in.Op.String()), 4, nil
	}
	return "", 0, fmt.Errorf("disasm: unknown architecture %d", arch)
}

// DecodeN decodes up to n consecutive instructions, stopping at the first
// that does not decode.
func DecodeN(arch Arch, code []byte, addr uint64, n int) []Inst {
	var out []Inst
	for len(out) < n && len(code) > 0 {
		in, err := Decode(arch, code, addr, nil)
		if err != nil || in.Len <= 0 {
			break
		}
		out = append(out, in)
		code = code[in.Len:]
		addr += uint64(in.Len)
	}
	return out
}

// hexImm renders a number the way WinDbg does: decimal digits below 10,
// otherwise upper-case hex with an h suffix and a leading 0 before a letter.
func hexImm(v uint64) string {
	if v < 10 {
		return fmt.Sprint(v)
	}
	s := strings.ToUpper(fmt.Sprintf("%x", v))
	if s[0] >= 'A' {
		s = "0" + s
	}
	return s + "h"
}

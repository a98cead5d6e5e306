// Package cpuctx decodes and encodes the Windows CONTEXT records of the
// x64 (AMD64), x86 and ARM64 architectures, as they appear in crash dumps:
// in the dump header, on captured stacks, and at the address a bug check
// parameter points to.
//
// The layouts follow the CONTEXT structures of the Windows SDK (winnt.h);
// the code is our own. Only the integer, control and segment state is
// decoded: floating point and vector state is kept as raw bytes.
package cpuctx

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Arch names the architecture a context record belongs to.
type Arch int

// Architectures.
const (
	ArchUnknown Arch = iota
	ArchX64
	ArchX86
	ArchARM64
)

// String returns the short architecture name used in reports: "x64", "x86", "arm64".
func (a Arch) String() string {
	switch a {
	case ArchX64:
		return "x64"
	case ArchX86:
		return "x86"
	case ArchARM64:
		return "arm64"
	}
	return "unknown"
}

// PointerSize is the size in bytes of a pointer on the architecture.
func (a Arch) PointerSize() int {
	if a == ArchX86 {
		return 4
	}
	return 8
}

// Size returns the size in bytes of a CONTEXT record of the architecture.
func (a Arch) Size() int {
	switch a {
	case ArchX64:
		return SizeX64
	case ArchX86:
		return SizeX86
	case ArchARM64:
		return SizeARM64
	}
	return 0
}

// Sizes of the CONTEXT records.
const (
	SizeX64   = 0x4d0
	SizeX86   = 0x2cc
	SizeARM64 = 0x390
)

// Context is a decoded register set. Register names are lower case
// ("rip", "r8", "eax", "x0", "sp", "pc").
type Context struct {
	Arch  Arch
	Flags uint32            // ContextFlags: which parts of the record are valid
	regs  map[string]uint64 // every decoded register by name
}

// Reg returns the value of a register by lower-case name. Aliases are
// understood: on x64 "eax"-style 32-bit names give the low half, on ARM64
// "w0" gives the low half of x0, "fp" is x29 and "lr" is x30.
func (c *Context) Reg(name string) (uint64, bool) {
	if c == nil || c.regs == nil {
		return 0, false
	}
	if v, ok := c.regs[name]; ok {
		return v, true
	}
	switch c.Arch {
	case ArchX64:
		if full, ok := x64Sub32[name]; ok {
			v, ok := c.regs[full]
			return v & 0xffffffff, ok
		}
	case ArchARM64:
		if len(name) > 1 && name[0] == 'w' {
			if v, ok := c.regs["x"+name[1:]]; ok {
				return v & 0xffffffff, true
			}
		}
		switch name {
		case "x29":
			return c.Reg("fp")
		case "x30":
			return c.Reg("lr")
		case "xzr", "wzr":
			return 0, true
		}
	}
	return 0, false
}

var x64Sub32 = map[string]string{
	"eax": "rax", "ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi", "edi": "rdi",
	"ebp": "rbp", "esp": "rsp", "r8d": "r8", "r9d": "r9", "r10d": "r10", "r11d": "r11",
	"r12d": "r12", "r13d": "r13", "r14d": "r14", "r15d": "r15", "eip": "rip",
}

// Set stores a register value; it is how callers build contexts from other
// sources, such as a trap frame.
func (c *Context) Set(name string, v uint64) {
	if c.regs == nil {
		c.regs = make(map[string]uint64)
	}
	c.regs[name] = v
}

// PC returns the instruction pointer (rip, eip or pc).
func (c *Context) PC() uint64 { return c.first("rip", "eip", "pc") }

// SP returns the stack pointer (rsp, esp or sp).
func (c *Context) SP() uint64 { return c.first("rsp", "esp", "sp") }

// FP returns the frame pointer (rbp, ebp or fp).
func (c *Context) FP() uint64 { return c.first("rbp", "ebp", "fp") }

func (c *Context) first(names ...string) uint64 {
	for _, n := range names {
		if v, ok := c.Reg(n); ok {
			return v
		}
	}
	return 0
}

// Names returns the names of the decoded registers in the order a debugger
// shows them.
func (c *Context) Names() []string {
	var order []string
	switch c.Arch {
	case ArchX64:
		order = x64Order
	case ArchX86:
		order = x86Order
	case ArchARM64:
		order = arm64Order
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range order {
		if _, ok := c.regs[n]; ok {
			out = append(out, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range c.regs {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// Registers returns a copy of all decoded registers.
func (c *Context) Registers() map[string]uint64 {
	m := make(map[string]uint64, len(c.regs))
	for k, v := range c.regs {
		m[k] = v
	}
	return m
}

// field is a register at a fixed offset of a CONTEXT record.
type field struct {
	name string
	off  int
	size int
}

// x64 CONTEXT (winnt.h, AMD64): 0x4d0 bytes.
var x64Fields = []field{
	{"mxcsr", 0x34, 4},
	{"cs", 0x38, 2}, {"ds", 0x3a, 2}, {"es", 0x3c, 2}, {"fs", 0x3e, 2}, {"gs", 0x40, 2}, {"ss", 0x42, 2},
	{"efl", 0x44, 4},
	{"dr0", 0x48, 8}, {"dr1", 0x50, 8}, {"dr2", 0x58, 8}, {"dr3", 0x60, 8}, {"dr6", 0x68, 8}, {"dr7", 0x70, 8},
	{"rax", 0x78, 8}, {"rcx", 0x80, 8}, {"rdx", 0x88, 8}, {"rbx", 0x90, 8},
	{"rsp", 0x98, 8}, {"rbp", 0xa0, 8}, {"rsi", 0xa8, 8}, {"rdi", 0xb0, 8},
	{"r8", 0xb8, 8}, {"r9", 0xc0, 8}, {"r10", 0xc8, 8}, {"r11", 0xd0, 8},
	{"r12", 0xd8, 8}, {"r13", 0xe0, 8}, {"r14", 0xe8, 8}, {"r15", 0xf0, 8},
	{"rip", 0xf8, 8},
}

var x64Order = []string{"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rip", "rsp", "rbp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "efl", "cs", "ss", "ds", "es", "fs", "gs"}

// x86 CONTEXT (winnt.h, i386): 0x2cc bytes.
var x86Fields = []field{
	{"dr0", 0x04, 4}, {"dr1", 0x08, 4}, {"dr2", 0x0c, 4}, {"dr3", 0x10, 4}, {"dr6", 0x14, 4}, {"dr7", 0x18, 4},
	{"gs", 0x8c, 4}, {"fs", 0x90, 4}, {"es", 0x94, 4}, {"ds", 0x98, 4},
	{"edi", 0x9c, 4}, {"esi", 0xa0, 4}, {"ebx", 0xa4, 4}, {"edx", 0xa8, 4}, {"ecx", 0xac, 4}, {"eax", 0xb0, 4},
	{"ebp", 0xb4, 4}, {"eip", 0xb8, 4}, {"cs", 0xbc, 4}, {"efl", 0xc0, 4}, {"esp", 0xc4, 4}, {"ss", 0xc8, 4},
}

var x86Order = []string{"eax", "ebx", "ecx", "edx", "esi", "edi", "eip", "esp", "ebp", "efl", "cs", "ss", "ds", "es", "fs", "gs"}

// ARM64 CONTEXT (winnt.h, ARM64): 0x390 bytes.
var arm64Fields = func() []field {
	f := []field{{"cpsr", 0x04, 4}}
	for i := 0; i <= 28; i++ {
		f = append(f, field{fmt.Sprintf("x%d", i), 0x08 + 8*i, 8})
	}
	return append(f, field{"fp", 0xf0, 8}, field{"lr", 0xf8, 8}, field{"sp", 0x100, 8}, field{"pc", 0x108, 8},
		field{"fpcr", 0x310, 4}, field{"fpsr", 0x314, 4})
}()

var arm64Order = func() []string {
	var o []string
	for i := 0; i <= 28; i++ {
		o = append(o, fmt.Sprintf("x%d", i))
	}
	return append(o, "fp", "lr", "sp", "pc", "cpsr")
}()

func fieldsOf(a Arch) ([]field, int) {
	switch a {
	case ArchX64:
		return x64Fields, 0x30
	case ArchX86:
		return x86Fields, 0
	case ArchARM64:
		return arm64Fields, 0
	}
	return nil, 0
}

// Parse decodes a CONTEXT record of the given architecture. The buffer must
// hold at least the part of the record that holds the integer registers.
func Parse(a Arch, b []byte) (*Context, error) {
	fields, flagsOff := fieldsOf(a)
	if fields == nil {
		return nil, fmt.Errorf("cpuctx: unknown architecture %d", a)
	}
	need := 0
	for _, f := range fields {
		if e := f.off + f.size; e > need {
			need = e
		}
	}
	if len(b) < need {
		return nil, fmt.Errorf("cpuctx: %s context needs %#x bytes, have %#x", a, need, len(b))
	}
	c := &Context{Arch: a, Flags: binary.LittleEndian.Uint32(b[flagsOff:]), regs: make(map[string]uint64, len(fields))}
	for _, f := range fields {
		c.regs[f.name] = readN(b[f.off:], f.size)
	}
	return c, nil
}

// Bytes encodes the context as a full CONTEXT record of its architecture.
// Registers not set are zero.
func (c *Context) Bytes() []byte {
	fields, flagsOff := fieldsOf(c.Arch)
	b := make([]byte, c.Arch.Size())
	if fields == nil {
		return b
	}
	binary.LittleEndian.PutUint32(b[flagsOff:], c.Flags)
	for _, f := range fields {
		writeN(b[f.off:], f.size, c.regs[f.name])
	}
	return b
}

// Full returns the ContextFlags value that marks control, integer and
// segment state valid for the architecture (CONTEXT_FULL | CONTEXT_SEGMENTS
// where it exists).
func Full(a Arch) uint32 {
	switch a {
	case ArchX64:
		return 0x0010001f
	case ArchX86:
		return 0x0001001f
	case ArchARM64:
		return 0x00400007
	}
	return 0
}

func readN(b []byte, n int) uint64 {
	switch n {
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func writeN(b []byte, n int, v uint64) {
	switch n {
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

// TrapFrameX64Size is the size of an x64 KTRAP_FRAME.
const TrapFrameX64Size = 0x190

// x64 KTRAP_FRAME: only the volatile registers, the non-volatile ones the
// kernel chose to save, and the hardware frame are present.
var x64TrapFields = []field{
	{"rax", 0x30, 8}, {"rcx", 0x38, 8}, {"rdx", 0x40, 8}, {"r8", 0x48, 8}, {"r9", 0x50, 8},
	{"r10", 0x58, 8}, {"r11", 0x60, 8},
	{"rbx", 0x140, 8}, {"rdi", 0x148, 8}, {"rsi", 0x150, 8}, {"rbp", 0x158, 8},
	{"rip", 0x168, 8}, {"cs", 0x170, 2}, {"efl", 0x178, 4}, {"rsp", 0x180, 8}, {"ss", 0x188, 2},
}

// ParseTrapFrameX64 decodes an x64 KTRAP_FRAME into a Context holding the
// registers the frame records. FaultAddress (the CR2 value the kernel
// stored for page faults) is returned separately.
func ParseTrapFrameX64(b []byte) (*Context, uint64, error) {
	if len(b) < TrapFrameX64Size {
		return nil, 0, fmt.Errorf("cpuctx: trap frame needs %#x bytes, have %#x", TrapFrameX64Size, len(b))
	}
	c := &Context{Arch: ArchX64, regs: map[string]uint64{}}
	for _, f := range x64TrapFields {
		c.regs[f.name] = readN(b[f.off:], f.size)
	}
	return c, binary.LittleEndian.Uint64(b[0xd0:]), nil
}

// TrapFrameX64Bytes encodes the registers of c into an x64 KTRAP_FRAME; the
// dump writer uses it to build test data.
func TrapFrameX64Bytes(c *Context, faultAddress uint64) []byte {
	b := make([]byte, TrapFrameX64Size)
	for _, f := range x64TrapFields {
		writeN(b[f.off:], f.size, c.regs[f.name])
	}
	binary.LittleEndian.PutUint64(b[0xd0:], faultAddress)
	return b
}

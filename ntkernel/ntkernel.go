// Package ntkernel reads the Windows kernel's own bookkeeping out of a
// crash dump's virtual memory, with or without symbols: the KDDEBUGGER_DATA64
// block, the loaded-module list (PsLoadedModuleList), the process list
// (PsActiveProcessHead) and each processor's current thread — what WinDbg's
// `lm`, `!process 0 0` and `!thread` show.
//
// Structure offsets come from the kernel's PDB when the caller supplies
// it (Symbols, which also decode a debugger data block the kernel left
// encoded), from the debugger data block where it carries them, otherwise
// from the per-build table in package ntoffsets or a scan, and are
// always checked against what the memory holds (the System process has ID
// 4 and is named "System"; an image header carries the timestamp its
// module entry claims). Lists are walked with a bound and a visited set, so
// a corrupt or cyclic list ends the walk with a warning, never a hang.
package ntkernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/bugcheck/bugcheck/cpuctx"
)

// Memory is the kernel's virtual address space as a dump captured it;
// vmem.Space and the page-table translator implement it.
type Memory interface {
	Read(addr uint64, p []byte) (int, error)
}

// MaxListEntries bounds every list walk: no real kernel list is longer.
const MaxListEntries = 1 << 16

// Kernel reads kernel structures from memory. It is not safe for
// concurrent use.
type Kernel struct {
	Mem   Memory
	Arch  cpuctx.Arch
	Build uint32        // Windows build number (the dump header's MinorVersion)
	KDBG  *DebuggerData // nil when the dump has no usable block

	// Header values used where KDBG lacks them or to validate it.
	PsLoadedModuleList  uint64
	PsActiveProcessHead uint64
	Processors          int
	// KernBase is the kernel's image base; when 0 it is taken from KDBG or
	// the loaded-module list.
	KernBase uint64
	// Symbols, when set, give the structure layouts and the kernel's
	// variables (from ntoskrnl's PDB).
	Symbols Symbols

	Warnings []string

	layoutDone bool // the EPROCESS layout is looked up once
	layout     ProcessLayout
	layoutErr  error
	symDone    bool // the symbols' layout is read once
	sym        *symLayout
	symErr     error
}

func (k *Kernel) warnf(format string, args ...any) {
	if len(k.Warnings) < 64 {
		k.Warnings = append(k.Warnings, fmt.Sprintf(format, args...))
	}
}

func (k *Kernel) ptrSize() int { return k.Arch.PointerSize() }

func (k *Kernel) read(addr uint64, n int) ([]byte, error) {
	b := make([]byte, n)
	got, err := k.Mem.Read(addr, b)
	if got == n {
		return b, nil
	}
	if err == nil {
		err = fmt.Errorf("short read at %#x", addr)
	}
	return nil, err
}

// Ptr reads a pointer-sized value.
func (k *Kernel) Ptr(addr uint64) (uint64, error) {
	b, err := k.read(addr, k.ptrSize())
	if err != nil {
		return 0, err
	}
	if k.ptrSize() == 4 {
		return uint64(binary.LittleEndian.Uint32(b)), nil
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (k *Kernel) u32(addr uint64) (uint32, error) {
	b, err := k.read(addr, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// isKernelPtr reports whether v looks like a kernel-space address.
func (k *Kernel) isKernelPtr(v uint64) bool {
	if k.ptrSize() == 4 {
		return v >= 0x80000000 && v <= 0xffffffff
	}
	return v >= 0xffff800000000000
}

// UnicodeString reads a UNICODE_STRING structure at addr; max bounds the
// length it accepts, in bytes.
func (k *Kernel) UnicodeString(addr uint64, max int) (string, error) {
	hdr, err := k.read(addr, 2*k.ptrSize())
	if err != nil {
		return "", err
	}
	n := int(binary.LittleEndian.Uint16(hdr))
	var buf uint64
	if k.ptrSize() == 4 {
		buf = uint64(binary.LittleEndian.Uint32(hdr[4:]))
	} else {
		buf = binary.LittleEndian.Uint64(hdr[8:])
	}
	if n == 0 {
		return "", nil
	}
	if n > max || n%2 != 0 {
		return "", fmt.Errorf("UNICODE_STRING at %#x claims %d bytes", addr, n)
	}
	b, err := k.read(buf, n)
	if err != nil {
		return "", err
	}
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// ErrListLoop reports a list whose links revisit an entry before returning
// to the head.
var ErrListLoop = errors.New("list links loop without returning to the head")

// WalkList follows a LIST_ENTRY list from its head, calling fn with the
// address of each entry's links. It stops at the head, at MaxListEntries,
// at a repeated entry (ErrListLoop), or at a link it cannot read; what was
// visited before an error is kept. A false return from fn stops the walk.
func (k *Kernel) WalkList(head uint64, fn func(entry uint64) bool) error {
	seen := make(map[uint64]bool)
	cur, err := k.Ptr(head)
	if err != nil {
		return fmt.Errorf("list head %#x: %w", head, err)
	}
	for n := 0; cur != head; n++ {
		if n >= MaxListEntries {
			return fmt.Errorf("list at %#x: more than %d entries", head, MaxListEntries)
		}
		if cur == 0 || !k.isKernelPtr(cur) {
			return fmt.Errorf("list at %#x: entry %d links to %#x, not a kernel address", head, n, cur)
		}
		if seen[cur] {
			return fmt.Errorf("list at %#x: entry %#x: %w", head, cur, ErrListLoop)
		}
		seen[cur] = true
		if !fn(cur) {
			return nil
		}
		next, err := k.Ptr(cur)
		if err != nil {
			return fmt.Errorf("list at %#x: entry %#x: %w", head, cur, err)
		}
		cur = next
	}
	return nil
}

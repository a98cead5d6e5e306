package ntkernel

import (
	"errors"
	"fmt"
)

// Symbols is what the kernel's PDB says about the running build: where
// structure members lie and where the kernel's variables are. When a
// Kernel has Symbols, their offsets replace those of the debugger data
// block and of the per-build table (and are checked against memory the
// same way), and they decode a debugger data block that is still encoded.
// The interface keeps this package independent of the PDB reader: package
// pdb's File serves it through a small adapter (see analyze.PDBSymbols).
type Symbols interface {
	// FieldOffset returns the offset of a member within a structure,
	// e.g. ("_EPROCESS", "Pcb.DirectoryTableBase") or ("_KTHREAD",
	// "ApcState.Process").
	FieldOffset(structName, path string) (uint64, error)
	// StructSize returns the size of a structure, e.g. "_EPROCESS".
	StructSize(name string) (uint64, error)
	// GlobalRVA returns the address of a kernel variable, e.g.
	// "KiWaitNever", relative to the kernel's image base.
	GlobalRVA(name string) (uint32, error)
}

// symLayout holds the offsets the kernel's symbols give.
type symLayout struct {
	proc ProcessLayout
	ldr  ldrLayout
	// KTHREAD, ETHREAD and KPRCB members; -1 when the symbols lack one.
	initialStack, stackLimit, kernelStack, apcProcess, cid, prcbThread int
}

// symbolLayout reads the structure layouts from k.Symbols once. Members
// the symbols lack are left to the other sources.
func (k *Kernel) symbolLayout() (*symLayout, error) {
	if k.Symbols == nil {
		return nil, errors.New("no kernel symbols")
	}
	if k.symDone {
		return k.sym, k.symErr
	}
	k.symDone = true
	s := k.Symbols
	var missing []string
	off := func(st, path string) int {
		v, err := s.FieldOffset(st, path)
		if err != nil || v > 1<<16 {
			missing = append(missing, st+"."+path)
			return -1
		}
		return int(v)
	}
	l := &symLayout{}
	l.proc = ProcessLayout{
		Links: off("_EPROCESS", "ActiveProcessLinks"), Name: off("_EPROCESS", "ImageFileName"),
		DTB: off("_EPROCESS", "Pcb.DirectoryTableBase"), Parent: off("_EPROCESS", "InheritedFromUniqueProcessId"),
		Peb: off("_EPROCESS", "Peb"), Source: "kernel symbols",
	}
	if n, err := s.StructSize("_EPROCESS"); err == nil && n <= 1<<16 {
		l.proc.Size = int(n)
	}
	l.ldr = ldrLayout{
		base: off("_KLDR_DATA_TABLE_ENTRY", "DllBase"), entry: off("_KLDR_DATA_TABLE_ENTRY", "EntryPoint"),
		size: off("_KLDR_DATA_TABLE_ENTRY", "SizeOfImage"), full: off("_KLDR_DATA_TABLE_ENTRY", "FullDllName"),
		name: off("_KLDR_DATA_TABLE_ENTRY", "BaseDllName"), checksum: off("_KLDR_DATA_TABLE_ENTRY", "CheckSum"),
	}
	if ts := off("_KLDR_DATA_TABLE_ENTRY", "TimeDateStamp"); ts >= 0 {
		l.ldr.timestamps = []int{ts}
	}
	l.initialStack, l.stackLimit = off("_KTHREAD", "InitialStack"), off("_KTHREAD", "StackLimit")
	l.kernelStack, l.apcProcess = off("_KTHREAD", "KernelStack"), off("_KTHREAD", "ApcState.Process")
	l.cid, l.prcbThread = off("_ETHREAD", "Cid"), off("_KPRCB", "CurrentThread")
	if len(missing) > 0 {
		k.warnf("the kernel symbols lack %d members the lists need (first: %s); other sources fill in", len(missing), missing[0])
	}
	k.sym = l
	return l, nil
}

// procOK reports whether the symbols give a complete EPROCESS layout.
func (l *symLayout) procOK() bool {
	p := l.proc
	return p.Links >= 0 && p.Name >= 0 && p.DTB >= 0 && p.Parent >= 0 && p.Peb >= 0 && p.Size > 0
}

// ldrOK reports whether the symbols give the KLDR_DATA_TABLE_ENTRY
// members the module walk reads.
func (l *symLayout) ldrOK() bool {
	d := l.ldr
	return d.base >= 0 && d.entry >= 0 && d.size >= 0 && d.full >= 0 && d.name >= 0 && d.checksum >= 0
}

// threadOK reports whether the symbols give the thread members.
func (l *symLayout) threadOK() bool {
	return l.initialStack >= 0 && l.stackLimit >= 0 && l.kernelStack >= 0 && l.apcProcess >= 0 && l.prcbThread >= 0
}

// Global returns the address of a kernel variable from the symbols and the
// kernel's image base.
func (k *Kernel) Global(name string) (uint64, error) {
	if k.Symbols == nil {
		return 0, errors.New("no kernel symbols")
	}
	rva, err := k.Symbols.GlobalRVA(name)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	base, err := k.kernelBase()
	if err != nil {
		return 0, err
	}
	return base + uint64(rva), nil
}

// kernelBase returns the kernel's image base: KernBase when set, the
// debugger data block's, or the first entry of the loaded-module list
// (always the kernel itself).
func (k *Kernel) kernelBase() (uint64, error) {
	if k.KernBase != 0 {
		return k.KernBase, nil
	}
	if k.KDBG != nil && k.KDBG.KernBase != 0 {
		return k.KDBG.KernBase, nil
	}
	head := k.moduleHead()
	if head == 0 {
		return 0, errors.New("neither the debugger data block nor the header locates the kernel")
	}
	first, err := k.Ptr(head)
	if err != nil || first == head {
		return 0, fmt.Errorf("the loaded-module list at %#x is empty or unreadable: %v", head, err)
	}
	m, err := k.module(first, k.ldrLayout())
	if err != nil || !k.isKernelPtr(m.Base) {
		return 0, fmt.Errorf("the kernel's module entry at %#x: base %#x, %v", first, m.Base, err)
	}
	k.KernBase = m.Base
	return m.Base, nil
}

// DecodeDebuggerData decodes an encoded KDDEBUGGER_DATA64 block read from
// the kernel's memory with the keys its symbols locate: the values of
// nt!KiWaitNever and nt!KiWaitAlways and the address of
// nt!KdpDataBlockEncoded. A plain block is parsed as it is.
func (k *Kernel) DecodeDebuggerData(raw []byte) (*DebuggerData, error) {
	is64 := k.ptrSize() == 8
	if d, err := ParseDebuggerData(raw, is64); err == nil {
		return d, nil
	}
	if !is64 {
		return nil, errors.New("debugger data block: not tagged \"KDBG\", and only 64-bit kernels encode it")
	}
	var keys [3]uint64
	for i, name := range []string{"KiWaitNever", "KiWaitAlways", "KdpDataBlockEncoded"} {
		addr, err := k.Global(name)
		if err != nil {
			return nil, fmt.Errorf("decoding the debugger data block: %w", err)
		}
		keys[i] = addr
		if i < 2 {
			if keys[i], err = k.Ptr(addr); err != nil {
				return nil, fmt.Errorf("decoding the debugger data block: %s at %#x: %w", name, addr, err)
			}
		}
	}
	d, err := ParseDebuggerData(DecodeDebuggerData(raw, keys[0], keys[1], keys[2]), true)
	if err != nil {
		return nil, fmt.Errorf("the debugger data block does not decode with the kernel's keys: %w", err)
	}
	return d, nil
}

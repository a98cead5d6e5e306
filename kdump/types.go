package kdump

import (
	"fmt"

	"github.com/bugcheck/bugcheck/cpuctx"
)

// DumpType is the DumpType field of the header: what kind of memory the
// body holds.
type DumpType uint32

// Dump types written by Windows and by debuggers (.dump).
const (
	DumpTypeUnknown        DumpType = 0
	DumpTypeFull           DumpType = 1  // complete memory, physical memory runs in the header
	DumpTypeSummary        DumpType = 2  // kernel memory, summary (bitmap) layout
	DumpTypeHeader         DumpType = 3  // header only
	DumpTypeTriage         DumpType = 4  // small memory dump (minidump)
	DumpTypeBitmapFull     DumpType = 5  // complete or automatic memory, bitmap layout
	DumpTypeBitmapKernel   DumpType = 6  // kernel/active memory, bitmap layout (also live kernel dumps)
	DumpTypeAutomatic      DumpType = 7  // automatic memory dump
	DumpTypeKernelMemory   DumpType = 8  // kernel memory written by a debugger (.dump /k)
	DumpTypeKernelUser     DumpType = 9  // kernel and user memory (.dump /ka)
	DumpTypeCompleteMemory DumpType = 10 // complete memory (.dump /f)
	DumpTypeInvalid        DumpType = 0xffffffff
)

var dumpTypeNames = map[DumpType][2]string{
	DumpTypeUnknown:        {"unknown", "unknown dump type"},
	DumpTypeFull:           {"kernel-full", "complete memory dump"},
	DumpTypeSummary:        {"kernel-summary", "kernel memory dump (summary)"},
	DumpTypeHeader:         {"kernel-header", "header-only dump"},
	DumpTypeTriage:         {"kernel-triage", "small memory dump (triage)"},
	DumpTypeBitmapFull:     {"kernel-bitmap-full", "complete memory dump (bitmap)"},
	DumpTypeBitmapKernel:   {"kernel-bitmap-kernel", "kernel memory dump (bitmap)"},
	DumpTypeAutomatic:      {"kernel-automatic", "automatic memory dump"},
	DumpTypeKernelMemory:   {"kernel-memory", "kernel memory dump (debugger)"},
	DumpTypeKernelUser:     {"kernel-user-memory", "kernel and user memory dump (debugger)"},
	DumpTypeCompleteMemory: {"kernel-complete-memory", "complete memory dump (debugger)"},
	DumpTypeInvalid:        {"invalid", "invalid dump"},
}

// Format returns the short machine-readable name used in JSON output, such
// as "kernel-triage".
func (t DumpType) Format() string {
	if n, ok := dumpTypeNames[t]; ok {
		return n[0]
	}
	return fmt.Sprintf("kernel-type-%d", uint32(t))
}

// String returns a human name such as "small memory dump (triage)".
func (t DumpType) String() string {
	if n, ok := dumpTypeNames[t]; ok {
		return n[1]
	}
	return fmt.Sprintf("dump type %d", uint32(t))
}

// Machine image types found in MachineImageType.
const (
	MachineI386  = 0x014c
	MachineAMD64 = 0x8664
	MachineARM64 = 0xaa64
)

// ArchOf maps a MachineImageType to an architecture.
func ArchOf(machine uint32) cpuctx.Arch {
	switch machine {
	case MachineI386:
		return cpuctx.ArchX86
	case MachineAMD64:
		return cpuctx.ArchX64
	case MachineARM64:
		return cpuctx.ArchARM64
	}
	return cpuctx.ArchUnknown
}

// fill is the value Windows pre-fills the header with ("PAGE"); a field that
// still holds it was never written.
const fill = 0x45474150

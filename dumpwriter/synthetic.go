package dumpwriter

import (
	"encoding/binary"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/kdump"
)

// Stamp returns the 16 bytes that StampedBitmap writes at the start of page
// pfn: the PFN, then "bugcheck".
func Stamp(pfn uint64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, pfn)
	copy(b[8:], "bugcheck")
	return b
}

// StampedBitmap describes a bitmap dump (DumpType 5) of a machine with ram
// bytes of memory, every page of it captured, for benchmarks: every
// stride-th page starts with Stamp(pfn) and the others are zero. Written
// with WriteSparse, only the stamped pages take disk space, so a dump of a
// 32 GB machine costs a few megabytes of disk.
func StampedBitmap(arch cpuctx.Arch, ram, stride uint64) *MemoryDump {
	return &MemoryDump{
		Header: Header{
			Arch: arch, Build: 19041, Processors: 8, BugCheck: 0x50,
			DirectoryTableBase: 0x1ad000,
		},
		Layout: LayoutBitmap,
		Runs:   []kdump.PhysicalMemoryRun{{BasePage: 0, PageCount: ram / PageSize}},
		PageFunc: func(pfn uint64) []byte {
			if stride == 0 || pfn%stride != 0 {
				return nil
			}
			return Stamp(pfn)
		},
	}
}

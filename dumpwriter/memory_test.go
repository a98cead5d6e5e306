package dumpwriter_test

import (
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/kdump"
)

func TestMemoryDumpErrors(t *testing.T) {
	many := func(n int) []kdump.PhysicalMemoryRun {
		r := make([]kdump.PhysicalMemoryRun, n)
		for i := range r {
			r[i] = kdump.PhysicalMemoryRun{BasePage: uint64(2 * i), PageCount: 1}
		}
		return r
	}
	cases := []struct {
		name string
		d    dumpwriter.MemoryDump
		msg  string
	}{
		{"no architecture", dumpwriter.MemoryDump{Layout: dumpwriter.LayoutFull}, "unknown architecture"},
		{"no layout", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX64}}, "without a layout"},
		{"overlap", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX64}, Layout: dumpwriter.LayoutFull,
			Runs: []kdump.PhysicalMemoryRun{{BasePage: 10, PageCount: 10}, {BasePage: 15, PageCount: 1}}}, "overlap"},
		{"page outside the runs", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX64}, Layout: dumpwriter.LayoutBitmap,
			Runs: many(2), Pages: map[uint64][]byte{1: {1}}}, "in no run"},
		{"page too large", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX64}, Layout: dumpwriter.LayoutBitmap,
			Pages: map[uint64][]byte{1: make([]byte, 4097)}}, "4097 bytes"},
		{"43 runs in a 64-bit full dump", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX64}, Layout: dumpwriter.LayoutFull, Runs: many(43)}, "at most 42"},
		{"87 runs in a 32-bit full dump", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX86}, Layout: dumpwriter.LayoutFull, Runs: many(87)}, "at most 86"},
		{"32-bit PFN overflow", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX86}, Layout: dumpwriter.LayoutFull,
			Runs: []kdump.PhysicalMemoryRun{{BasePage: 1<<32 - 1, PageCount: 2}}}, "32-bit"},
		{"run past 2^64", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX64}, Layout: dumpwriter.LayoutFull,
			Runs: []kdump.PhysicalMemoryRun{{BasePage: 1 << 51, PageCount: 1<<51 + 1}}}, "physical address space"},
		{"bitmap too small", dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: cpuctx.ArchX64}, Layout: dumpwriter.LayoutBitmap,
			Runs: many(3), BitmapSize: 4}, "cannot hold page 0x4"},
	}
	for _, c := range cases {
		if _, err := c.d.Bytes(); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %q", c.name, err, c.msg)
		}
	}
}

// TestMemoryDumpLayout checks sizes and the fields that place the pages.
func TestMemoryDumpLayout(t *testing.T) {
	runs := []kdump.PhysicalMemoryRun{{BasePage: 0x10, PageCount: 3}, {BasePage: 1, PageCount: 2}}
	le := binary.LittleEndian
	cases := []struct {
		name     string
		arch     cpuctx.Arch
		layout   dumpwriter.Layout
		size     int
		first    int // file offset of the first page
		firstPFN uint64
	}{
		{"x64 full", cpuctx.ArchX64, dumpwriter.LayoutFull, 0x2000 + 5*0x1000, 0x2000, 0x10},
		{"x86 full", cpuctx.ArchX86, dumpwriter.LayoutFull, 0x1000 + 5*0x1000, 0x1000, 0x10},
		{"x64 bitmap", cpuctx.ArchX64, dumpwriter.LayoutBitmap, 0x3000 + 5*0x1000, 0x3000, 1},
		{"x86 bitmap", cpuctx.ArchX86, dumpwriter.LayoutBitmap, 0x2000 + 5*0x1000, 0x2000, 1},
	}
	for _, c := range cases {
		d := &dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: c.arch}, Layout: c.layout, Runs: runs,
			Pages: map[uint64][]byte{1: []byte("one"), 0x10: []byte("sixteen")}}
		b, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != c.size {
			t.Errorf("%s: %#x bytes, want %#x", c.name, len(b), c.size)
		}
		want := map[uint64]string{1: "one", 0x10: "sixteen"}[c.firstPFN]
		if got := string(b[c.first : c.first+len(want)]); got != want {
			t.Errorf("%s: first page holds %q, want %q", c.name, got, want)
		}
		required := le.Uint64(b[0xfa0:])
		if required != uint64(len(b)) {
			t.Errorf("%s: RequiredDumpSpace %#x", c.name, required)
		}
		if c.layout == dumpwriter.LayoutBitmap {
			blk := 0x2000
			if c.arch == cpuctx.ArchX86 {
				blk = 0x1000
			}
			if string(b[blk:blk+8]) != "FDMPDUMP" || le.Uint64(b[blk+0x20:]) != uint64(c.first) ||
				le.Uint64(b[blk+0x28:]) != 5 || le.Uint64(b[blk+0x30:]) != 0x13 || b[blk+0x38] != 0x06 || b[blk+0x3a] != 0x07 {
				t.Errorf("%s: bitmap block % x", c.name, b[blk:blk+0x3b])
			}
		}
	}
}

// BenchmarkWriteTo streams a bitmap dump of a 32 GB machine that captured
// 512 MiB (a kernel dump), one page in 16 holding data.
func BenchmarkWriteTo(b *testing.B) {
	var runs []kdump.PhysicalMemoryRun
	for i := range uint64(64) {
		runs = append(runs, kdump.PhysicalMemoryRun{BasePage: i * 0x20000, PageCount: 2048})
	}
	d := &dumpwriter.MemoryDump{
		Header: dumpwriter.Header{Arch: cpuctx.ArchX64},
		Layout: dumpwriter.LayoutBitmap, DumpType: kdump.DumpTypeBitmapKernel,
		Runs: runs, BitmapSize: 32 << 30 >> 12,
		PageFunc: func(pfn uint64) []byte {
			if pfn%16 != 0 {
				return nil
			}
			return dumpwriter.Stamp(pfn)
		},
	}
	size, err := d.Size()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		if n, err := d.WriteTo(io.Discard); err != nil || n != size {
			b.Fatal(n, err)
		}
	}
}

package kdump_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/physmem"
)

func TestCorpusTriageX64(t *testing.T) {
	f, err := kdump.Open(corpus.Path(t, "dumps", "triage_x64.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Header
	checks := []struct {
		name      string
		got, want any
	}{
		{"signature", h.Signature, "PAGEDU64"},
		{"major", h.MajorVersion, uint32(0xf)},
		{"build", h.MinorVersion, uint32(19041)},
		{"machine", h.MachineImageType, uint32(0x8664)},
		{"arch", f.Arch, cpuctx.ArchX64},
		{"processors", h.NumberProcessors, uint32(16)},
		{"bugcheck", h.BugCheckCode, uint32(0x1000007e)},
		{"p1", h.BugCheckParameters[0], uint64(0xffffffffc0000005)},
		{"p2", h.BugCheckParameters[1], uint64(0xfffff8048b58334c)},
		{"p3", h.BugCheckParameters[2], uint64(0xffff850429891ee8)},
		{"p4", h.BugCheckParameters[3], uint64(0xffff850429891720)},
		{"dumptype", h.DumpType, kdump.DumpTypeTriage},
		{"format", h.DumpType.Format(), "kernel-triage"},
		{"time", h.SystemTime.Truncate(time.Second), time.Date(2021, 2, 21, 1, 38, 22, 0, time.UTC)},
		{"uptime", h.SystemUpTime.Round(100 * time.Millisecond), 3700 * time.Millisecond},
		{"dtb", h.DirectoryTableBase, uint64(0x1ad000)},
		{"psloaded", h.PsLoadedModuleList, uint64(0xfffff8047c62a390)},
		{"psactive", h.PsActiveProcessHead, uint64(0xfffff8047c61e200)},
		{"kdbg", h.KdDebuggerDataBlock, uint64(0xfffff8047c600b20)},
		{"product", h.ProductType, uint32(1)},
		{"suite", h.SuiteMask, uint32(0x110)},
		{"physmem", h.PhysicalMemory == nil, true},
		{"comment", h.Comment, ""},
		{"header exception", h.Exception.Code, uint32(0x80000003)},
		{"drivers", len(f.Triage.Drivers), 151},
		{"first driver", f.Triage.Drivers[0].Name, `\SystemRoot\system32\ntoskrnl.exe`},
		{"nt base", f.Triage.Drivers[0].Base, uint64(0xfffff8047ba00000)},
		{"nt size", f.Triage.Drivers[0].Size, uint32(0x1046000)},
		{"valid", f.Triage.Valid, true},
		{"unloaded", len(f.Triage.Unloaded), 4},
		{"unloaded[0]", f.Triage.Unloaded[0].Name, "dam.sys"},
		{"blocks", len(f.Triage.DataBlocks), 1831},
		{"top of stack", f.Triage.TopOfStack, uint64(0xffff850429890ee8)},
		{"stack size", f.Triage.SizeOfCallStack, uint32(0x2118)},
		{"kdbg tag", f.Debugger.OwnerTag, "KDBG"},
		{"kernbase", f.Debugger.KernBase, uint64(0xfffff8047ba00000)},
		{"kdbg list", f.Debugger.PsLoadedModuleList, h.PsLoadedModuleList},
		{"current thread", f.CurrentThread(), uint64(0xffffc08bde9e1640)},
		{"blobs", len(f.Blobs), 20},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	var amd *kdump.Driver
	for i := range f.Triage.Drivers {
		if f.Triage.Drivers[i].BaseName() == "amdppm.sys" {
			amd = &f.Triage.Drivers[i]
		}
	}
	if amd == nil {
		t.Fatal("amdppm.sys not in the driver list")
	}
	if amd.Base != 0xfffff8048b580000 || amd.Size != 0x3b000 || amd.Timestamp != 0xc9c03000 {
		t.Errorf("amdppm.sys = base %#x size %#x ts %#x", amd.Base, amd.Size, amd.Timestamp)
	}
	if !amd.Contains(0xfffff8048b58334c) {
		t.Error("fault address not inside amdppm.sys")
	}

	// Memory: the exception record (P3) and context (P4) live on the captured stack.
	m := f.Memory()
	exr, err := m.Bytes(h.BugCheckParameters[2], kdump.ExceptionRecordSize64)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := kdump.ParseExceptionRecord(exr, true)
	if e.Code != 0xc0000005 || e.Address != 0xfffff8048b58334c || len(e.Params()) != 2 || e.Params()[0] != 1 || e.Params()[1] != ^uint64(0) {
		t.Errorf("exception record = %+v", e)
	}
	cb, err := m.Bytes(h.BugCheckParameters[3], cpuctx.SizeX64)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cpuctx.Parse(cpuctx.ArchX64, cb)
	if err != nil {
		t.Fatal(err)
	}
	if c.PC() != 0xfffff8048b58334c || c.SP() != 0xffff850429892120 {
		t.Errorf("context rip %#x rsp %#x", c.PC(), c.SP())
	}
	// The code page of the faulting instruction is captured.
	code, err := m.Bytes(0xfffff8048b58334c, 4)
	if err != nil || !bytes.Equal(code, []byte{0x43, 0x89, 0x14, 0x01}) {
		t.Errorf("code at fault = %x, %v", code, err)
	}
	if _, err := m.Bytes(0x1000, 1); err == nil {
		t.Error("reading an uncaptured address succeeded")
	}
}

func TestUserModeMinidumpIsRejected(t *testing.T) {
	_, err := kdump.Open(corpus.Path(t, "dumps", "calc_usermode.dmp"))
	var fe *kdump.FormatError
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "user-mode minidump") || fe.File != "calc_usermode.dmp" {
		t.Fatalf("err = %v", err)
	}
}

// sampleTriage describes a small dump for each architecture.
func sampleTriage(arch cpuctx.Arch) *dumpwriter.Triage {
	base, stackTop := uint64(0xfffff80270a00000), uint64(0xfffff8027a55d000)
	if arch == cpuctx.ArchX86 {
		base, stackTop = 0x82a00000, 0x8a55d000
	}
	ctx := &cpuctx.Context{Arch: arch, Flags: cpuctx.Full(arch)}
	switch arch {
	case cpuctx.ArchX64:
		ctx.Set("rip", base+0x1234)
		ctx.Set("rsp", stackTop)
	case cpuctx.ArchX86:
		ctx.Set("eip", base+0x1234)
		ctx.Set("esp", stackTop)
	case cpuctx.ArchARM64:
		ctx.Set("pc", base+0x1234)
		ctx.Set("sp", stackTop)
		ctx.Set("x3", 0x33)
	}
	stack := make([]byte, 0x100)
	stack[8] = 0xaa
	return &dumpwriter.Triage{
		Header: dumpwriter.Header{
			Arch: arch, Build: 22621, Processors: 4, BugCheck: 0xd1,
			Params:              [4]uint64{0x10, 2, 0, base + 0x1234},
			Time:                time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
			Uptime:              90 * time.Second,
			Context:             ctx,
			KdDebuggerDataBlock: base + 0x80000,
		},
		Modules: []dumpwriter.Module{
			{Path: `\SystemRoot\system32\ntoskrnl.exe`, Base: base, Size: 0x100000, Timestamp: 1, Checksum: 2},
			{Path: `\SystemRoot\System32\drivers\x.sys`, Base: base + 0x200000, Size: 0x5000, Timestamp: 3, Checksum: 4},
		},
		Unloaded:     []dumpwriter.Unloaded{{Name: "averyveryverylongname.sys", Start: base + 0x300000, End: base + 0x310000}},
		TopOfStack:   stackTop,
		Stack:        stack,
		Prcb:         make([]byte, 0x100),
		DebuggerData: append(append(make([]byte, 0x10), "KDBG"...), make([]byte, 0x80)...),
		Blocks:       []dumpwriter.Block{{Addr: base + 0x1000, Data: []byte{0x90, 0x90, 0xc3}}},
	}
}

func TestWriterRoundTrip(t *testing.T) {
	for _, arch := range []cpuctx.Arch{cpuctx.ArchX64, cpuctx.ArchX86, cpuctx.ArchARM64} {
		t.Run(arch.String(), func(t *testing.T) {
			d := sampleTriage(arch)
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			f, err := kdump.NewFile(bytes.NewReader(b), int64(len(b)), "gen.dmp")
			if err != nil {
				t.Fatal(err)
			}
			h := f.Header
			if f.Arch != arch || h.MinorVersion != 22621 || h.BugCheckCode != 0xd1 || h.NumberProcessors != 4 {
				t.Errorf("header: arch %v build %d code %#x cpus %d", f.Arch, h.MinorVersion, h.BugCheckCode, h.NumberProcessors)
			}
			if h.BugCheckParameters != d.Params || !h.SystemTime.Equal(d.Time) || h.SystemUpTime != d.Uptime {
				t.Errorf("params %x time %v uptime %v", h.BugCheckParameters, h.SystemTime, h.SystemUpTime)
			}
			if h.Is64 != (arch != cpuctx.ArchX86) {
				t.Errorf("Is64 = %v", h.Is64)
			}
			tr := f.Triage
			if len(tr.Drivers) != 2 || tr.Drivers[1].Name != `\SystemRoot\System32\drivers\x.sys` || tr.Drivers[1].Base != d.Modules[1].Base ||
				tr.Drivers[1].Size != 0x5000 || tr.Drivers[1].Timestamp != 3 || tr.Drivers[1].Checksum != 4 {
				t.Errorf("drivers = %+v", tr.Drivers)
			}
			if len(tr.Unloaded) != 1 || tr.Unloaded[0].Name != "averyveryver" || tr.Unloaded[0].Start != d.Unloaded[0].Start {
				t.Errorf("unloaded = %+v", tr.Unloaded)
			}
			if !tr.Valid {
				t.Error("not marked valid")
			}
			c, err := f.Context()
			if err != nil || c.PC() != d.Modules[0].Base+0x1234 || c.SP() != d.TopOfStack {
				t.Errorf("context pc %#x sp %#x err %v", c.PC(), c.SP(), err)
			}
			if arch == cpuctx.ArchARM64 {
				if v, _ := c.Reg("w3"); v != 0x33 {
					t.Errorf("w3 = %#x", v)
				}
			}
			m := f.Memory()
			if v, err := m.Bytes(d.TopOfStack+8, 1); err != nil || v[0] != 0xaa {
				t.Errorf("stack byte = %v %v", v, err)
			}
			if v, err := m.Bytes(d.Modules[0].Base+0x1000, 3); err != nil || v[2] != 0xc3 {
				t.Errorf("block = %v %v", v, err)
			}
			if f.Debugger == nil || !f.Debugger.Valid {
				t.Error("debugger data not found")
			}
		})
	}
}

func TestNoValidMarkerWarns(t *testing.T) {
	d := sampleTriage(cpuctx.ArchX64)
	d.OmitValidMarker = true
	b, _ := d.Bytes()
	f, err := kdump.NewFile(bytes.NewReader(b), int64(len(b)), "x.dmp")
	if err != nil {
		t.Fatal(err)
	}
	if f.Triage.Valid || len(f.Warnings) == 0 || !strings.Contains(f.Warnings[0], "valid marker") {
		t.Errorf("valid %v warnings %q", f.Triage.Valid, f.Warnings)
	}
}

// TestHostile corrupts generated dumps and checks each gives a FormatError
// naming the file and the offset of the bad field.
func TestHostile(t *testing.T) {
	good, err := sampleTriage(cpuctx.ArchX64).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	good32, _ := sampleTriage(cpuctx.ArchX86).Bytes()
	const tri = 0x2000
	patch := func(src []byte, off int, v uint32) []byte {
		b := append([]byte(nil), src...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	cases := []struct {
		name    string
		data    []byte
		wantOff int64
		wantMsg string
	}{
		{"empty", nil, 0, "too short"},
		{"not a dump", []byte("MZ\x90\x00 this is a PE file, not a dump"), 0, "not a Windows kernel crash dump"},
		{"header cut", good[:0x1000], 0x1000, "ends inside the 64-bit dump header"},
		{"header32 cut", good32[:0x800], 0x800, "ends inside the 32-bit dump header"},
		{"unknown machine", patch(good, 0x30, 0x1234), 0x30, "unknown machine type"},
		{"32-bit machine in 64-bit header", patch(good, 0x30, kdump.MachineI386), 0x30, "32-bit machine"},
		{"truncated body", good[:tri+0x100], tri + 4, "truncated"},
		{"huge driver count", patch(good, tri+0x34, 0xffffffff), tri + 0x30, "driver list"},
		{"stack past end", patch(good, tri+0x2c, 0x7fffffff), tri + 0x28, "captured stack"},
		{"huge block count", patch(good, tri+0x7c, 0x10000000), tri + 0x78, "data block table"},
		{"string pool past end", patch(good, tri+0x3c, 0x7ffffff0), tri + 0x38, "string pool"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := kdump.NewFile(bytes.NewReader(c.data), int64(len(c.data)), "bad.dmp")
			var fe *kdump.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FormatError", err)
			}
			if fe.File != "bad.dmp" || fe.Offset != c.wantOff || !strings.Contains(fe.Msg, c.wantMsg) {
				t.Errorf("err = %v (offset %#x), want offset %#x and %q", err, fe.Offset, c.wantOff, c.wantMsg)
			}
		})
	}
}

// TestTruncatedEverywhere cuts the sample at many lengths: every cut must
// give an error or a parse, never a panic.
func TestTruncatedEverywhere(t *testing.T) {
	good, _ := sampleTriage(cpuctx.ArchX64).Bytes()
	for n := 0; n < len(good); n += 97 {
		b := good[:n]
		if _, err := kdump.NewFile(bytes.NewReader(b), int64(n), "cut.dmp"); err == nil && n < len(good)-4 {
			t.Errorf("cut at %#x parsed without error", n)
		}
	}
}

func TestBadDriverNameOffset(t *testing.T) {
	d := sampleTriage(cpuctx.ArchX64)
	b, _ := d.Bytes()
	drv := binary.LittleEndian.Uint32(b[0x2000+0x30:])
	binary.LittleEndian.PutUint32(b[drv:], uint32(len(b)+100))
	_, err := kdump.NewFile(bytes.NewReader(b), int64(len(b)), "n.dmp")
	var fe *kdump.FormatError
	if !errors.As(err, &fe) || fe.Offset != int64(drv) || !strings.Contains(fe.Msg, "driver name offset") {
		t.Fatalf("err = %v", err)
	}
	// A name that claims more characters than the file holds.
	b, _ = d.Bytes()
	name := binary.LittleEndian.Uint32(b[drv:])
	binary.LittleEndian.PutUint32(b[name:], 0x7fffffff)
	_, err = kdump.NewFile(bytes.NewReader(b), int64(len(b)), "n.dmp")
	if !errors.As(err, &fe) || fe.Offset != int64(name) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzNewFile(f *testing.F) {
	for _, arch := range []cpuctx.Arch{cpuctx.ArchX64, cpuctx.ArchX86, cpuctx.ArchARM64} {
		b, _ := sampleTriage(arch).Bytes()
		f.Add(b)
	}
	// Small full and bitmap dumps, cut after their first stored page.
	for _, arch := range []cpuctx.Arch{cpuctx.ArchX64, cpuctx.ArchX86} {
		for _, layout := range []dumpwriter.Layout{dumpwriter.LayoutFull, dumpwriter.LayoutBitmap} {
			// The kernel pointers make the paging-mode check walk the
			// (garbage) tables at page 1.
			d := &dumpwriter.MemoryDump{Header: dumpwriter.Header{Arch: arch, DirectoryTableBase: 0x1000,
				KdDebuggerDataBlock: 0xfffff80270a00000, PsLoadedModuleList: 0xfffff80271000000},
				Layout: layout, PAE: true,
				Runs:  []kdump.PhysicalMemoryRun{{BasePage: 1, PageCount: 2}, {BasePage: 9, PageCount: 1}},
				Pages: map[uint64][]byte{1: []byte("page one"), 9: []byte("page nine")}}
			b, err := d.Bytes()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b[:len(b)-2*dumpwriter.PageSize])
		}
	}
	if root, ok := corpus.Root(); ok {
		// The real dump is too large for the fuzzer to mutate quickly; seed
		// with its header and triage block (the rest of the fields are then
		// reached through the generated seeds).
		if b, err := os.ReadFile(root + "/dumps/triage_x64.dmp"); err == nil && len(b) > 0x2080 {
			f.Add(b[:0x2080])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := kdump.NewFile(bytes.NewReader(data), int64(len(data)), "fuzz.dmp")
		if err != nil {
			var fe *kdump.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a FormatError: %v", err)
			}
			return
		}
		// Exercise the memory view too.
		m := file.Memory()
		for _, r := range m.Regions() {
			buf := make([]byte, min(r.Size, 64))
			m.Read(r.Addr, buf)
		}
		file.Context()
		file.CurrentThread()
		// And the physical memory of full and bitmap dumps.
		if m := file.Physical(); m != nil {
			var n uint64
			for r := range m.Pages() {
				n += r.Count
			}
			if n != m.PageCount() || m.PageCount() > m.ClaimedPages() {
				t.Fatalf("Pages() holds %d pages, PageCount %d, ClaimedPages %d", n, m.PageCount(), m.ClaimedPages())
			}
			readAll(t, m)
			buf := make([]byte, 16)
			for _, pa := range []int64{0, 0x1ff8, 0x9000, -1, 1<<63 - 8} {
				_, err := m.ReadAt(buf, pa)
				var nd *physmem.NotInDumpError
				var te *physmem.TruncatedError
				if err != nil && !errors.As(err, &nd) && !errors.As(err, &te) {
					t.Fatalf("read at %#x: %v", pa, err)
				}
			}
		}
	})
}

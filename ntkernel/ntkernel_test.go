package ntkernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/vmem"
)

// sparse is a test address space of 4 KiB pages that exist once written.
type sparse struct {
	pages map[uint64][]byte
	ptr   int
}

func newSparse(ptr int) *sparse { return &sparse{pages: map[uint64][]byte{}, ptr: ptr} }

func (m *sparse) Read(addr uint64, p []byte) (int, error) {
	for n := 0; n < len(p); {
		pg, ok := m.pages[(addr+uint64(n))&^0xfff]
		if !ok {
			return n, &vmem.NotPresentError{Addr: addr + uint64(n)}
		}
		n += copy(p[n:], pg[(addr+uint64(n))&0xfff:])
	}
	return len(p), nil
}

func (m *sparse) write(addr uint64, b []byte) {
	for n := 0; n < len(b); {
		a := addr + uint64(n)
		pg, ok := m.pages[a&^0xfff]
		if !ok {
			pg = make([]byte, 0x1000)
			m.pages[a&^0xfff] = pg
		}
		n += copy(pg[a&0xfff:], b[n:])
	}
}

func (m *sparse) ptrAt(addr, v uint64) {
	b := make([]byte, m.ptr)
	if m.ptr == 4 {
		binary.LittleEndian.PutUint32(b, uint32(v))
	} else {
		binary.LittleEndian.PutUint64(b, v)
	}
	m.write(addr, b)
}

func (m *sparse) u32At(addr uint64, v uint32) {
	m.write(addr, binary.LittleEndian.AppendUint32(nil, v))
}

// ustr writes a UNICODE_STRING at addr whose characters live at buf.
func (m *sparse) ustr(addr, buf uint64, s string) {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	m.write(buf, b)
	m.write(addr, binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, uint16(len(b))), uint16(len(b))))
	if m.ptr == 4 {
		m.ptrAt(addr+4, buf)
	} else {
		m.ptrAt(addr+8, buf)
	}
}

// link makes a circular LIST_ENTRY list of head and entries.
func (m *sparse) link(head uint64, entries ...uint64) {
	all := append([]uint64{head}, entries...)
	for i, e := range all {
		m.ptrAt(e, all[(i+1)%len(all)])
		m.ptrAt(e+uint64(m.ptr), all[(i+len(all)-1)%len(all)])
	}
}

// peHeader writes a minimal MZ/PE header with a timestamp at base.
func (m *sparse) peHeader(base uint64, ts uint32) {
	m.write(base, []byte("MZ"))
	m.u32At(base+0x3c, 0x80)
	m.write(base+0x80, []byte("PE\x00\x00"))
	m.u32At(base+0x88, ts)
}

type synthModule struct {
	name      string
	base      uint64
	size, ts  uint32
	hasHeader bool
}

// kdbg64 returns a plain KDDEBUGGER_DATA64 with the 19041 x64 layout.
func kdbg64(loaded, active, procBlock uint64) []byte {
	b := make([]byte, 0x380)
	copy(b[0x10:], "KDBG")
	binary.LittleEndian.PutUint32(b[0x14:], 0x380)
	le := binary.LittleEndian
	le.PutUint64(b[0x18:], 0xfffff8047ba00000)
	le.PutUint64(b[0x48:], loaded)
	le.PutUint64(b[0x50:], active)
	le.PutUint64(b[0x218:], procBlock)
	for off, v := range map[int]uint16{0x29c: 0x58, 0x29e: 0x28, 0x2a0: 0xb8, 0x2a8: 0xa40, 0x2aa: 0x550, 0x2ac: 0x540, 0x2ae: 0x28, 0x2b0: 0xaf00, 0x2b4: 0x8, 0x2c0: 0x898} {
		le.PutUint16(b[off:], v)
	}
	return b
}

// machine builds a synthetic 64-bit kernel: three modules, three processes
// and two processors, with the 19041 layout.
func machine(t *testing.T) (*sparse, *Kernel) {
	t.Helper()
	m := newSparse(8)
	const (
		loaded    = 0xfffff8047c62a390
		active    = 0xfffff8047c61e200
		procBlock = 0xfffff8047c6fdc80
	)
	mods := []synthModule{
		{"ntoskrnl.exe", 0xfffff8047ba00000, 0x1046000, 0xd8333e6, true},
		{"hal.dll", 0xfffff8047b900000, 0x10000, 0x11223344, false},
		{"amdppm.sys", 0xfffff8048b580000, 0x3b000, 0xc9c03000, true},
	}
	var entries []uint64
	for i, md := range mods {
		e := uint64(0xffffc08bdc000000) + uint64(i)*0x1000
		entries = append(entries, e)
		m.ptrAt(e+0x30, md.base)
		m.ptrAt(e+0x38, md.base+0x1000)
		m.u32At(e+0x40, md.size)
		m.ustr(e+0x48, e+0x200, `\SystemRoot\system32\`+md.name)
		m.ustr(e+0x58, e+0x400, md.name)
		m.u32At(e+0x9c, md.ts)
		m.u32At(e+0x80, 0xdeadbeef) // the Windows 7 slot holds something else
		if md.hasHeader {
			m.peHeader(md.base, md.ts)
		}
	}
	m.link(loaded, entries...)

	procs := []struct {
		name        string
		pid, parent uint64
	}{{"System", 4, 0}, {"Registry", 0x68, 4}, {"smss.exe", 0x1a8, 4}, {"csrss.exe", 0x204, 0x1f8}}
	var links []uint64
	for i, p := range procs {
		base := uint64(0xffffc08bdcf0f040) + uint64(i)*0x10000
		links = append(links, base+0x448)
		m.ptrAt(base+0x440, p.pid)
		m.write(base+0x5a8, append([]byte(p.name), 0))
		m.ptrAt(base+0x540, p.parent)
		m.ptrAt(base+0x28, 0x1ad000+uint64(i)*0x1000)
		if i > 1 {
			m.ptrAt(base+0x550, 0x7ff000000000+uint64(i)*0x1000)
		}
		m.write(base+0xa38, make([]byte, 8)) // the whole EPROCESS is present
	}
	m.link(active, links...)

	for cpu := 0; cpu < 2; cpu++ {
		prcb := uint64(0xfffff80479e00180) + uint64(cpu)*0x10000
		th := uint64(0xffffc08bde9e1000) + uint64(cpu)*0x1000
		m.ptrAt(procBlock+uint64(cpu)*8, prcb)
		m.ptrAt(prcb+0x8, th)
		proc := uint64(0xffffc08bdcf0f040) + uint64(cpu)*0x20000 // System, then smss.exe
		m.ptrAt(th+0xb8, proc)
		m.ptrAt(th+0x28, 0xffff850429893000+uint64(cpu)*0x100000)
		m.ptrAt(th+0x30, 0xffff85042988d000+uint64(cpu)*0x100000)
		m.ptrAt(th+0x58, 0xffff850429892000+uint64(cpu)*0x100000)
		pid := []uint64{4, 0x1a8}[cpu]
		m.ptrAt(th+0x478, pid)
		m.ptrAt(th+0x480, 0x108+uint64(cpu)*4)
		m.write(th+0x890, make([]byte, 8))
	}
	d, err := ParseDebuggerData(kdbg64(loaded, active, procBlock), true)
	if err != nil {
		t.Fatal(err)
	}
	return m, &Kernel{Mem: m, Arch: cpuctx.ArchX64, Build: 19041, KDBG: d, Processors: 2}
}

func TestModules(t *testing.T) {
	_, k := machine(t)
	mods, err := k.Modules()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		base uint64
		size uint32
		ts   uint32
	}{
		{"ntoskrnl.exe", 0xfffff8047ba00000, 0x1046000, 0xd8333e6},
		{"hal.dll", 0xfffff8047b900000, 0x10000, 0x11223344},
		{"amdppm.sys", 0xfffff8048b580000, 0x3b000, 0xc9c03000},
	}
	if len(mods) != len(want) {
		t.Fatalf("%d modules, want %d", len(mods), len(want))
	}
	for i, w := range want {
		m := mods[i]
		if m.Name != w.name || m.Base != w.base || m.Size != w.size || m.Timestamp != w.ts || m.Path != `\SystemRoot\system32\`+w.name || m.EntryPoint != w.base+0x1000 {
			t.Errorf("module %d = %+v, want %+v", i, m, w)
		}
	}
}

func TestProcessesAndThreads(t *testing.T) {
	for _, build := range []uint32{19041, 99999} { // from the table, and by scanning
		t.Run(fmt.Sprint("build", build), func(t *testing.T) {
			_, k := machine(t)
			k.Build = build
			ps, err := k.Processes()
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, p := range ps {
				got = append(got, p.Name)
			}
			if strings.Join(got, ",") != "System,Registry,smss.exe,csrss.exe" {
				t.Fatalf("processes %v", got)
			}
			if ps[0].PID != 4 || ps[0].DTB != 0x1ad000 || ps[2].PID != 0x1a8 || ps[2].ParentPID != 4 || ps[2].Peb != 0x7ff000002000 || ps[3].ParentPID != 0x1f8 || ps[1].Address != 0xffffc08bdcf1f040 {
				t.Errorf("process fields %+v", ps)
			}
			lay, _ := k.ProcessLayout()
			if lay.Links != 0x448 || lay.Name != 0x5a8 {
				t.Errorf("layout %+v", lay)
			}
			th, err := k.CurrentThreads()
			if err != nil {
				t.Fatal(err)
			}
			if len(th) != 2 || th[0].TID != 0x108 || th[0].PID != 4 || th[1].TID != 0x10c || th[1].PID != 0x1a8 || th[1].Process != 0xffffc08bdcf2f040 {
				t.Fatalf("threads %+v", th)
			}
			if !th[0].ContainsStack(0xffff850429890ee8) || th[1].ContainsStack(0xffff850429890ee8) {
				t.Errorf("stack ranges %+v", th)
			}
		})
	}
}

func TestHostileLists(t *testing.T) {
	t.Run("cycle", func(t *testing.T) {
		m, k := machine(t)
		// The third module links back to the second instead of the head.
		m.ptrAt(0xffffc08bdc002000, 0xffffc08bdc001000)
		mods, err := k.Modules()
		if !errors.Is(err, ErrListLoop) || len(mods) != 3 {
			t.Fatalf("%d modules, err %v", len(mods), err)
		}
	})
	t.Run("unreadable link", func(t *testing.T) {
		m, k := machine(t)
		m.ptrAt(0xffffc08bdc001000, 0xffffc08bd0000000) // nothing mapped there
		mods, err := k.Modules()
		if err == nil || !vmem.IsNotPresent(err) || len(mods) != 2 {
			t.Fatalf("%d modules, err %v", len(mods), err)
		}
	})
	t.Run("user-space link", func(t *testing.T) {
		m, k := machine(t)
		m.ptrAt(0xffffc08bdc000000, 0x1000)
		if _, err := k.Modules(); err == nil || !strings.Contains(err.Error(), "not a kernel address") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("huge name", func(t *testing.T) {
		m, k := machine(t)
		m.write(0xffffc08bdc000058, []byte{0xfe, 0xff, 0xfe, 0xff})
		mods, err := k.Modules()
		if err != nil || mods[0].Name != "ntoskrnl.exe" || len(k.Warnings) == 0 {
			t.Fatalf("%+v %v %v", mods[0], err, k.Warnings)
		}
	})
	t.Run("not System first", func(t *testing.T) {
		m, k := machine(t)
		m.ptrAt(0xffffc08bdcf0f040+0x440, 8)
		if _, err := k.Processes(); err == nil || !strings.Contains(err.Error(), "ID 4") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("no processors", func(t *testing.T) {
		_, k := machine(t)
		k.Processors = 1 << 20
		if _, err := k.CurrentThreads(); err == nil {
			t.Fatal("absurd processor count accepted")
		}
	})
}

func TestX86Modules(t *testing.T) {
	m := newSparse(4)
	head := uint64(0x82b5c850)
	e := uint64(0x84a01000)
	m.ptrAt(e+0x18, 0x82a00000)
	m.u32At(e+0x20, 0x400000)
	m.ustr(e+0x24, e+0x200, `\SystemRoot\system32\ntkrnlpa.exe`)
	m.ustr(e+0x2c, e+0x400, "ntkrnlpa.exe")
	m.u32At(e+0x44, 0x4ce7951a) // a Windows 7 entry
	m.peHeader(0x82a00000, 0x4ce7951a)
	m.link(head, e)
	k := &Kernel{Mem: m, Arch: cpuctx.ArchX86, Build: 7601, PsLoadedModuleList: head}
	mods, err := k.Modules()
	if err != nil || len(mods) != 1 || mods[0].Name != "ntkrnlpa.exe" || mods[0].Base != 0x82a00000 || mods[0].Timestamp != 0x4ce7951a {
		t.Fatalf("%+v %v", mods, err)
	}
}

func TestDebuggerDataCodec(t *testing.T) {
	plain := kdbg64(1, 2, 3)
	const never, always, flag = 0x8642097531fedcba, 0x0f1e2d3c4b5a6978, 0xfffff8047c6254c0
	enc := EncodeDebuggerData(plain, never, always, flag)
	if _, err := ParseDebuggerData(enc, true); err == nil {
		t.Fatal("an encoded block parsed as plain")
	}
	d, err := ParseDebuggerData(DecodeDebuggerData(enc, never, always, flag), true)
	if err != nil || d.PsActiveProcessHead != 2 || d.SizeEProcess != 0xa40 {
		t.Fatalf("%+v %v", d, err)
	}
	if _, err := ParseDebuggerData(plain[:0x100], true); err == nil {
		t.Fatal("short block accepted")
	}
}

// TestCorpusDebuggerData reads the layout of build 19041 from the real
// triage dump's KDDEBUGGER_DATA64.
func TestCorpusDebuggerData(t *testing.T) {
	f, err := kdump.Open(corpus.Path(t, "dumps", "triage_x64.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ParseDebuggerData(f.Debugger.Raw, true)
	if err != nil {
		t.Fatal(err)
	}
	want := DebuggerData{Tag: "KDBG", Size: d.Size, KernBase: 0xfffff8047ba00000, PsLoadedModuleList: 0xfffff8047c62a390,
		PsActiveProcessHead: 0xfffff8047c61e200, KiProcessorBlock: 0xfffff8047c6fdc80, SizeEProcess: 0xa40, SizeEThread: 0x898,
		EprocessDirectoryTableBase: 0x28, EprocessParentCID: 0x540, EprocessPeb: 0x550, PrcbCurrentThread: 8, SizePrcb: 0xaf00,
		KThreadApcProcess: 0xb8, KThreadInitialStack: 0x28, KThreadKernelStack: 0x58}
	got := *d
	got.PspCidTable, got.KiBugcheckData, got.MmPfnDatabase, got.MmSystemRangeStart, got.NtBuildLab = 0, 0, 0, 0, 0
	got.MmUnloadedDrivers, got.MmLastUnloadedDriver, got.MmPhysicalMemoryBlock = 0, 0, 0
	// Windows 10 2004 fills only some counter slots, each a variable in nt.
	for _, v := range []uint64{got.MmSizeOfPagedPoolInBytes, got.MmSpecialPoolTag, got.KernelVerifier} {
		if v-d.KernBase >= 0x1046000 {
			t.Errorf("counter variable %#x is not inside ntoskrnl.exe", v)
		}
	}
	got.MmSizeOfPagedPoolInBytes, got.MmSpecialPoolTag, got.KernelVerifier = 0, 0, 0
	got.KThreadNextProcessor, got.KThreadTeb, got.KThreadState, got.PrcbNumber = 0, 0, 0, 0
	if got != want {
		t.Errorf("debugger data\n got %+v\nwant %+v", got, want)
	}
	// The thread blob of the triage dump sits at its real address; its
	// KTHREAD.ApcState.Process is the System process the header names.
	k := &Kernel{Mem: f.Memory(), Arch: cpuctx.ArchX64, Build: 19041, KDBG: d}
	th := f.CurrentThread()
	proc, err := k.Ptr(th + uint64(d.KThreadApcProcess))
	if err != nil || proc != 0xffffc08bdce94180 {
		t.Errorf("thread %#x process %#x, %v", th, proc, err)
	}
}

func TestUnloaded(t *testing.T) {
	m, k := machine(t)
	const arrVar, lastVar, arr = 0xfffff8047c62a308, 0xfffff8047c62a300, 0xffffc08bdd000000
	k.KDBG.MmUnloadedDrivers, k.KDBG.MmLastUnloadedDriver = arrVar, lastVar
	m.ptrAt(arrVar, arr)
	m.u32At(lastVar, 2)
	m.write(arr+49*0x28+0x20, make([]byte, 8)) // the whole array is present
	for i, name := range []string{"dam.sys", "WdBoot.sys"} {
		e := uint64(arr) + uint64(i)*0x28
		m.ustr(e, e+0x1000, name)
		m.ptrAt(e+0x10, 0xfffff80487de0000+uint64(i)*0x100000)
		m.ptrAt(e+0x18, 0xfffff80487dfc000+uint64(i)*0x100000)
	}
	u, err := k.Unloaded()
	if err != nil || len(u) != 2 || u[0].Name != "WdBoot.sys" || u[1].Name != "dam.sys" || u[1].Start != 0xfffff80487de0000 || u[1].End != 0xfffff80487dfc000 {
		t.Fatalf("%+v %v", u, err)
	}
}

func TestMemoryCounters(t *testing.T) {
	m, k := machine(t)
	const vars = 0xfffff8047c700000
	k.KDBG.MmTotalCommittedPages, k.KDBG.MmTotalCommitLimit, k.KDBG.MmAvailablePages, k.KDBG.MmNumberOfPhysicalPages = vars, vars+8, vars+16, vars+24
	k.KDBG.MmSpecialPoolTag, k.KDBG.KernelVerifier = vars+32, vars+40
	for i, v := range []uint64{0x3b0000, 0x400000, 0x100, 0x3f0000, 0x6f6f6c50, 0x209bb} {
		m.ptrAt(vars+uint64(i)*8, v)
	}
	c, err := k.MemoryCounters()
	if err != nil || c.CommittedPages != 0x3b0000 || c.CommitLimitPages != 0x400000 || c.AvailablePages != 0x100 || c.PhysicalPages != 0x3f0000 ||
		c.SpecialPoolTag != 0x6f6f6c50 || c.VerifierFlags != 0x209bb || c.NonPagedPoolPages != 0 {
		t.Fatalf("%+v %v", c, err)
	}
	// A commit charge far beyond the limit is not a counter.
	m.ptrAt(vars, 0x4000000)
	if c, _ := k.MemoryCounters(); c.CommittedPages != 0 || c.CommitLimitPages != 0 || len(k.Warnings) == 0 {
		t.Errorf("implausible counters kept: %+v", c)
	}
	k.KDBG = nil
	if _, err := k.MemoryCounters(); err == nil {
		t.Error("no debugger data block, no error")
	}
}

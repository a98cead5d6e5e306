package sample

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"

	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
)

// Addresses of the kernel structures in the sample's kernel memory dump.
// The layout is that of Windows 10 2004-22H2 x64 (build 19041-19045).
const (
	KdbgAddress        = NtBase + 0xc00b20
	LoadedModuleList   = NtBase + 0xc2a390
	ActiveProcessHead  = NtBase + 0xc1e200
	ProcessorBlock     = NtBase + 0xcfdc80
	UnloadedDriversVar = NtBase + 0xc2a308
	LastUnloadedVar    = NtBase + 0xc2a300
	SystemProcess      = 0xffff8e0c45e8f040
	CrashProcessor     = 2
	CrashThreadID      = 0x1f4
	InitialStack       = TopOfStack + StackSize
	PagedOutAddress    = 0xffffc80a1c000000 // a pool page whose PTE says it is in the page file
	PagedOutOffset     = 0x2d7f0000         // where in page file 0
)

// Processes of the sample machine, in list order.
var Processes = []struct {
	Name        string
	PID, Parent uint64
}{{"System", 4, 0}, {"Registry", 0x6c, 4}, {"smss.exe", 0x1b8, 4}, {"csrss.exe", 0x230, 0x224}, {"svchost.exe", 0x3a4, 0x2c8}}

// kernelVM lays out virtual pages on fresh physical frames as they are
// written to.
type kernelVM struct {
	b     *ptbuild.Builder
	next  uint64            // next free frame for data pages
	pages map[uint64]uint64 // virtual page -> physical page
	err   error
}

func (vm *kernelVM) write(va uint64, data []byte) {
	for n := 0; n < len(data) && vm.err == nil; {
		a := va + uint64(n)
		page, ok := vm.pages[a&^0xfff]
		if !ok {
			page = vm.next << 12
			vm.next++
			vm.pages[a&^0xfff] = page
			if vm.err = vm.b.Map(a&^0xfff, page, 0x1000); vm.err != nil {
				return
			}
		}
		pa := page | a&0xfff
		chunk := min(len(data)-n, 0x1000-int(a&0xfff))
		_, vm.err = vm.b.Memory().WriteAt(data[n:n+chunk], int64(pa))
		n += chunk
	}
}

func (vm *kernelVM) u64(va, v uint64) { vm.write(va, binary.LittleEndian.AppendUint64(nil, v)) }
func (vm *kernelVM) u32(va uint64, v uint32) {
	vm.write(va, binary.LittleEndian.AppendUint32(nil, v))
}
func (vm *kernelVM) u16(va uint64, v uint16) {
	vm.write(va, binary.LittleEndian.AppendUint16(nil, v))
}

// ustr writes a UNICODE_STRING at va with its characters at buf.
func (vm *kernelVM) ustr(va, buf uint64, s string) {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	vm.write(buf, b)
	vm.u16(va, uint16(len(b)))
	vm.u16(va+2, uint16(len(b)))
	vm.u64(va+8, buf)
}

// link makes head and entries a circular doubly linked LIST_ENTRY list.
func (vm *kernelVM) link(head uint64, entries []uint64) {
	all := append([]uint64{head}, entries...)
	for i, e := range all {
		vm.u64(e, all[(i+1)%len(all)])
		vm.u64(e+8, all[(i+len(all)-1)%len(all)])
	}
}

// Kernel returns the sample crash as a kernel memory dump of the given
// layout (full, or bitmap): the same bug check, registers, stack and code
// as the small dump, plus the memory a kernel dump holds — page tables, the
// loaded-module and process lists, the processors' blocks and threads, and
// a pool page paged out to the page file.
func Kernel(layout dumpwriter.Layout) (*dumpwriter.MemoryDump, error) {
	mem := &ptbuild.Memory{}
	b, err := ptbuild.New(paging.X64, mem, 0x1ad, ptbuild.Layout{Build: Build})
	if err != nil {
		return nil, err
	}
	vm := &kernelVM{b: b, next: 0x4000, pages: map[uint64]uint64{}}
	t := Triage()
	le := binary.LittleEndian

	// The debugger data block, with the 19041 structure layout.
	kdbg := append([]byte(nil), t.DebuggerData...)
	le.PutUint64(kdbg[0x48:], LoadedModuleList)
	le.PutUint64(kdbg[0x50:], ActiveProcessHead)
	le.PutUint64(kdbg[0x218:], ProcessorBlock)
	le.PutUint64(kdbg[0x220:], UnloadedDriversVar)
	le.PutUint64(kdbg[0x228:], LastUnloadedVar)
	for off, v := range map[int]uint16{0x29c: 0x58, 0x29e: 0x28, 0x2a0: 0xb8, 0x2a8: 0xa40, 0x2aa: 0x550, 0x2ac: 0x540,
		0x2ae: 0x28, 0x2b0: 0xaf00, 0x2b4: 0x8, 0x2be: 0x24, 0x2c0: 0x898} {
		le.PutUint16(kdbg[off:], v)
	}
	vm.write(KdbgAddress, kdbg)

	// Loaded modules: KLDR_DATA_TABLE_ENTRYs in pool, an image header at
	// each base, and the captured code pages of the faulting driver.
	var entries []uint64
	for i, m := range t.Modules {
		e := uint64(0xffff8e0c45c00000) + uint64(i)*0x400
		entries = append(entries, e)
		vm.u64(e+0x30, m.Base)
		vm.u64(e+0x38, m.Base+0x1000)
		vm.u32(e+0x40, m.Size)
		vm.ustr(e+0x48, e+0x100, m.Path)
		vm.ustr(e+0x58, e+0x300, baseName(m.Path))
		vm.u32(e+0x78, m.Checksum)
		vm.u32(e+0x9c, m.Timestamp)
		hdr := make([]byte, 0x100)
		copy(hdr, "MZ")
		le.PutUint32(hdr[0x3c:], 0x80)
		copy(hdr[0x80:], "PE\x00\x00")
		le.PutUint32(hdr[0x88:], m.Timestamp)
		vm.write(m.Base, hdr)
	}
	vm.link(LoadedModuleList, entries)
	for _, blk := range t.Blocks {
		vm.write(blk.Addr, blk.Data)
	}

	// Unloaded drivers: MmUnloadedDrivers points to the 50-slot array.
	const unloadedArray = 0xffff8e0c45d00000
	vm.u64(UnloadedDriversVar, unloadedArray)
	vm.u32(LastUnloadedVar, uint32(len(t.Unloaded)))
	vm.write(unloadedArray+49*0x28, make([]byte, 0x28))
	for i, u := range t.Unloaded {
		e := uint64(unloadedArray) + uint64(i)*0x28
		vm.ustr(e, e+0x800, u.Name)
		vm.u64(e+0x10, u.Start)
		vm.u64(e+0x18, u.End)
	}

	// Processes.
	var links []uint64
	for i, p := range Processes {
		ep := uint64(SystemProcess) + uint64(i)*0x1000
		links = append(links, ep+0x448)
		vm.write(ep, make([]byte, 0xa40))
		vm.u64(ep+0x28, b.Root()+uint64(i)*0x1000*uint64(min(i, 1))) // System runs on the kernel's own tables
		vm.u64(ep+0x440, p.PID)
		vm.u64(ep+0x540, p.Parent)
		if i >= 2 {
			vm.u64(ep+0x550, 0x7ff6a0000000+uint64(i)*0x10000)
		}
		vm.write(ep+0x5a8, append([]byte(p.Name), 0))
	}
	vm.link(ActiveProcessHead, links)

	// Eight processors; processor 2 ran the faulting DPC on a System thread.
	for cpu := uint64(0); cpu < 8; cpu++ {
		prcb := uint64(0xfffff8026c000180) + cpu*0x10000
		th := uint64(0xffff8e0c4a000080) + cpu*0x1000
		stackTop := uint64(0xfffff8027a600000) + cpu*0x10000
		if cpu == CrashProcessor {
			th, stackTop = ThreadAddress, InitialStack
		}
		vm.u64(ProcessorBlock+cpu*8, prcb)
		vm.u64(prcb+0x8, th)
		vm.u32(prcb+0x24, uint32(cpu))
		vm.write(th, make([]byte, 0x898))
		vm.u64(th+0x28, stackTop)        // InitialStack
		vm.u64(th+0x30, stackTop-0x6000) // StackLimit
		vm.u64(th+0x58, stackTop-0x800)  // KernelStack
		vm.u64(th+0xb8, SystemProcess)   // ApcState.Process
		vm.u64(th+0x478, 4)              // Cid.UniqueProcess
		vm.u64(th+0x480, CrashThreadID+cpu*4-CrashProcessor*4)
	}

	// The stack of the crash, as in the small dump.
	vm.write(TopOfStack, t.Stack)

	// A pool page paged out to page file 0, for `bugcheck pte`.
	vm.write(PagedOutAddress+0x1000, []byte("pool"))
	if vm.err == nil {
		vm.err = b.SetPTE(PagedOutAddress, b.PageFile(0, PagedOutOffset, paging.ProtReadWrite))
	}
	if vm.err != nil {
		return nil, fmt.Errorf("sample kernel dump: %w", vm.err)
	}

	d := &dumpwriter.MemoryDump{
		Arch: t.Arch, Build: t.Build, Processors: t.Processors, ProductType: t.ProductType, SuiteMask: t.SuiteMask,
		BugCheck: t.BugCheck, Params: t.Params, Time: t.Time, Uptime: t.Uptime, Context: t.Context, Exception: t.Exception,
		DirectoryTableBase: b.Root(), PfnDataBase: t.PfnDataBase, PsLoadedModuleList: LoadedModuleList,
		PsActiveProcessHead: ActiveProcessHead, KdDebuggerDataBlock: KdbgAddress, Layout: layout,
		Pages: map[uint64][]byte{},
	}
	for _, pfn := range mem.PFNs() {
		d.Pages[pfn] = mem.Page(pfn)
	}
	return d, nil
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '\\' {
			return p[i+1:]
		}
	}
	return p
}

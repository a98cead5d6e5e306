package sample

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/ntkernel"
	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
)

// Addresses of the kernel structures in the sample's kernel memory dump.
// The layout is that of Windows 10 2004-22H2 x64 (build 19041-19045); the
// 32-bit variants put each structure at Addr(mode, address).
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

// Symbols of the sample kernel that a PDB would give, as RVAs from NtBase,
// and the values of the variables that encode the debugger data block.
const (
	KiWaitNeverRVA         = 0xcfc000
	KiWaitAlwaysRVA        = 0xcfc008
	KdpDataBlockEncodedRVA = 0xcfc010
	KiWaitNever            = 0x8642097531fedcba
	KiWaitAlways           = 0x0f1e2d3c4b5a6978
)

// MemoryCounters are the memory manager's counters of the sample kernel
// dumps, by their slot in the debugger data block.
var MemoryCounters = []struct {
	slot  int
	value uint64
}{
	{0xf8, 0x3f0000},  // MmNumberOfPhysicalPages: 16 GB
	{0x1a8, 0x200000}, // MmAvailablePages
	{0x150, 0x180000}, // MmTotalCommittedPages
	{0x148, 0x400000}, // MmTotalCommitLimit
	{0x258, 0x1a0000}, // MmPeakCommitment
	{0x250, 0x4000},   // MmAllocatedNonPagedPool, pages
}

// Processes of the sample machine, in list order.
var Processes = []struct {
	Name        string
	PID, Parent uint64
}{{"System", 4, 0}, {"Registry", 0x6c, 4}, {"smss.exe", 0x1b8, 4}, {"csrss.exe", 0x230, 0x224}, {"svchost.exe", 0x3a4, 0x2c8}}

// KernelOptions choose the machine of a sample kernel dump.
type KernelOptions struct {
	Layout dumpwriter.Layout
	// Mode is the paging mode, which also picks the architecture: X64
	// (the default), X64LA57, X86PAE, X86 or ARM64.
	Mode paging.Mode
	// EncodeKDBG stores the debugger data block encoded, as Windows keeps
	// it while no debugger is attached; only the sample's symbols
	// (KiWaitNever, KiWaitAlways, KdpDataBlockEncoded) decode it.
	EncodeKDBG bool
}

// Arch returns the architecture of a paging mode's machine.
func Arch(mode paging.Mode) cpuctx.Arch {
	switch mode {
	case paging.X86, paging.X86PAE:
		return cpuctx.ArchX86
	case paging.ARM64, paging.ARM64LPA2:
		return cpuctx.ArchARM64
	}
	return cpuctx.ArchX64
}

// Addr returns where the sample kernel dump of a paging mode holds what
// the x64 sample holds at a: the same address on 64-bit machines; on x86
// the low 31 bits in the upper 2 GiB, which keeps every structure apart.
func Addr(mode paging.Mode, a uint64) uint64 {
	if Arch(mode) == cpuctx.ArchX86 {
		return 0x80000000 | a&0x7fffffff
	}
	return a
}

// structs holds the structure offsets of one architecture's sample kernel.
type structs struct {
	ldrBase, ldrEntry, ldrSize, ldrFull, ldrName, ldrChecksum, ldrTimestamp uint64
	epDTB, epPID, epLinks, epParent, epPeb, epName, epSize                  uint64
	thInitial, thKernelStack, thApcProcess, thCid, thSize                   uint64
	prcbThread, prcbNumber, prcbSize                                        uint64
}

var (
	// Windows 10 19041 x64, checked against the corpus dump's debugger
	// data block; the ARM64 sample borrows them (they come from its own
	// debugger data block, and the process layout is found by scanning).
	structs64 = structs{
		ldrBase: 0x30, ldrEntry: 0x38, ldrSize: 0x40, ldrFull: 0x48, ldrName: 0x58, ldrChecksum: 0x78, ldrTimestamp: 0x9c,
		epDTB: 0x28, epPID: 0x440, epLinks: 0x448, epParent: 0x540, epPeb: 0x550, epName: 0x5a8, epSize: 0xa40,
		thInitial: 0x28, thKernelStack: 0x58, thApcProcess: 0xb8, thCid: 0x478, thSize: 0x898,
		prcbThread: 8, prcbNumber: 0x24, prcbSize: 0xaf00,
	}
	// The x86 sample keeps the real KLDR_DATA_TABLE_ENTRY and KPRCB
	// offsets; its EPROCESS and ETHREAD offsets are the sample's own, in
	// the shape of a Windows 10 x86 kernel, and are found by scanning.
	structs32 = structs{
		ldrBase: 0x18, ldrEntry: 0x1c, ldrSize: 0x20, ldrFull: 0x24, ldrName: 0x2c, ldrChecksum: 0x40, ldrTimestamp: 0x58,
		epDTB: 0x18, epPID: 0xb4, epLinks: 0xb8, epParent: 0x1a4, epPeb: 0x1a8, epName: 0x17c, epSize: 0x380,
		thInitial: 0x18, thKernelStack: 0x30, thApcProcess: 0x50, thCid: 0x374, thSize: 0x3a0,
		prcbThread: 4, prcbNumber: 0x3cc, prcbSize: 0x3500,
	}
)

// kernelVM lays out virtual pages on fresh physical frames as they are
// written to.
type kernelVM struct {
	b     *ptbuild.Builder
	ps    uint64            // pointer size
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

// ptr writes a pointer-sized value.
func (vm *kernelVM) ptr(va, v uint64) {
	if vm.ps == 4 {
		vm.u32(va, uint32(v))
		return
	}
	vm.u64(va, v)
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
	vm.ptr(va+vm.ps, buf)
}

// link makes head and entries a circular doubly linked LIST_ENTRY list.
func (vm *kernelVM) link(head uint64, entries []uint64) {
	all := append([]uint64{head}, entries...)
	for i, e := range all {
		vm.ptr(e, all[(i+1)%len(all)])
		vm.ptr(e+vm.ps, all[(i+len(all)-1)%len(all)])
	}
}

// Kernel returns the sample crash as an x64 kernel memory dump of the
// given layout (full, or bitmap): the same bug check, registers, stack and
// code as the small dump, plus the memory a kernel dump holds — page
// tables, the loaded-module and process lists, the processors' blocks and
// threads, and a pool page paged out to the page file.
func Kernel(layout dumpwriter.Layout) (*dumpwriter.MemoryDump, error) {
	return KernelWith(KernelOptions{Layout: layout})
}

// KernelWith returns the sample crash as a kernel memory dump of another
// machine: x86 with or without PAE, x64 with 5-level paging, or ARM64. The
// 32-bit machines use 32-bit structures (the debugger data block keeps its
// 64-bit slots, with sign-extended pointers) at Addr(mode, address). On
// x86 and ARM64, which have no x64 trap frame, the header's context record
// holds the registers at the fault, as Windows sometimes writes it.
func KernelWith(o KernelOptions) (*dumpwriter.MemoryDump, error) {
	mode := o.Mode
	if mode == 0 {
		mode = paging.X64
	}
	arch := Arch(mode)
	if mode == paging.ARM64LPA2 {
		return nil, fmt.Errorf("sample kernel dump: paging mode %v is not supported", mode)
	}
	A := func(a uint64) uint64 { return Addr(mode, a) }
	st, ps := structs64, uint64(8)
	if arch == cpuctx.ArchX86 {
		st, ps = structs32, 4
	}
	mem := &ptbuild.Memory{}
	b, err := ptbuild.New(mode, mem, 0x1ad, ptbuild.Layout{Build: Build})
	if err != nil {
		return nil, err
	}
	vm := &kernelVM{b: b, ps: ps, next: 0x4000, pages: map[uint64]uint64{}}
	t := Triage()
	le := binary.LittleEndian
	// sx is a pointer in a debugger data block slot: sign-extended on x86.
	sx := func(a uint64) uint64 {
		if ps == 4 {
			return uint64(int64(int32(uint32(A(a)))))
		}
		return a
	}

	// The debugger data block, with the structure layout of the build.
	kdbg := append([]byte(nil), t.DebuggerData...)
	le.PutUint64(kdbg[0x18:], sx(NtBase))
	le.PutUint64(kdbg[0x48:], sx(LoadedModuleList))
	le.PutUint64(kdbg[0x50:], sx(ActiveProcessHead))
	le.PutUint64(kdbg[0x218:], sx(ProcessorBlock))
	le.PutUint64(kdbg[0x220:], sx(UnloadedDriversVar))
	le.PutUint64(kdbg[0x228:], sx(LastUnloadedVar))
	for off, v := range map[int]uint64{0x29c: st.thKernelStack, 0x29e: st.thInitial, 0x2a0: st.thApcProcess, 0x2a8: st.epSize,
		0x2aa: st.epPeb, 0x2ac: st.epParent, 0x2ae: st.epDTB, 0x2b0: st.prcbSize, 0x2b4: st.prcbThread, 0x2be: st.prcbNumber, 0x2c0: st.thSize} {
		le.PutUint16(kdbg[off:], uint16(v))
	}
	// The memory manager's counters: a machine using 37.5% of its commit
	// limit, Driver Verifier off.
	for i, c := range MemoryCounters {
		va := NtBase + 0xc2b000 + uint64(i)*8
		le.PutUint64(kdbg[c.slot:], sx(va))
		if ps == 4 {
			vm.u32(A(va), uint32(c.value))
		} else {
			vm.u64(A(va), c.value)
		}
	}
	if o.EncodeKDBG {
		vm.u64(A(NtBase+KiWaitNeverRVA), KiWaitNever)
		vm.u64(A(NtBase+KiWaitAlwaysRVA), KiWaitAlways)
		vm.write(A(NtBase+KdpDataBlockEncodedRVA), []byte{1})
		kdbg = ntkernel.EncodeDebuggerData(kdbg, KiWaitNever, KiWaitAlways, sx(NtBase+KdpDataBlockEncodedRVA))
	}
	vm.write(A(KdbgAddress), kdbg)

	// Loaded modules: KLDR_DATA_TABLE_ENTRYs in pool, an image header at
	// each base, and the captured code pages of the faulting driver.
	var entries []uint64
	for i, m := range t.Modules {
		e := A(0xffff8e0c45c00000) + uint64(i)*0x400
		base := A(m.Base)
		entries = append(entries, e)
		vm.ptr(e+st.ldrBase, base)
		vm.ptr(e+st.ldrEntry, base+0x1000)
		vm.u32(e+st.ldrSize, m.Size)
		vm.ustr(e+st.ldrFull, e+0x100, m.Path)
		vm.ustr(e+st.ldrName, e+0x300, baseName(m.Path))
		vm.u32(e+st.ldrChecksum, m.Checksum)
		vm.u32(e+st.ldrTimestamp, m.Timestamp)
		hdr := make([]byte, 0x100)
		copy(hdr, "MZ")
		le.PutUint32(hdr[0x3c:], 0x80)
		copy(hdr[0x80:], "PE\x00\x00")
		le.PutUint32(hdr[0x88:], m.Timestamp)
		vm.write(base, hdr)
	}
	vm.link(A(LoadedModuleList), entries)
	for _, blk := range t.Blocks {
		data := blk.Data
		if arch != cpuctx.ArchX64 && blk.Addr >= DriverBase && blk.Addr < DriverBase+DriverSize {
			data = codePage(arch, uint32(blk.Addr-DriverBase))
		}
		vm.write(A(blk.Addr), data)
	}

	// Unloaded drivers: MmUnloadedDrivers points to the 50-slot array of
	// UNICODE_STRING, start, end and time.
	unloadedArray := A(0xffff8e0c45d00000)
	slot := 4*ps + 8
	vm.ptr(A(UnloadedDriversVar), unloadedArray)
	vm.u32(A(LastUnloadedVar), uint32(len(t.Unloaded)))
	vm.write(unloadedArray+49*slot, make([]byte, slot))
	for i, u := range t.Unloaded {
		e := unloadedArray + uint64(i)*slot
		vm.ustr(e, e+0x800, u.Name)
		vm.ptr(e+2*ps, A(u.Start))
		vm.ptr(e+3*ps, A(u.End))
	}

	// Processes.
	var links []uint64
	for i, p := range Processes {
		ep := A(SystemProcess) + uint64(i)*0x1000
		links = append(links, ep+st.epLinks)
		vm.write(ep, make([]byte, st.epSize))
		vm.ptr(ep+st.epDTB, b.Root()+uint64(i)*0x1000*uint64(min(i, 1))) // System runs on the kernel's own tables
		vm.ptr(ep+st.epPID, p.PID)
		vm.ptr(ep+st.epParent, p.Parent)
		if i >= 2 {
			peb := uint64(0x7ff6a0000000) + uint64(i)*0x10000
			if ps == 4 {
				peb = 0x7ffd0000 + uint64(i)*0x1000 // user space ends at 2 GiB
			}
			vm.ptr(ep+st.epPeb, peb)
		}
		vm.write(ep+st.epName, append([]byte(p.Name), 0))
	}
	vm.link(A(ActiveProcessHead), links)

	// Eight processors; processor 2 ran the faulting DPC on a System thread.
	for cpu := uint64(0); cpu < 8; cpu++ {
		prcb := A(0xfffff8026c000180) + cpu*0x10000
		th := A(0xffff8e0c4a000080) + cpu*0x1000
		stackTop := A(0xfffff8027a600000) + cpu*0x10000
		if cpu == CrashProcessor {
			th, stackTop = A(ThreadAddress), A(InitialStack)
		}
		vm.ptr(A(ProcessorBlock)+cpu*ps, prcb)
		vm.ptr(prcb+st.prcbThread, th)
		vm.u32(prcb+st.prcbNumber, uint32(cpu))
		vm.write(th, make([]byte, st.thSize))
		vm.ptr(th+st.thInitial, stackTop)            // InitialStack
		vm.ptr(th+st.thInitial+ps, stackTop-0x6000)  // StackLimit
		vm.ptr(th+st.thKernelStack, stackTop-0x800)  // KernelStack
		vm.ptr(th+st.thApcProcess, A(SystemProcess)) // ApcState.Process
		vm.ptr(th+st.thCid, 4)                       // Cid.UniqueProcess
		vm.ptr(th+st.thCid+ps, CrashThreadID+cpu*4-CrashProcessor*4)
	}

	// The stack of the crash, as in the small dump, and the header's
	// context: KeBugCheckEx's on x64, the fault's elsewhere.
	ctx := t.Context
	if arch == cpuctx.ArchX64 {
		vm.write(TopOfStack, t.Stack)
	} else {
		var stack []byte
		stack, ctx = faultStack(arch)
		vm.write(A(TopOfStack), stack)
	}

	// A pool page paged out to page file 0, for `bugcheck pte`.
	vm.write(A(PagedOutAddress)+0x1000, []byte("pool"))
	if vm.err == nil {
		vm.err = b.SetPTE(A(PagedOutAddress), b.PageFile(0, PagedOutOffset, paging.ProtReadWrite))
	}
	if vm.err != nil {
		return nil, fmt.Errorf("sample kernel dump: %w", vm.err)
	}

	exc := t.Exception
	exc.Address = A(exc.Address)
	params := t.Params
	params[0], params[2] = A(params[0]), A(params[2])
	d := &dumpwriter.MemoryDump{
		Header: dumpwriter.Header{
			Arch: arch, Build: t.Build, Processors: t.Processors, ProductType: t.ProductType, SuiteMask: t.SuiteMask,
			BugCheck: t.BugCheck, Params: params, Time: t.Time, Uptime: t.Uptime, Context: ctx, Exception: exc,
			DirectoryTableBase: b.Root(), PfnDataBase: A(t.PfnDataBase), PsLoadedModuleList: A(LoadedModuleList),
			PsActiveProcessHead: A(ActiveProcessHead), KdDebuggerDataBlock: A(KdbgAddress),
		},
		Layout: o.Layout, PAE: mode == paging.X86PAE, Pages: map[uint64][]byte{},
	}
	for _, pfn := range mem.PFNs() {
		d.Pages[pfn] = mem.Page(pfn)
	}
	return d, nil
}

// Code of the x86 and ARM64 drivers: the same routines at the same RVAs.
var (
	codeX86 = map[uint32][]byte{
		0x1a30: {
			0x85, 0xc9, // test ecx,ecx
			0x74, 0x14, // je ret
			0x33, 0xc0, // xor eax,eax
			0x85, 0xff, // test edi,edi
			0x74, 0x0e, // je ret
			0x90, 0x90, 0x90, // padding
			0x8b, 0x14, 0x86, // loop: mov edx,dword ptr [esi+eax*4]
			0x89, 0x14, 0x81, // mov dword ptr [ecx+eax*4],edx   <- faults at +0x1a40
			0x40,       // inc eax
			0x3b, 0xc7, // cmp eax,edi
			0x72, 0xf5, // jb loop
			0xc3, // ret
		},
		0x2295: {0xe8, 0x96, 0xf7, 0xff, 0xff}, // call AcmeCopyFrame
		0x130d: {0xe8, 0x7e, 0x0e, 0x00, 0x00}, // call AcmeReceiveFrame
	}
	codeARM64 = map[uint32][]byte{
		0x1a3c: le32s(0xb8687829, // ldr w9,[x1,x8,lsl #2]
			0xb8287809,  // str w9,[x0,x8,lsl #2]   <- faults at +0x1a40
			0x11000508,  // add w8,w8,#1
			0x6b02011f,  // cmp w8,w2
			0x54ffff83,  // b.lo loop
			0xd65f03c0), // ret
		0x2298: le32s(0x97fffde6), // bl AcmeCopyFrame (returns to +0x229c)
		0x1310: le32s(0x940003e2), // bl AcmeReceiveFrame (returns to +0x1314)
	}
)

func le32s(ws ...uint32) []byte {
	var b []byte
	for _, w := range ws {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// codePage returns a captured driver code page for x86 or ARM64.
func codePage(arch cpuctx.Arch, page uint32) []byte {
	b := make([]byte, 0x1000)
	fill, code := []byte{0xcc}, codeX86
	if arch == cpuctx.ArchARM64 {
		fill, code = le32s(0xd4200000), codeARM64 // brk #0
	}
	for i := range b {
		b[i] = fill[i%len(fill)]
	}
	for rva, c := range code {
		if rva >= page && rva < page+0x1000 {
			copy(b[rva-page:], c)
		}
	}
	return b
}

// faultStack returns the crash stack and the registers at the fault of the
// x86 or ARM64 sample: the faulting routine's callers above the stack
// pointer, as pointer-sized return addresses.
func faultStack(arch cpuctx.Arch) ([]byte, *cpuctx.Context) {
	mode := paging.X86
	ps, callerRet, frameRet := 4, uint64(CallerRet), uint64(DriverBase+0x1312)
	if arch == cpuctx.ArchARM64 {
		mode, ps, callerRet, frameRet = paging.ARM64, 8, DriverBase+0x229c, DriverBase+0x1314
	}
	A := func(a uint64) uint64 { return Addr(mode, a) }
	stack := make([]byte, StackSize)
	put := func(off int, v uint64) {
		if ps == 4 {
			binary.LittleEndian.PutUint32(stack[off:], uint32(v))
		} else {
			binary.LittleEndian.PutUint64(stack[off:], v)
		}
	}
	const spOff = 0x400
	put(spOff, A(callerRet))
	put(spOff+4*ps, A(PoolBuffer))
	put(spOff+9*ps, A(frameRet))
	put(spOff+18*ps, A(0xfffff80272000000+0x4a51)) // ndis
	put(spOff+27*ps, A(0xfffff80272000000+0x1f3e))
	put(spOff+38*ps, A(0xfffff80272400000+0x3b2e1)) // tcpip
	put(spOff+66*ps, A(NtBase+0x2e4b6))             // DPC retirement
	put(spOff+96*ps, A(NtBase+0x41c5ae))            // idle loop

	c := &cpuctx.Context{Arch: arch, Flags: cpuctx.Full(arch)}
	regs := map[string]uint64{"eax": 0x40, "ecx": A(PoolBuffer), "edx": 0x4b434150, "esi": A(0xffffc80a19e07000), "edi": 0x80,
		"ebp": 0, "eip": A(FaultIP), "esp": A(TopOfStack) + spOff, "cs": 0x8, "ss": 0x10, "efl": 0x10282}
	if arch == cpuctx.ArchARM64 {
		regs = map[string]uint64{"x0": PoolBuffer, "x1": 0xffffc80a19e07000, "x2": 0x80, "x8": 0x40, "x9": 0x4b434150,
			"lr": callerRet, "fp": TopOfStack + spOff + 0x40, "pc": FaultIP, "sp": TopOfStack + spOff, "cpsr": 0x60000005}
	}
	for name, v := range regs {
		c.Set(name, v)
	}
	return stack, c
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '\\' {
			return p[i+1:]
		}
	}
	return p
}

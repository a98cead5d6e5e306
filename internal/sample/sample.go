// Package sample builds the crash the project ships as its sample dump:
// the classic PAGE_FAULT_IN_NONPAGED_AREA (0x50) of a third-party network
// filter driver that copies a frame into a 0x100-byte nonpaged pool buffer
// without checking its length, runs past the end of the buffer and writes
// to the next, unmapped page.
//
// Everything here is made up (driver name, addresses, code) but laid out as
// Windows lays out a real x64 small memory dump, so the sample exercises
// the same paths as real dumps: a trap frame on the stack, the faulting code
// page in the data blocks, return addresses preceded by calls.
package sample

import (
	"encoding/binary"
	"time"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/kdump"
)

// Facts of the sample that tests assert.
const (
	NtBase        = 0xfffff80270a00000
	DriverName    = "acmefilt.sys"
	DriverBase    = 0xfffff80275a30000
	DriverSize    = 0x12000
	FaultRVA      = 0x1a40
	FaultIP       = DriverBase + FaultRVA
	PoolBuffer    = 0xffffc80a1b2c3f00 // 0x100-byte allocation ending at a page boundary
	PoolTag       = "AcFr"             // its pool tag as memory holds it
	FaultAddress  = PoolBuffer + 0x100
	TopOfStack    = 0xfffff8027a55d000
	StackSize     = 0x2000
	TrapFrameRVA  = 0x300 // trap frame offset from TopOfStack
	CallerRet     = DriverBase + 0x229a
	ThreadAddress = 0xffff8e0c4a5d9080
	Build         = 19045
)

// Modules of the sample machine.
var Modules = []dumpwriter.Module{
	{Path: `\SystemRoot\system32\ntoskrnl.exe`, Base: NtBase, Size: 0x1047000, Timestamp: 0x5f2b3a1c, Checksum: 0xa6e1f2},
	{Path: `\SystemRoot\system32\hal.dll`, Base: 0xfffff8026fe40000, Size: 0x6000, Timestamp: 0x1a7be8e9, Checksum: 0xce9f},
	{Path: `\SystemRoot\system32\kd.dll`, Base: 0xfffff8026fe50000, Size: 0xb000, Timestamp: 0xfe185fa8, Checksum: 0x4ef6},
	{Path: `\SystemRoot\System32\drivers\Wdf01000.sys`, Base: 0xfffff80271c00000, Size: 0xd1000, Timestamp: 0xa9a9d36e, Checksum: 0xd4b21},
	{Path: `\SystemRoot\System32\drivers\ACPI.sys`, Base: 0xfffff80271e00000, Size: 0xc4000, Timestamp: 0x3bf3f1d5, Checksum: 0xcc1a4},
	{Path: `\SystemRoot\System32\drivers\ndis.sys`, Base: 0xfffff80272000000, Size: 0x14a000, Timestamp: 0x7b1c4e2d, Checksum: 0x150b77},
	{Path: `\SystemRoot\System32\drivers\NETIO.SYS`, Base: 0xfffff80272200000, Size: 0x97000, Timestamp: 0x6e0f9a31, Checksum: 0x9c3d2},
	{Path: `\SystemRoot\System32\drivers\tcpip.sys`, Base: 0xfffff80272400000, Size: 0x2f6000, Timestamp: 0x4a2b9c70, Checksum: 0x2f7e10},
	{Path: `\SystemRoot\System32\drivers\FLTMGR.SYS`, Base: 0xfffff80272800000, Size: 0x6b000, Timestamp: 0x9d8e1f02, Checksum: 0x70b4e},
	{Path: `\SystemRoot\System32\drivers\Ntfs.sys`, Base: 0xfffff80272a00000, Size: 0x2a1000, Timestamp: 0x2c7a4d19, Checksum: 0x2a8f3c},
	{Path: `\SystemRoot\System32\drivers\storport.sys`, Base: 0xfffff80272e00000, Size: 0x104000, Timestamp: 0x11d4c3b8, Checksum: 0x10a2e5},
	{Path: `\SystemRoot\System32\drivers\stornvme.sys`, Base: 0xfffff80273000000, Size: 0x2e000, Timestamp: 0x83f20d6a, Checksum: 0x3a1f0},
	{Path: `\SystemRoot\System32\drivers\dxgkrnl.sys`, Base: 0xfffff80273400000, Size: 0x3d1000, Timestamp: 0x5e6c0b94, Checksum: 0x3c8d41},
	{Path: `\SystemRoot\System32\DriverStore\FileRepository\acmefilt.inf_amd64_5f3c2a1b9d8e7f60\acmefilt.sys`, Base: DriverBase, Size: DriverSize, Timestamp: 0x65a1c3e0, Checksum: 0x1b2f4},
}

// code places instruction bytes at driver RVAs; the rest of each captured
// page is int3 padding.
var code = map[uint32][]byte{
	// AcmeCopyFrame(dst=rcx, count=r8d, src=r9): copies count dwords, never
	// checking count against the size of dst.
	0x1a30: {
		0x48, 0x85, 0xc9, // test rcx,rcx
		0x74, 0x15, // je ret
		0x33, 0xc0, // xor eax,eax
		0x45, 0x85, 0xc0, // test r8d,r8d
		0x74, 0x0e, // je ret
		0x41, 0x8b, 0x14, 0x81, // loop: mov edx,dword ptr [r9+rax*4]
		0x89, 0x14, 0x81, // mov dword ptr [rcx+rax*4],edx   <- faults at +0x1a40
		0xff, 0xc0, // inc eax
		0x41, 0x3b, 0xc0, // cmp eax,r8d
		0x72, 0xf2, // jb loop
		0xc3, // ret
	},
	// AcmeReceiveFrame: ... call AcmeCopyFrame (returns to +0x229a).
	0x2295: {0xe8, 0x96, 0xf7, 0xff, 0xff},
	// AcmeReceiveFrame allocates its frame buffer:
	// ExAllocatePool2(POOL_FLAG_NON_PAGED, 0x100, PoolTag).
	0x2270: {
		0xb9, 0x40, 0x00, 0x00, 0x00, // mov ecx,40h
		0xba, 0x00, 0x01, 0x00, 0x00, // mov edx,100h
		0x41, 0xb8, 'A', 'c', 'F', 'r', // mov r8d,'rFcA'
	},
	// AcmeFilterReceiveNetBufferLists: ... call AcmeReceiveFrame (returns to +0x1312).
	0x130d: {0xe8, 0x7e, 0x0e, 0x00, 0x00},
}

// Triage returns the description of the sample dump.
func Triage() *dumpwriter.Triage {
	le := binary.LittleEndian
	stack := make([]byte, StackSize)
	put := func(off int, v uint64) { le.PutUint64(stack[off:], v) }

	// KeBugCheckEx's frame and the page-fault path below the trap frame.
	put(0x00, NtBase+0x2a6c54)             // return into nt (MmAccessFault path)
	put(0x48, NtBase+0x40a1d8)             // return into nt (KiPageFault)
	put(0x90, 0xfffff80272000000+0x118e40) // stale data pointer into ndis
	put(0xe0, NtBase+0x2a5f10)

	// The trap frame KiPageFault built, with the registers at the fault.
	faultRSP := uint64(TopOfStack + TrapFrameRVA + cpuctx.TrapFrameX64Size)
	regs := &cpuctx.Context{Arch: cpuctx.ArchX64}
	for name, v := range map[string]uint64{
		"rax": 0x40, "rcx": PoolBuffer, "rdx": 0x4b434150, "r8": 0x80, "r9": 0xffffc80a19e07000,
		"r10": 0xfffff80275a31a30, "r11": 0xffffc80a19e06f00, "rbp": 0, "rip": FaultIP,
		"rsp": faultRSP, "cs": 0x10, "ss": 0x18, "efl": 0x10282,
	} {
		regs.Set(name, v)
	}
	copy(stack[TrapFrameRVA:], cpuctx.TrapFrameX64Bytes(regs, FaultAddress))

	// Above the fault: the driver's callers, then NDIS's receive path and a DPC.
	sp := TrapFrameRVA + cpuctx.TrapFrameX64Size
	put(sp+0x00, CallerRet)                 // AcmeCopyFrame is a leaf: [rsp] is its return address
	put(sp+0x20, PoolBuffer)                // the destination buffer, spilled
	put(sp+0x48, DriverBase+0x1312)         // AcmeFilterReceiveNetBufferLists
	put(sp+0x90, 0xfffff80272000000+0x4a51) // ndis
	put(sp+0xd8, 0xfffff80272000000+0x1f3e) // ndis
	put(sp+0x130, 0xfffff80272400000+0x3b2e1)
	put(sp+0x1a0, 0xfffff80272000000+0x8812)
	put(sp+0x210, NtBase+0x2e4b6) // DPC retirement
	put(sp+0x288, NtBase+0x2e3a1)
	put(sp+0x300, NtBase+0x41c5ae) // idle loop

	// Captured code pages of the driver.
	var blocks []dumpwriter.Block
	for _, page := range []uint32{0x1000, 0x2000} {
		b := make([]byte, 0x1000)
		for i := range b {
			b[i] = 0xcc
		}
		for rva, c := range code {
			if rva >= page && rva < page+0x1000 {
				copy(b[rva-page:], c)
			}
		}
		blocks = append(blocks, dumpwriter.Block{Addr: DriverBase + uint64(page), Data: b})
	}
	// The pool block holding the buffer (the next page is the unmapped
	// one): its POOL_HEADER (0x11 blocks of 16 bytes, nonpaged, tag
	// PoolTag), then the buffer.
	pool := make([]byte, 0x110)
	copy(pool, []byte{0x00, 0x00, 0x11, 0x02})
	copy(pool[4:], PoolTag)
	for i := range pool[0x10:] {
		pool[0x10+i] = byte(0x41 + i%26)
	}
	blocks = append(blocks, dumpwriter.Block{Addr: PoolBuffer - 0x10, Data: pool})

	prcb := make([]byte, 0x400)
	le.PutUint64(prcb[8:], ThreadAddress)
	le.PutUint32(prcb[0x24:], 2)
	process := make([]byte, 0xa40)
	copy(process[0x5a8:], "System")
	thread := make([]byte, 0x880)

	kdbg := make([]byte, 0x380)
	copy(kdbg[0x10:], "KDBG")
	le.PutUint32(kdbg[0x14:], 0x380)
	le.PutUint64(kdbg[0x18:], NtBase)
	le.PutUint64(kdbg[0x48:], NtBase+0xc2a390)
	le.PutUint64(kdbg[0x50:], NtBase+0xc1e200)

	hdrCtx := &cpuctx.Context{Arch: cpuctx.ArchX64, Flags: cpuctx.Full(cpuctx.ArchX64)}
	hdrCtx.Set("rip", NtBase+0x3f7ac0) // KeBugCheckEx
	hdrCtx.Set("rsp", TopOfStack)
	hdrCtx.Set("rcx", 0x50)
	hdrCtx.Set("cs", 0x10)
	hdrCtx.Set("ss", 0x18)

	return &dumpwriter.Triage{
		Header: dumpwriter.Header{
			Arch:                cpuctx.ArchX64,
			Build:               Build,
			Processors:          8,
			ProductType:         1,
			SuiteMask:           0x110,
			BugCheck:            0x50,
			Params:              [4]uint64{FaultAddress, 2, FaultIP, 2},
			Time:                time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
			Uptime:              2*time.Hour + 13*time.Minute + 5*time.Second,
			Context:             hdrCtx,
			Exception:           kdump.ExceptionRecord{Code: 0x80000003, Address: NtBase + 0x3f7ac0},
			DirectoryTableBase:  0x1ad000,
			PfnDataBase:         0xffff9e8000000000,
			PsLoadedModuleList:  NtBase + 0xc2a390,
			PsActiveProcessHead: NtBase + 0xc1e200,
			KdDebuggerDataBlock: NtBase + 0xc00b20,
		},
		Modules: Modules,
		Unloaded: []dumpwriter.Unloaded{
			{Name: "dam.sys", Start: 0xfffff80276de0000, End: 0xfffff80276dfc000},
			{Name: "WdBoot.sys", Start: 0xfffff8026fd30000, End: 0xfffff8026fd42000},
		},
		TopOfStack:   TopOfStack,
		Stack:        stack,
		Prcb:         prcb,
		Process:      process,
		Thread:       thread,
		DebuggerData: kdbg,
		Blocks:       blocks,
	}
}

// Bytes returns the sample dump file.
func Bytes() []byte {
	b, err := Triage().Bytes()
	if err != nil {
		panic("sample: " + err.Error()) // the description is fixed; failure is a programming error
	}
	return b
}

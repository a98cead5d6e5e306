package ntkernel

import (
	"bytes"
	"fmt"

	"github.com/bugcheck/bugcheck/ntoffsets"
)

// Process is one EPROCESS of the active process list.
type Process struct {
	Address   uint64 // the EPROCESS
	PID       uint64
	ParentPID uint64
	Name      string // ImageFileName: the first 15 characters of the image name
	DTB       uint64 // DirectoryTableBase: the process's page-table root
	Peb       uint64 // 0 for System and other kernel-only processes
}

// ProcessLayout holds the EPROCESS offsets the list walk uses.
type ProcessLayout struct {
	Links, Name, DTB, Parent, Peb, Size int
	Source                              string // where the offsets came from
}

// systemPID is the process ID of the System process on every Windows.
const systemPID = 4

// ProcessLayout finds the EPROCESS offsets of this kernel: those of the
// debugger data block and the build table when they fit the System
// process (ID 4, named "System"), otherwise the offsets that a scan of the
// first processes supports best.
func (k *Kernel) ProcessLayout() (ProcessLayout, error) {
	if !k.layoutDone {
		k.layout, k.layoutErr = k.findProcessLayout()
		k.layoutDone = true
	}
	return k.layout, k.layoutErr
}

func (k *Kernel) findProcessLayout() (ProcessLayout, error) {
	head := k.processHead()
	if head == 0 {
		return ProcessLayout{}, fmt.Errorf("no PsActiveProcessHead address in the dump")
	}
	first, err := k.Ptr(head)
	if err != nil {
		return ProcessLayout{}, fmt.Errorf("process list head %#x: %w", head, err)
	}
	if pid, err := k.Ptr(first - uint64(k.ptrSize())); err != nil || pid != systemPID {
		return ProcessLayout{}, fmt.Errorf("the first process at %#x does not have ID 4 (System): read %#x, %v", first, pid, err)
	}
	lay := ProcessLayout{DTB: 0x28, Size: 0x800}
	if k.ptrSize() == 4 {
		lay.DTB = 0x18
	}
	if d := k.KDBG; d != nil && d.SizeEProcess != 0 {
		lay.DTB, lay.Parent, lay.Peb, lay.Size = int(d.EprocessDirectoryTableBase), int(d.EprocessParentCID), int(d.EprocessPeb), int(d.SizeEProcess)
	}
	if s, err := k.symbolLayout(); err == nil && s.procOK() {
		if k.nameAt(first-uint64(s.proc.Links)+uint64(s.proc.Name)) == "System" {
			return s.proc, nil
		}
		k.warnf("the kernel symbols' EPROCESS layout does not fit this dump (no \"System\" at ImageFileName); trying the other sources")
	}
	if off, ok := ntoffsets.For(k.Arch, k.Build); ok && off.EprocessProcessLinks != 0 {
		l := lay
		l.Links, l.Name, l.Source = off.EprocessProcessLinks, off.EprocessImageFileName, fmt.Sprintf("offset table for build %d", k.Build)
		if k.nameAt(first-uint64(l.Links)+uint64(l.Name)) == "System" {
			return l, nil
		}
		k.warnf("the offset table's EPROCESS layout for build %d does not fit this dump; scanning", k.Build)
	}
	return k.scanProcessLayout(head, first, lay)
}

func (k *Kernel) processHead() uint64 {
	if k.KDBG != nil && k.KDBG.PsActiveProcessHead != 0 {
		return k.KDBG.PsActiveProcessHead
	}
	if k.PsActiveProcessHead == 0 && k.Symbols != nil {
		a, _ := k.Global("PsActiveProcessHead")
		return a
	}
	return k.PsActiveProcessHead
}

// scanProcessLayout finds the image-name field by looking for "System"
// near the System process's list links, then picks the links offset whose
// base-relative fields (parent ID, PEB) look right for the most processes.
func (k *Kernel) scanProcessLayout(head, first uint64, lay ProcessLayout) (ProcessLayout, error) {
	const window = 0x800
	ps := uint64(k.ptrSize())
	buf := k.readLoose(first-window, 2*window)
	nameRel := int64(-1)
	// ImageFileName is pointer-aligned: 8 bytes on 64-bit kernels, 4 on x86.
	for i := 0; i+16 <= len(buf); i += int(ps) {
		if bytes.Equal(buf[i:i+7], []byte("System\x00")) {
			nameRel = int64(i) - window
			break
		}
	}
	if nameRel < 0 {
		return lay, fmt.Errorf("no image name \"System\" near the System process's links at %#x", first)
	}
	var entries []uint64
	_ = k.WalkList(head, func(e uint64) bool {
		entries = append(entries, e)
		return len(entries) < 8
	})
	best, bestScore, tie := -1, 0, false
	for off := int(ps); off < lay.Size; off += int(ps) {
		if nameRel+int64(off) < 0 || nameRel+int64(off) >= int64(lay.Size) {
			continue // the name would lie outside the structure
		}
		score := 0
		for i, e := range entries {
			base := e - uint64(off)
			parent, err1 := k.Ptr(base + uint64(lay.Parent))
			dtb, err2 := k.Ptr(base + uint64(lay.DTB))
			if err1 != nil || err2 != nil || dtb == 0 {
				continue
			}
			if (i == 0 && parent == 0) || (i > 0 && parent%4 == 0 && parent != 0 && parent < 1<<24) {
				score++
			}
		}
		switch {
		case score > bestScore:
			best, bestScore, tie = off, score, false
		case score == bestScore && score > 0:
			tie = true
		}
	}
	if best < 0 || tie || bestScore < (len(entries)+1)/2 {
		return lay, fmt.Errorf("could not tell where EPROCESS.ActiveProcessLinks lies (best guess %#x, %d of %d processes agree)", best, bestScore, len(entries))
	}
	lay.Links, lay.Name, lay.Source = best, int(nameRel)+best, "scan of the process list"
	return lay, nil
}

// readLoose reads n bytes at addr, leaving zeros where memory is missing.
func (k *Kernel) readLoose(addr uint64, n int) []byte {
	b := make([]byte, n)
	for off := 0; off < n; {
		step := min(n-off, 0x1000-int((addr+uint64(off))&0xfff))
		_, _ = k.Mem.Read(addr+uint64(off), b[off:off+step])
		off += step
	}
	return b
}

// nameAt reads a 15-character image name; "" unless it is printable ASCII.
func (k *Kernel) nameAt(addr uint64) string {
	b, err := k.read(addr, 15)
	if err != nil {
		return ""
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return ""
		}
	}
	return string(b)
}

// Processes walks the active process list, like WinDbg's `!process 0 0`.
func (k *Kernel) Processes() ([]Process, error) {
	lay, err := k.ProcessLayout()
	if err != nil {
		return nil, err
	}
	var out []Process
	werr := k.WalkList(k.processHead(), func(e uint64) bool {
		base := e - uint64(lay.Links)
		p := Process{Address: base, Name: k.nameAt(base + uint64(lay.Name))}
		p.PID, _ = k.Ptr(e - uint64(k.ptrSize()))
		if lay.Parent != 0 {
			p.ParentPID, _ = k.Ptr(base + uint64(lay.Parent))
		}
		p.DTB, _ = k.Ptr(base + uint64(lay.DTB))
		if lay.Peb != 0 {
			p.Peb, _ = k.Ptr(base + uint64(lay.Peb))
		}
		out = append(out, p)
		return true
	})
	return out, werr
}

// Thread is a processor's current thread.
type Thread struct {
	Processor    int
	Address      uint64 // the ETHREAD
	Process      uint64 // the EPROCESS it runs in
	TID, PID     uint64 // 0 when the IDs could not be located
	InitialStack uint64
	StackLimit   uint64
	KernelStack  uint64
}

// ContainsStack reports whether sp lies within the thread's kernel stack.
func (t Thread) ContainsStack(sp uint64) bool {
	return t.StackLimit != 0 && sp >= t.StackLimit && sp < t.InitialStack
}

// threadLayout is where CurrentThreads finds its members.
type threadLayout struct {
	processorBlock                                                uint64
	prcbThread, apcProcess, initialStack, stackLimit, kernelStack uint64
}

// threadOffsets returns the thread layout: the kernel symbols' when they
// give it, else the debugger data block's (StackLimit follows
// InitialStack in KTHREAD on every build, x86 and 64-bit).
func (k *Kernel) threadOffsets() (threadLayout, error) {
	ps := uint64(k.ptrSize())
	if s, err := k.symbolLayout(); err == nil && s.threadOK() {
		if pb, err := k.Global("KiProcessorBlock"); err == nil {
			return threadLayout{processorBlock: pb, prcbThread: uint64(s.prcbThread), apcProcess: uint64(s.apcProcess),
				initialStack: uint64(s.initialStack), stackLimit: uint64(s.stackLimit), kernelStack: uint64(s.kernelStack)}, nil
		}
	}
	d := k.KDBG
	if d == nil || d.KiProcessorBlock == 0 || d.SizePrcb == 0 {
		return threadLayout{}, fmt.Errorf("neither the debugger data block nor the kernel's symbols locate the processors")
	}
	return threadLayout{processorBlock: d.KiProcessorBlock, prcbThread: uint64(d.PrcbCurrentThread), apcProcess: uint64(d.KThreadApcProcess),
		initialStack: uint64(d.KThreadInitialStack), stackLimit: uint64(d.KThreadInitialStack) + ps, kernelStack: uint64(d.KThreadKernelStack)}, nil
}

// CurrentThreads returns each processor's current thread, from
// KiProcessorBlock and the PRCB and KTHREAD offsets of the kernel's
// symbols or the debugger data block. Processors whose PRCB is not in the
// dump are skipped with a warning.
func (k *Kernel) CurrentThreads() ([]Thread, error) {
	lay, err := k.threadOffsets()
	if err != nil {
		return nil, err
	}
	n := k.Processors
	if n <= 0 || n > 4096 {
		return nil, fmt.Errorf("implausible processor count %d", n)
	}
	ps := uint64(k.ptrSize())
	var out []Thread
	for i := 0; i < n; i++ {
		prcb, err := k.Ptr(lay.processorBlock + uint64(i)*ps)
		if err != nil || !k.isKernelPtr(prcb) {
			k.warnf("processor %d: PRCB pointer not readable (%v)", i, err)
			continue
		}
		th, err := k.Ptr(prcb + lay.prcbThread)
		if err != nil || !k.isKernelPtr(th) {
			k.warnf("processor %d: current thread not readable (%v)", i, err)
			continue
		}
		t := Thread{Processor: i, Address: th}
		t.Process, _ = k.Ptr(th + lay.apcProcess)
		t.InitialStack, _ = k.Ptr(th + lay.initialStack)
		t.KernelStack, _ = k.Ptr(th + lay.kernelStack)
		t.StackLimit, _ = k.Ptr(th + lay.stackLimit)
		if t.StackLimit >= t.InitialStack {
			t.StackLimit = 0
		}
		k.threadIDs(&t)
		out = append(out, t)
	}
	return out, nil
}

// threadIDs fills the thread's process and thread IDs from ETHREAD.Cid:
// at the build table's offset when it holds the owning process's ID,
// otherwise at the first place in the ETHREAD that does.
func (k *Kernel) threadIDs(t *Thread) {
	lay, err := k.ProcessLayout()
	if err != nil || t.Process == 0 {
		return
	}
	pid, err := k.Ptr(t.Process + uint64(lay.Links) - uint64(k.ptrSize()))
	if err != nil {
		return
	}
	ps := uint64(k.ptrSize())
	check := func(off uint64) bool {
		p, err1 := k.Ptr(t.Address + off)
		tid, err2 := k.Ptr(t.Address + off + ps)
		if err1 != nil || err2 != nil || p != pid || tid == 0 || tid%4 != 0 || tid >= 1<<24 {
			return false
		}
		t.PID, t.TID = p, tid
		return true
	}
	if s, err := k.symbolLayout(); err == nil && s.cid >= 0 && check(uint64(s.cid)) {
		return
	}
	if off, ok := ntoffsets.For(k.Arch, k.Build); ok && off.EthreadCid != 0 && check(uint64(off.EthreadCid)) {
		return
	}
	size := uint64(0x900)
	if k.KDBG != nil && k.KDBG.SizeEThread != 0 {
		size = uint64(k.KDBG.SizeEThread)
	}
	for off := uint64(0x100); off+2*ps <= size; off += ps {
		if check(off) {
			return
		}
	}
}

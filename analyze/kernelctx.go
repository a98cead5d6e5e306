package analyze

import (
	"github.com/bugcheck/bugcheck/ntkernel"
	"github.com/bugcheck/bugcheck/vmem"
)

// maxKernelStack bounds the stack read from a bigger dump: kernel stacks
// are 24 KiB, or a few times that while a driver expands them.
const maxKernelStack = 0x10000

// capturedStack returns the stack the analysis scans and its lowest
// address: the copy a triage dump stores, or in bigger dumps the running
// thread's kernel stack from the header context's stack pointer up to the
// thread's initial stack, as far as the dump holds it.
func (a *analysis) capturedStack() (uint64, []byte) {
	if a.stackRead {
		return a.stackTop, a.stack
	}
	a.stackRead = true
	if t := a.f.Triage; t != nil {
		if t.SizeOfCallStack == 0 {
			return 0, nil
		}
		b, err := a.mem.Bytes(t.TopOfStack, int(t.SizeOfCallStack))
		if err != nil {
			a.warn("the captured stack could not be read: %v", err)
			return 0, nil
		}
		a.stackTop, a.stack = t.TopOfStack, b
		return a.stackTop, a.stack
	}
	if a.kstackLow == 0 || a.kstackHigh <= a.kstackLow {
		return 0, nil
	}
	b := make([]byte, min(a.kstackHigh-a.kstackLow, maxKernelStack))
	n, err := a.mem.Read(a.kstackLow, b)
	if n < len(b) && !vmem.IsNotPresent(err) {
		a.warn("the kernel stack at %s could not be read past %d bytes: %v", a.ptrHex(a.kstackLow), n, err)
	}
	a.stackTop, a.stack = a.kstackLow, b[:n]
	return a.stackTop, a.stack
}

// kernelContext names the thread and process that were running when the
// system stopped, in dumps that hold the kernel's memory: the bug-checking
// processor is the one whose current thread's kernel stack holds the stack
// pointer of the header's context record.
func (a *analysis) kernelContext() {
	if a.f.Triage != nil {
		return // triage dumps carry their own copies (processContext)
	}
	ctx, err := a.f.Context()
	if err != nil {
		return
	}
	k := KernelOfWith(a.f, a.kernelSymbols())
	threads, err := k.CurrentThreads()
	if err != nil {
		return
	}
	// Without a thread to bound it, scan a few pages above the stack pointer.
	a.kstackLow, a.kstackHigh = ctx.SP(), ctx.SP()+0x3000
	var cur *ntkernel.Thread
	for i := range threads {
		if threads[i].ContainsStack(ctx.SP()) {
			cur = &threads[i]
			break
		}
	}
	if cur == nil {
		if len(threads) > 0 {
			a.warn("no processor's current thread owns the stack of the header's context (sp %s)", a.ptrHex(ctx.SP()))
		}
		return
	}
	if cur.InitialStack > ctx.SP() {
		a.kstackHigh = cur.InitialStack
	}
	n := uint32(cur.Processor)
	a.r.BugCheck.Processor = &n
	a.r.Thread = &Thread{Address: a.ptrHex(cur.Address), ID: cur.TID}
	procs, _ := k.Processes()
	for _, p := range procs {
		if p.Address == cur.Process {
			a.r.Process = &Process{Name: p.Name, Address: a.ptrHex(p.Address), ID: p.PID}
		}
	}
	a.r.Warnings = append(a.r.Warnings, k.Warnings...)
}

// kernelSymbols returns the kernel's PDB symbols when the options' symbol
// source can find images and PDBs (a symbol store does), else nil: the
// lists are then read with the debugger data block and the offset table.
func (a *analysis) kernelSymbols() ntkernel.Symbols {
	if a.ksymsDone {
		return a.ksyms
	}
	a.ksymsDone = true
	finder, ok := a.opt.Symbols.(PDBFinder)
	if !ok {
		return nil
	}
	if syms, err := KernelSymbols(a.f, finder); err == nil {
		a.ksyms = syms
	}
	return a.ksyms
}

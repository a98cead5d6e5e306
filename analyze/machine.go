package analyze

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/ntkernel"
)

// machineState reports the memory manager's state when the dump recorded
// it: Driver Verifier settings, commit charge against the limit and pool
// use, so "crashed under memory pressure" or "Verifier was on" is visible.
func (a *analysis) machineState() {
	t := a.f.Triage
	if t == nil {
		a.kernelMachineState()
		return
	}
	if t.Mm == nil {
		return
	}
	m := t.Mm
	s := &MachineState{CommittedPages: m.CommittedPages, CommitPeakPages: m.CommittedPagesPeak, CommitLimitPages: m.CommitLimitMaximum,
		NonPagedPoolUsed: m.MmAllocatedNonPagedPool, NonPagedPoolMax: m.MmMaximumNonPagedPool,
		PagedPoolUsed: m.PagedPoolAllocated, PagedPoolMax: m.PagedPoolMaximum}
	if m.MmVerifyDriverLevel != 0 {
		s.VerifierFlags = fmt.Sprintf("%#x", m.MmVerifyDriverLevel)
		s.Notes = append(s.Notes, fmt.Sprintf("Driver Verifier was active (flags %#x)", m.MmVerifyDriverLevel))
	}
	if tag := m.MmSpecialPoolTag; tag != 0 && tag != 0xffffffff {
		b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), byte(tag >> 24)}
		if isPrintable(b) {
			s.SpecialPoolTag = string(b)
		} else {
			s.SpecialPoolTag = fmt.Sprintf("%#x", tag)
		}
	}
	if m.CommitLimitMaximum > 0 && m.CommittedPages <= m.CommitLimitMaximum {
		s.CommitPercent = float64(int(1000*float64(m.CommittedPages)/float64(m.CommitLimitMaximum))) / 10
		if s.CommitPercent >= 90 {
			s.Notes = append(s.Notes, fmt.Sprintf("memory was nearly exhausted: commit charge at %.1f%% of the limit", s.CommitPercent))
		}
	}
	if m.MmMaximumNonPagedPool > 0 && m.MmAllocatedNonPagedPool*10 >= m.MmMaximumNonPagedPool*9 {
		s.Notes = append(s.Notes, "nonpaged pool was nearly exhausted")
	}
	if m.CommitLimitMaximum == 0 && m.MmMaximumNonPagedPool == 0 && m.PagedPoolMaximum == 0 && len(s.Notes) == 0 && s.SpecialPoolTag == "" {
		return // the block is present but empty, as recent Windows versions leave it
	}
	a.r.Machine = s
}

func isPrintable(b []byte) bool {
	return strings.IndexFunc(string(b), func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
}

// kernelMachineState reads the same state from the kernel's own counters
// in dumps that hold its memory.
func (a *analysis) kernelMachineState() {
	k := KernelOfWith(a.f, a.kernelSymbols())
	c, err := k.MemoryCounters()
	if err != nil || c == (ntkernel.MemoryCounters{}) {
		return // recent builds leave most slots empty
	}
	s := &MachineState{CommittedPages: c.CommittedPages, CommitPeakPages: c.CommitPeakPages, CommitLimitPages: c.CommitLimitPages,
		NonPagedPoolUsed: c.NonPagedPoolPages, NonPagedPoolMax: c.NonPagedPoolMax, PagedPoolMax: c.PagedPoolMax,
		PhysicalPages: c.PhysicalPages, AvailablePages: c.AvailablePages}
	if c.VerifierFlags != 0 {
		s.VerifierFlags = fmt.Sprintf("%#x", c.VerifierFlags)
		s.Notes = append(s.Notes, fmt.Sprintf("Driver Verifier was active (flags %#x)", c.VerifierFlags))
	}
	if tag := c.SpecialPoolTag; tag != 0 && tag != 0xffffffff {
		b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), byte(tag >> 24)}
		s.SpecialPoolTag = fmt.Sprintf("%#x", tag)
		if isPrintable(b) {
			s.SpecialPoolTag = string(b)
		}
	}
	if c.CommitLimitPages > 0 {
		s.CommitPercent = float64(int(1000*float64(c.CommittedPages)/float64(c.CommitLimitPages))) / 10
		if s.CommitPercent >= 90 {
			s.Notes = append(s.Notes, fmt.Sprintf("memory was nearly exhausted: commit charge at %.1f%% of the limit", s.CommitPercent))
		}
	}
	if c.PhysicalPages > 0 && c.AvailablePages*100 < c.PhysicalPages {
		s.Notes = append(s.Notes, fmt.Sprintf("almost no physical memory was free: %d of %d pages available", c.AvailablePages, c.PhysicalPages))
	}
	a.r.Machine = s
}

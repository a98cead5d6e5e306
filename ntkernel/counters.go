package ntkernel

import "fmt"

// MemoryCounters is the memory manager's state at the crash, read from the
// kernel variables the debugger data block points to. A value is 0 when
// the block leaves its slot empty or the variable was not captured.
type MemoryCounters struct {
	PhysicalPages      uint64 // MmNumberOfPhysicalPages
	AvailablePages     uint64 // MmAvailablePages
	CommittedPages     uint64 // MmTotalCommittedPages
	CommitLimitPages   uint64 // MmTotalCommitLimit
	CommitPeakPages    uint64 // MmPeakCommitment
	NonPagedPoolPages  uint64 // MmAllocatedNonPagedPool, in pages
	NonPagedPoolMax    uint64 // MmMaximumNonPagedPoolInBytes
	PagedPoolMax       uint64 // MmSizeOfPagedPoolInBytes
	SpecialPoolTag     uint32 // MmSpecialPoolTag: Driver Verifier's special pool
	VerifierFlags      uint32 // KernelVerifier
	CommitLimitMaximum uint64 // MmTotalCommitLimitMaximum
}

// maxPages is more pages than any machine has (4 PiB); a larger count is
// not a counter.
const maxPages = 1 << 40

// MemoryCounters reads the memory manager's counters. It fails only when
// the debugger data block is missing; counters that cannot be read or are
// implausible are left 0.
func (k *Kernel) MemoryCounters() (MemoryCounters, error) {
	d := k.KDBG
	if d == nil {
		return MemoryCounters{}, fmt.Errorf("no debugger data block to locate the memory counters")
	}
	word := func(addr uint64) uint64 {
		if addr == 0 {
			return 0
		}
		v, err := k.Ptr(addr)
		if err != nil || v >= maxPages*4096 {
			return 0
		}
		return v
	}
	pages := func(addr uint64) uint64 {
		if v := word(addr); v < maxPages {
			return v
		}
		return 0
	}
	u32 := func(addr uint64) uint32 {
		if addr == 0 {
			return 0
		}
		v, err := k.u32(addr)
		if err != nil {
			return 0
		}
		return v
	}
	c := MemoryCounters{
		PhysicalPages: pages(d.MmNumberOfPhysicalPages), AvailablePages: pages(d.MmAvailablePages),
		CommittedPages: pages(d.MmTotalCommittedPages), CommitLimitPages: pages(d.MmTotalCommitLimit),
		CommitPeakPages: pages(d.MmPeakCommitment), NonPagedPoolPages: pages(d.MmAllocatedNonPagedPool),
		NonPagedPoolMax: word(d.MmMaximumNonPagedPoolInBytes), PagedPoolMax: word(d.MmSizeOfPagedPoolInBytes),
		SpecialPoolTag: u32(d.MmSpecialPoolTag), VerifierFlags: u32(d.KernelVerifier),
		CommitLimitMaximum: pages(d.MmTotalCommitLimitMaximum),
	}
	if c.CommitLimitPages != 0 && c.CommittedPages > 2*c.CommitLimitPages {
		k.warnf("the commit charge (%d pages) is more than twice the limit (%d): the counters are not trusted", c.CommittedPages, c.CommitLimitPages)
		c.CommittedPages, c.CommitLimitPages, c.CommitPeakPages = 0, 0, 0
	}
	if c.PhysicalPages != 0 && c.AvailablePages > c.PhysicalPages {
		c.AvailablePages = 0
	}
	return c, nil
}

// Package paging translates virtual addresses to physical ones by walking the
// page tables a full, kernel or bitmap crash dump captured, and decodes the
// page table entries it meets the way WinDbg's !pte does.
//
// Physical memory is any io.ReaderAt whose offset is the physical address; a
// page the dump does not hold must make ReadAt fail, and that error stays
// reachable with errors.As through everything this package returns.
//
// Supported paging modes: x64 with 4-level and 5-level (LA57) tables and 1 GiB
// and 2 MiB large pages, x86 PAE (3 levels, 64-bit entries, 2 MiB large
// pages), x86 without PAE (2 levels, 4 MiB large pages, PSE-36) and ARM64
// with a 4 KiB granule: 48-bit virtual addresses (4 levels, block
// descriptors at levels 1 and 2) or, with FEAT_LPA2, 52-bit virtual and
// physical addresses (5 levels, blocks also at level 0).
//
// An entry the CPU would not use (present bit clear) is decoded as one of
// Windows' software PTE formats: transition (the page is still in RAM on the
// standby or modified list), prototype (the page belongs to a section and the
// real PTE lives elsewhere), paged out to a page file, demand-zero, or
// forbidden by its protection (no access, decommitted). The bit layouts are
// Windows' _MMPTE_SOFTWARE, _MMPTE_TRANSITION and _MMPTE_PROTOTYPE, including
// the 1803 move of PageFileLow to bits 12..15 and the L1 Terminal Fault
// mitigation that sets high address bits in non-present entries.
//
// We wrote our own walker because the libraries that do this (volatility3,
// MemProcFS, rekall) are Python or C, tied to their own memory models, and
// none decodes every Windows software PTE variant for all of these CPUs.
//
// Page tables in a dump are hostile input: walks are bounded by the mode's
// level count, a table that points back at one of its ancestors (other than
// Windows' own self-map entry) is reported as a loop, reserved bits make an
// entry invalid, and prototype PTE chains are followed only a few steps.
package paging

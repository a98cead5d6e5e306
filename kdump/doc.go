// Package kdump reads Windows kernel crash dump files: the 64-bit
// (PAGEDU64) and 32-bit (PAGEDUMP) dump headers with every field, and the
// body of kernel small memory ("triage", minidump) dumps: loaded and
// unloaded driver lists, the captured stack, PRCB/process/thread blobs, the
// debugger data block, captured data blocks and secondary dump blobs. For
// complete (full) and bitmap memory dumps, File.Physical gives the physical
// memory (package physmem) and File.PageTables the kernel's address space.
// The header does not say whether an x64 machine used 5-level paging: the
// mode through which the kernel's debugger data block (or, when that is
// encoded, its loaded-module list) reads right is taken, 4-level paging
// when neither does. On ARM64 the header's DirectoryTableBase is the
// process's single top-level table, whose upper half maps the kernel. Open
// memory-maps the file (package
// internal/mmap), so dumps of any size open in moments and are read where
// needed, never whole.
//
// Windows does not publish a reader for these formats and no maintained Go
// library exists, so this is our own. Field layouts come from the public
// structure definitions (DUMP_HEADER32/64, TRIAGE_DUMP32/64,
// DUMP_DRIVER_ENTRY, KLDR_DATA_TABLE_ENTRY) as other open readers document
// them, checked against real dumps.
//
// Like debug/pe, a File is built from an io.ReaderAt. Every offset and count
// in the file is treated as hostile: reads are bounds-checked against the
// file size and no allocation is sized by an unchecked count. Errors are
// *FormatError values naming the file, the offset and the problem.
package kdump

// Package ntoffsets holds the offsets of the few kernel structure fields
// bugcheck reads without symbols, per architecture and Windows build.
// Offsets change between builds, so each entry covers only builds it was
// checked on, and readers must validate what they find (a printable image
// name, a kernel-space pointer). When PDB symbols are available, type
// information replaces this table.
package ntoffsets

import "github.com/bugcheck/bugcheck/cpuctx"

// Offsets are field offsets in bytes; 0 means unknown for that build.
type Offsets struct {
	EprocessImageFileName int // EPROCESS.ImageFileName (15 characters + NUL)
	EprocessProcessLinks  int // EPROCESS.ActiveProcessLinks (UniqueProcessId is the pointer before it)
	KthreadProcess        int // KTHREAD.Process
	EthreadCid            int // ETHREAD.Cid (UniqueProcess, UniqueThread)
}

type span struct {
	arch     cpuctx.Arch
	from, to uint32 // build range, inclusive
	off      Offsets
}

// table is checked against real dumps where one is named; the rest come
// from public structure layouts and are only used after validation.
var table = []span{
	{cpuctx.ArchX64, 7600, 7601, Offsets{EprocessImageFileName: 0x2e0, EprocessProcessLinks: 0x188}},
	{cpuctx.ArchX64, 9200, 9600, Offsets{EprocessImageFileName: 0x438, EprocessProcessLinks: 0x2e8}},
	{cpuctx.ArchX64, 10240, 10240, Offsets{EprocessImageFileName: 0x448, EprocessProcessLinks: 0x2f0}},
	{cpuctx.ArchX64, 10586, 18363, Offsets{EprocessImageFileName: 0x450}},
	// Checked on the corpus dump triage_x64.dmp (19041).
	{cpuctx.ArchX64, 19041, 19045, Offsets{EprocessImageFileName: 0x5a8, EprocessProcessLinks: 0x448, KthreadProcess: 0x220, EthreadCid: 0x478}},
	{cpuctx.ArchX64, 20348, 22631, Offsets{EprocessImageFileName: 0x5a8, EprocessProcessLinks: 0x448}},
	{cpuctx.ArchX64, 26100, 26200, Offsets{EprocessImageFileName: 0x338, EprocessProcessLinks: 0x1d8}},
}

// For returns the offsets known for an architecture and build.
func For(arch cpuctx.Arch, build uint32) (Offsets, bool) {
	for _, s := range table {
		if s.arch == arch && build >= s.from && build <= s.to {
			return s.off, true
		}
	}
	return Offsets{}, false
}

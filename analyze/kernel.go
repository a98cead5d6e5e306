package analyze

import (
	"encoding/binary"
	"errors"

	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/ntkernel"
	"github.com/bugcheck/bugcheck/pdb"
	"github.com/bugcheck/bugcheck/peimage"
)

// KernelOf returns a reader of the kernel structures in a dump's memory,
// with the debugger data block the dump stores (triage dumps keep a copy;
// bigger dumps hold it at the header's KdDebuggerDataBlock) when it can be
// read and is plain. The Kernel is usable without the block too: it then
// relies on the header's list heads and the per-build offsets.
func KernelOf(f *kdump.File) *ntkernel.Kernel {
	return KernelOfWith(f, nil)
}

// KernelOfWith is KernelOf with the kernel's symbols (nil for none): their
// structure layouts replace the per-build table, and they decode a
// debugger data block the dump holds encoded.
func KernelOfWith(f *kdump.File, syms ntkernel.Symbols) *ntkernel.Kernel {
	h := f.Header
	k := &ntkernel.Kernel{Mem: f.Memory(), Arch: f.Arch, Build: h.MinorVersion,
		PsLoadedModuleList: h.PsLoadedModuleList, PsActiveProcessHead: h.PsActiveProcessHead,
		Processors: int(h.NumberProcessors), Symbols: syms}
	var raw []byte
	if f.Debugger != nil {
		raw = f.Debugger.Raw
	} else if h.KdDebuggerDataBlock != 0 {
		raw = readDebuggerData(f, h.KdDebuggerDataBlock)
	}
	if raw != nil {
		d, err := ntkernel.ParseDebuggerData(raw, h.Is64)
		if err != nil && syms != nil {
			d, err = k.DecodeDebuggerData(raw)
		}
		if err == nil {
			k.KDBG = d
		} else {
			k.Warnings = append(k.Warnings, err.Error())
		}
	}
	return k
}

// readDebuggerData reads the block at addr, as long as it says it is (at
// most a page). An encoded block's size is unreadable, so as much of a page
// as the dump holds is returned.
func readDebuggerData(f *kdump.File, addr uint64) []byte {
	mem := f.Memory()
	hdr := make([]byte, 0x18)
	if n, _ := mem.Read(addr, hdr); n < len(hdr) {
		return nil
	}
	size := int(binary.LittleEndian.Uint32(hdr[0x14:]))
	if string(hdr[0x10:0x14]) != "KDBG" {
		size = 0x1000
	}
	size = max(min(size, 0x1000), ntkernel.DebuggerDataMinSize)
	b := make([]byte, size)
	n, _ := mem.Read(addr, b)
	if n < ntkernel.DebuggerDataMinSize {
		return nil
	}
	return b[:n]
}

// PDBFinder finds images and PDBs by the identity a dump records;
// symstore.Local and symstore.Store are ones.
type PDBFinder interface {
	Image(name string, timestamp, size uint32) (*peimage.File, error)
	PDB(name, key string) (*pdb.File, error)
}

// KernelSymbols finds the PDB of the dump's kernel (the first entry of its
// loaded-module list, ntoskrnl.exe or a variant) through its image's
// CodeView record, and returns its type and global information for
// ntkernel.
func KernelSymbols(f *kdump.File, finder PDBFinder) (ntkernel.Symbols, error) {
	drivers, _, _ := Drivers(f)
	if len(drivers) == 0 {
		return nil, errors.New("the dump does not list the kernel's module")
	}
	nt := drivers[0]
	img, err := finder.Image(nt.BaseName(), nt.Timestamp, nt.Size)
	if err != nil {
		return nil, err
	}
	cv, err := img.CodeView()
	if err != nil {
		return nil, err
	}
	p, err := finder.PDB(cv.PDBName(), cv.SymbolStoreKey())
	if err != nil {
		return nil, err
	}
	return PDBSymbols(p), nil
}

// PDBSymbols serves a PDB's structure layouts and globals as
// ntkernel.Symbols.
func PDBSymbols(p *pdb.File) ntkernel.Symbols { return pdbSymbols{p} }

type pdbSymbols struct{ p *pdb.File }

func (s pdbSymbols) FieldOffset(structName, path string) (uint64, error) {
	return s.p.FieldOffset(structName, path)
}

func (s pdbSymbols) StructSize(name string) (uint64, error) {
	st, err := s.p.Struct(name)
	if err != nil {
		return 0, err
	}
	return st.Size, nil
}

// GlobalRVA looks a variable up among the globals, then the publics (a
// stripped PDB keeps only those).
func (s pdbSymbols) GlobalRVA(name string) (uint32, error) {
	g, err := s.p.Global(name)
	if err == nil {
		return g.RVA, nil
	}
	if pub, perr := s.p.Public(name); perr == nil {
		return pub.RVA, nil
	}
	return 0, err
}

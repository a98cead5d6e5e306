package peimage

import "sort"

// Export is an exported function.
type Export struct {
	Name      string // "" for exports by ordinal only
	Ordinal   uint32
	RVA       uint32
	Forwarder string // "DLL.Function" when the export forwards elsewhere
}

// Exports lists the image's exports sorted by RVA.
func (f *File) Exports() ([]Export, error) {
	rva, size, err := f.Directory(DirExport)
	if err != nil {
		return nil, err
	}
	d, err := f.ReadRVA(rva, 40)
	if err != nil {
		return nil, err
	}
	base, nFuncs, nNames := le.Uint32(d[16:]), le.Uint32(d[20:]), le.Uint32(d[24:])
	funcs, names, ords := le.Uint32(d[28:]), le.Uint32(d[32:]), le.Uint32(d[36:])
	if nFuncs > f.SizeOfImage/4 || nNames > nFuncs || nFuncs > 1<<20 {
		return nil, f.errf(rva, "export directory claims %d functions and %d names", nFuncs, nNames)
	}
	fb, err := f.ReadRVA(funcs, int(4*nFuncs))
	if err != nil {
		return nil, err
	}
	out := make([]Export, nFuncs)
	for i := range out {
		out[i] = Export{Ordinal: base + uint32(i), RVA: le.Uint32(fb[4*i:])}
	}
	if nNames > 0 {
		nb, err := f.ReadRVA(names, int(4*nNames))
		if err != nil {
			return nil, err
		}
		ob, err := f.ReadRVA(ords, int(2*nNames))
		if err != nil {
			return nil, err
		}
		for i := uint32(0); i < nNames; i++ {
			idx := uint32(le.Uint16(ob[2*i:]))
			if idx >= nFuncs {
				continue
			}
			if name, err := f.CString(le.Uint32(nb[4*i:]), 512); err == nil {
				out[idx].Name = name
			}
		}
	}
	var kept []Export
	for _, e := range out {
		if e.RVA == 0 {
			continue
		}
		if e.RVA >= rva && e.RVA < rva+size { // points back into the export directory: a forwarder string
			e.Forwarder, _ = f.CString(e.RVA, 512)
		}
		kept = append(kept, e)
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].RVA < kept[j].RVA })
	return kept, nil
}

// NearestExport returns the export at or below rva (the classic
// "module!Export+0x1f" symbolisation without a PDB).
func NearestExport(exports []Export, rva uint32) (Export, bool) {
	i := sort.Search(len(exports), func(i int) bool { return exports[i].RVA > rva })
	for i--; i >= 0; i-- {
		if exports[i].Forwarder == "" {
			return exports[i], true
		}
	}
	return Export{}, false
}

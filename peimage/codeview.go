package peimage

import (
	"fmt"
	"strings"
)

// CodeView is the RSDS record of the debug directory: which PDB matches
// the image.
type CodeView struct {
	GUID    [16]byte
	Age     uint32
	PDBPath string
}

// GUIDString renders the GUID in registry form.
func (c *CodeView) GUIDString() string {
	g := c.GUID
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(g[:]), le.Uint16(g[4:]), le.Uint16(g[6:]), g[8:10], g[10:16])
}

// SymbolStoreKey is the directory name symbol servers file the PDB under:
// the GUID's hex digits followed by the age in hex.
func (c *CodeView) SymbolStoreKey() string {
	return strings.ReplaceAll(c.GUIDString(), "-", "") + fmt.Sprintf("%X", c.Age)
}

// PDBName returns the file name of the PDB path.
func (c *CodeView) PDBName() string {
	p := c.PDBPath
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// CodeView returns the image's RSDS debug record.
func (f *File) CodeView() (*CodeView, error) {
	rva, size, err := f.Directory(DirDebug)
	if err != nil {
		return nil, err
	}
	const entrySize = 28
	n := size / entrySize
	if n > 64 {
		return nil, f.errf(rva, "debug directory claims %d entries", n)
	}
	for i := uint32(0); i < n; i++ {
		e, err := f.ReadRVA(rva+i*entrySize, entrySize)
		if err != nil {
			return nil, err
		}
		if le.Uint32(e[12:]) != 2 { // IMAGE_DEBUG_TYPE_CODEVIEW
			continue
		}
		dsize, drva := le.Uint32(e[16:]), le.Uint32(e[20:])
		if dsize < 24 || dsize > 4096 {
			return nil, f.errf(rva+i*entrySize, "CodeView record of %d bytes", dsize)
		}
		d, err := f.ReadRVA(drva, int(dsize))
		if err != nil {
			return nil, err
		}
		if string(d[:4]) != "RSDS" {
			continue // NB10 and other old formats
		}
		cv := &CodeView{Age: le.Uint32(d[20:])}
		copy(cv.GUID[:], d[4:20])
		path := d[24:]
		if i := strings.IndexByte(string(path), 0); i >= 0 {
			path = path[:i]
		}
		cv.PDBPath = string(path)
		return cv, nil
	}
	return nil, ErrNoDirectory
}

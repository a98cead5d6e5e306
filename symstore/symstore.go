// Package symstore finds the exact image (driver binary) and PDB a crash
// dump refers to in local directories: symbol-store trees laid out as
// symbol servers serve them (name/KEY/name, any letter case) and plain
// folders of files. An image is accepted only when its TimeDateStamp and
// SizeOfImage match the dump's module entry, so a different build of the
// same driver is never used by mistake.
package symstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/bugcheck/bugcheck/pdb"
	"github.com/bugcheck/bugcheck/peimage"
)

// Local searches local directories. It is safe for concurrent use and
// caches what it opened; Close releases the files.
type Local struct {
	Dirs []string

	mu     sync.Mutex
	images map[string]*peimage.File
	pdbs   map[string]*pdb.File
	misses map[string]error
}

// NewLocal returns a store over dirs.
func NewLocal(dirs ...string) *Local {
	return &Local{Dirs: dirs, images: map[string]*peimage.File{}, pdbs: map[string]*pdb.File{}, misses: map[string]error{}}
}

// ImageKey is the symbol-store key of an image: TimeDateStamp as %08X then
// SizeOfImage as %x.
func ImageKey(timestamp, size uint32) string { return fmt.Sprintf("%08X%x", timestamp, size) }

// Image returns the image with this name, timestamp and size.
func (s *Local) Image(name string, timestamp, size uint32) (*peimage.File, error) {
	key := strings.ToLower(name) + "/" + ImageKey(timestamp, size)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.images[key]; ok {
		return f, nil
	}
	if err, ok := s.misses[key]; ok {
		return nil, err
	}
	f, err := s.find(name, timestamp, size)
	if err != nil {
		s.misses[key] = err
		return nil, err
	}
	s.images[key] = f
	return f, nil
}

func (s *Local) find(name string, timestamp, size uint32) (*peimage.File, error) {
	var mismatch string
	for _, dir := range s.Dirs {
		candidates := []string{
			filepath.Join(dir, name, ImageKey(timestamp, size), name),
			filepath.Join(dir, name),
		}
		for _, c := range candidates {
			p, ok := findFold(c, dir)
			if !ok {
				continue
			}
			f, err := peimage.Open(p)
			if err != nil {
				continue
			}
			if f.TimeDateStamp == timestamp && f.SizeOfImage == size {
				return f, nil
			}
			mismatch = fmt.Sprintf("; %s is a different build (timestamp %#x, size %#x)", p, f.TimeDateStamp, f.SizeOfImage)
			f.Close()
		}
	}
	return nil, fmt.Errorf("image %s (timestamp %#x, size %#x) not found in %s%s", name, timestamp, size, strings.Join(s.Dirs, ", "), mismatch)
}

// findFold resolves path below root ignoring letter case, as symbol
// servers do.
func findFold(path, root string) (string, bool) {
	if _, err := os.Stat(path); err == nil {
		return path, true
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return "", false
	}
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		entries, err := os.ReadDir(cur)
		if err != nil {
			return "", false
		}
		found := false
		for _, e := range entries {
			if strings.EqualFold(e.Name(), part) {
				cur = filepath.Join(cur, e.Name())
				found = true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	return cur, true
}

// PDB returns the PDB with this file name whose GUID and age give key
// (peimage.CodeView.SymbolStoreKey).
func (s *Local) PDB(name, key string) (*pdb.File, error) {
	ck := "pdb:" + strings.ToLower(name) + "/" + key
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.pdbs[ck]; ok {
		return f, nil
	}
	if err, ok := s.misses[ck]; ok {
		return nil, err
	}
	for _, dir := range s.Dirs {
		for _, c := range []string{filepath.Join(dir, name, key, name), filepath.Join(dir, name)} {
			p, ok := findFold(c, dir)
			if !ok {
				continue
			}
			f, err := pdb.Open(p)
			if err != nil {
				continue
			}
			if f.SymbolStoreKey() == key {
				s.pdbs[ck] = f
				return f, nil
			}
			f.Close()
		}
	}
	err := fmt.Errorf("PDB %s (%s) not found in %s", name, key, strings.Join(s.Dirs, ", "))
	s.misses[ck] = err
	return nil, err
}

// finder is what Local and Store share: finding images and PDBs.
type finder interface {
	Image(name string, timestamp, size uint32) (*peimage.File, error)
	PDB(name, key string) (*pdb.File, error)
}

// Function names the function at rva of a module, through the module's
// image (for its CodeView record) and the matching PDB.
func (s *Local) Function(name string, timestamp, size, rva uint32) (string, uint32, bool) {
	return function(s, name, timestamp, size, rva)
}

// Version returns the version resource strings of a module's image.
func (s *Local) Version(name string, timestamp, size uint32) (map[string]string, bool) {
	return version(s, name, timestamp, size)
}

func function(f finder, name string, timestamp, size, rva uint32) (string, uint32, bool) {
	img, err := f.Image(name, timestamp, size)
	if err != nil {
		return "", 0, false
	}
	cv, err := img.CodeView()
	if err != nil {
		return "", 0, false
	}
	p, err := f.PDB(cv.PDBName(), cv.SymbolStoreKey())
	if err != nil {
		return "", 0, false
	}
	sym, off, ok := p.LookupFunction(rva)
	return sym.Name, off, ok
}

func version(f finder, name string, timestamp, size uint32) (map[string]string, bool) {
	img, err := f.Image(name, timestamp, size)
	if err != nil {
		return nil, false
	}
	vi, err := img.Version()
	if err != nil {
		return nil, false
	}
	return vi.Strings, true
}

// Close closes every file the store opened.
func (s *Local) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, f := range s.images {
		f.Close()
		delete(s.images, k)
	}
	for k, f := range s.pdbs {
		f.Close()
		delete(s.pdbs, k)
	}
	return nil
}

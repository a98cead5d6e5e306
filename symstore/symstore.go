// Package symstore finds the exact image (driver binary) and PDB a crash
// dump refers to in local directories: symbol-store trees laid out as
// symbol servers serve them (name/KEY/name, any letter case) and plain
// folders of files. An image is accepted only when its TimeDateStamp and
// SizeOfImage match the dump's module entry, and a PDB only when its GUID
// and age match the image's CodeView record, so a different build is never
// used by mistake.
//
// Like Microsoft's SymSrv it also takes a file's CAB-compressed form
// (name with its last character replaced by "_", e.g. ntkrnlmp.pd_) and
// file.ptr redirections; compressed files are expanded into a cache
// directory, or a temporary one that Close removes.
package symstore

import (
	"fmt"
	"io"
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
	// Cache is where compressed files found in Dirs are expanded to (as
	// name/KEY/name); empty means a temporary directory Close removes.
	Cache string

	mu     sync.Mutex
	images map[string]*peimage.File
	pdbs   map[string]*pdb.File
	misses map[string]error
	tmp    string // the temporary directory, once made
}

// NewLocal returns a store over dirs.
func NewLocal(dirs ...string) *Local {
	return &Local{Dirs: dirs, images: map[string]*peimage.File{}, pdbs: map[string]*pdb.File{}, misses: map[string]error{}}
}

// ImageKey is the symbol-store key of an image: TimeDateStamp as %08X then
// SizeOfImage as %x.
func ImageKey(timestamp, size uint32) string { return fmt.Sprintf("%08X%x", timestamp, size) }

// kind says what a file is, so it can be opened and its identity checked.
type kind int

const (
	kindImage kind = iota
	kindPDB
)

// identify opens path as k and returns the file with its symbol-store key.
func identify(k kind, path string) (io.Closer, string, error) {
	if k == kindPDB {
		f, err := pdb.Open(path)
		if err != nil {
			return nil, "", err
		}
		return f, f.SymbolStoreKey(), nil
	}
	f, err := peimage.Open(path)
	if err != nil {
		return nil, "", err
	}
	return f, f.SymbolStoreKey(), nil
}

// verify checks that path is a k whose key is key.
func verify(k kind, path, key string) error {
	f, got, err := identify(k, path)
	if err != nil {
		return err
	}
	f.Close()
	if !strings.EqualFold(got, key) {
		return fmt.Errorf("it is a different build (%s; wanted %s)", describe(k, got), describe(k, key))
	}
	return nil
}

// compressedName is the name of a file's CAB-compressed form: the last
// character replaced by an underscore.
func compressedName(name string) string {
	if name == "" {
		return "_"
	}
	return name[:len(name)-1] + "_"
}

// Image returns the image with this name, timestamp and size.
func (s *Local) Image(name string, timestamp, size uint32) (*peimage.File, error) {
	key := ImageKey(timestamp, size)
	ck := strings.ToLower(name) + "/" + key
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.images[ck]; ok {
		return f, nil
	}
	if err, ok := s.misses[ck]; ok {
		return nil, err
	}
	f, note := s.find(kindImage, name, key)
	if f == nil {
		err := fmt.Errorf("image %s (timestamp %#x, size %#x) not found in %s%s", name, timestamp, size, strings.Join(s.Dirs, ", "), note)
		s.misses[ck] = err
		return nil, err
	}
	img := f.(*peimage.File)
	s.images[ck] = img
	return img, nil
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
	f, note := s.find(kindPDB, name, key)
	if f == nil {
		err := fmt.Errorf("PDB %s (%s) not found in %s%s", name, key, strings.Join(s.Dirs, ", "), note)
		s.misses[ck] = err
		return nil, err
	}
	p := f.(*pdb.File)
	s.pdbs[ck] = p
	return p, nil
}

// find looks for name/key in the directories: first plain copies, then
// compressed copies and file.ptr redirections. It returns the open file,
// or nil and a note on what was found instead. s.mu is held.
func (s *Local) find(k kind, name, key string) (io.Closer, string) {
	var note string
	for _, dir := range s.Dirs {
		for _, c := range []string{filepath.Join(dir, name, key, name), filepath.Join(dir, name)} {
			p, ok := findFold(c, dir)
			if !ok {
				continue
			}
			f, got, err := identify(k, p)
			if err != nil {
				note = fmt.Sprintf("; %s: %v", p, err)
				continue
			}
			if strings.EqualFold(got, key) {
				return f, ""
			}
			f.Close()
			note = fmt.Sprintf("; %s is a different build (%s)", p, describe(k, got))
		}
	}
	cname := compressedName(name)
	for _, dir := range s.Dirs {
		var srcs []string
		for _, c := range []string{filepath.Join(dir, name, key, cname), filepath.Join(dir, cname)} {
			if p, ok := findFold(c, dir); ok {
				srcs = append(srcs, p)
			}
		}
		if p, ok := findFold(filepath.Join(dir, name, key, "file.ptr"), dir); ok {
			target, err := readPointer(p)
			if err != nil {
				note = fmt.Sprintf("; %s: %v", p, err)
			} else {
				srcs = append(srcs, target)
			}
		}
		for _, src := range srcs {
			f, err := s.useCopy(k, src, name, key)
			if err != nil {
				note = fmt.Sprintf("; %s: %v", src, err)
				continue
			}
			return f, ""
		}
	}
	return nil, note
}

// describe names a key found in a file of kind k.
func describe(k kind, key string) string {
	if ts, size, ok := parseImageKey(key); k == kindImage && ok {
		return fmt.Sprintf("timestamp %#x, size %#x", ts, size)
	}
	return "GUID and age " + key
}

// useCopy opens src (a plain file, or a cabinet holding it) when it is
// name/key, expanding a cabinet into the cache first.
func (s *Local) useCopy(k kind, src, name, key string) (io.Closer, error) {
	compressed, err := isCabinet(src)
	if err != nil {
		return nil, err
	}
	path := src
	if compressed {
		dir, err := s.expandDir()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(dir, name, key, name)
		if verify(k, path, key) != nil { // not expanded by an earlier run
			if err := install(k, src, path, name, key); err != nil {
				return nil, err
			}
		}
	}
	f, got, err := identify(k, path)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(got, key) {
		f.Close()
		return nil, fmt.Errorf("a different build (%s)", describe(k, got))
	}
	return f, nil
}

// expandDir returns the directory compressed files are expanded into,
// making the temporary one on first use. s.mu is held.
func (s *Local) expandDir() (string, error) {
	if s.Cache != "" {
		return s.Cache, nil
	}
	if s.tmp == "" {
		d, err := os.MkdirTemp("", "bugcheck-symbols-")
		if err != nil {
			return "", err
		}
		s.tmp = d
	}
	return s.tmp, nil
}

// findFold resolves path below root ignoring letter case, as symbol
// servers do.
func findFold(path, root string) (string, bool) {
	if st, err := os.Stat(path); err == nil {
		return path, st.Mode().IsRegular()
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
	st, err := os.Stat(cur)
	return cur, err == nil && st.Mode().IsRegular()
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

// Close closes every file the store opened and removes its temporary
// directory.
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
	var err error
	if s.tmp != "" {
		err = os.RemoveAll(s.tmp)
		s.tmp = ""
	}
	return err
}

// Package symstore finds the exact image (driver binary) or PDB a crash
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

	"github.com/bugcheck/bugcheck/peimage"
)

// Local searches local directories. It is safe for concurrent use and
// caches what it opened; Close releases the files.
type Local struct {
	Dirs []string

	mu     sync.Mutex
	images map[string]*peimage.File
	misses map[string]error
}

// NewLocal returns a store over dirs.
func NewLocal(dirs ...string) *Local {
	return &Local{Dirs: dirs, images: map[string]*peimage.File{}, misses: map[string]error{}}
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

// Close closes every image the store opened.
func (s *Local) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, f := range s.images {
		f.Close()
		delete(s.images, k)
	}
	return nil
}

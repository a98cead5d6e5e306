package symstore

import (
	"fmt"
	"strings"
	"sync"
)

// Request names a file for Prefetch: an image by its name and ImageKey, or
// a PDB (a name ending in .pdb) by its name and CodeView key.
type Request struct {
	Name string
	Key  string
}

// Module names a loaded module of a dump for PrefetchModules.
type Module struct {
	Name          string
	TimeDateStamp uint32
	SizeOfImage   uint32
}

// Prefetch finds or downloads every requested file, with up to Workers
// downloads at a time, so that later lookups are local. Requests for the
// same file share one download. It returns one error per request, nil
// where the file is now available.
func (s *Store) Prefetch(reqs []Request) []error {
	errs := make([]error, len(reqs))
	s.parallel(len(reqs), func(i int) {
		errs[i] = s.want(reqs[i])
	})
	return errs
}

// PrefetchModules brings the images of mods and then the PDBs their
// CodeView records name, each stage in parallel as Prefetch does. It
// returns one error per module: why its image or PDB is not available.
func (s *Store) PrefetchModules(mods []Module) []error {
	errs := make([]error, len(mods))
	s.parallel(len(mods), func(i int) {
		m := mods[i]
		img, err := s.Image(m.Name, m.TimeDateStamp, m.SizeOfImage)
		if err != nil {
			errs[i] = err
			return
		}
		cv, err := img.CodeView()
		if err != nil {
			errs[i] = fmt.Errorf("%s: %v", m.Name, err)
			return
		}
		_, errs[i] = s.PDB(cv.PDBName(), cv.SymbolStoreKey())
	})
	return errs
}

func (s *Store) want(r Request) error {
	if strings.HasSuffix(strings.ToLower(r.Name), ".pdb") {
		_, err := s.PDB(r.Name, r.Key)
		return err
	}
	ts, size, ok := parseImageKey(r.Key)
	if !ok {
		return fmt.Errorf("%s: %q is not an image key (TIMESTAMP as 8 hex digits, then SizeOfImage in hex)", r.Name, r.Key)
	}
	_, err := s.Image(r.Name, ts, size)
	return err
}

// parallel runs fn(0..n-1) on at most Workers goroutines.
func (s *Store) parallel(n int, fn func(int)) {
	workers := s.Workers
	if workers <= 0 {
		workers = 4
	}
	workers = min(workers, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

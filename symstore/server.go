package symstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bugcheck/bugcheck/pdb"
	"github.com/bugcheck/bugcheck/peimage"
)

// Store resolves images and PDBs through a symbol path: local directories
// first, then symbol servers over HTTP, copying what it downloads into the
// entry's downstream cache so the next run is offline.
//
// On a server it asks, as SymSrv does, for name/KEY/name, then for the
// compressed name/KEY/name_ (a cabinet, stored expanded), then for
// name/KEY/file.ptr. Every download is checked to be the requested build
// before it is cached; anything else (an HTML error page, a truncated
// cabinet, another build) is deleted and reported.
type Store struct {
	*Local
	Servers []Entry
	Offline bool          // never download
	Timeout time.Duration // per request; 0 means 30 s
	Retries int           // extra attempts after a network error or 5xx; 404 is final
	Client  *http.Client
	MaxSize int64 // largest file it downloads; 0 means 1 GiB
	Workers int   // parallel downloads in Prefetch; 0 means 4

	fmu     sync.Mutex
	flights map[string]*flight
}

// flight is one download in progress; concurrent requests for the same
// file wait for it instead of downloading it again.
type flight struct {
	done chan struct{}
	err  error
}

// NewStore builds a store from a parsed symbol path. Compressed files
// found locally are expanded into the first server's first cache.
func NewStore(entries []Entry) *Store {
	s := &Store{Local: NewLocal(), Retries: 2}
	for _, e := range entries {
		if e.Server != "" {
			s.Servers = append(s.Servers, e)
			if s.Cache == "" && len(e.Caches) > 0 {
				s.Cache = e.Caches[0]
			}
		} else {
			s.Dirs = append(s.Dirs, e.Dir)
		}
	}
	return s
}

// Image finds an image locally or downloads it.
func (s *Store) Image(name string, timestamp, size uint32) (*peimage.File, error) {
	f, err := s.Local.Image(name, timestamp, size)
	if err == nil || s.Offline || len(s.Servers) == 0 {
		return f, err
	}
	key := ImageKey(timestamp, size)
	if derr := s.fetch(kindImage, name, key); derr != nil {
		return nil, fmt.Errorf("%v; download: %v", err, derr)
	}
	s.forget(strings.ToLower(name) + "/" + key)
	return s.Local.Image(name, timestamp, size)
}

// PDB finds a PDB locally or downloads it.
func (s *Store) PDB(name, key string) (*pdb.File, error) {
	f, err := s.Local.PDB(name, key)
	if err == nil || s.Offline || len(s.Servers) == 0 {
		return f, err
	}
	if derr := s.fetch(kindPDB, name, key); derr != nil {
		return nil, fmt.Errorf("%v; download: %v", err, derr)
	}
	s.forget("pdb:" + strings.ToLower(name) + "/" + key)
	return s.Local.PDB(name, key)
}

// Function names a function, downloading the image and PDB as needed.
func (s *Store) Function(name string, timestamp, size, rva uint32) (string, uint32, bool) {
	return function(s, name, timestamp, size, rva)
}

// Version returns the version strings of an image, downloading it as needed.
func (s *Store) Version(name string, timestamp, size uint32) (map[string]string, bool) {
	return version(s, name, timestamp, size)
}

func (s *Store) forget(key string) {
	s.mu.Lock()
	delete(s.misses, key)
	s.mu.Unlock()
}

// errNotFound means no server has the file.
var errNotFound = errors.New("not on the symbol server")

// fetch brings name/key into a cache, once however many goroutines ask
// for it at the same time.
func (s *Store) fetch(k kind, name, key string) error {
	id := strings.ToLower(name) + "/" + strings.ToUpper(key)
	s.fmu.Lock()
	if f, ok := s.flights[id]; ok {
		s.fmu.Unlock()
		<-f.done
		return f.err
	}
	f := &flight{done: make(chan struct{})}
	if s.flights == nil {
		s.flights = map[string]*flight{}
	}
	s.flights[id] = f
	s.fmu.Unlock()

	f.err = s.fetchServers(k, name, key)

	s.fmu.Lock()
	delete(s.flights, id)
	s.fmu.Unlock()
	close(f.done)
	return f.err
}

// fetchServers downloads name/key from the first server that has it into
// that server's first cache (or the temporary directory when it has
// none), and makes the cache searchable.
func (s *Store) fetchServers(k kind, name, key string) error {
	var errs []string
	for _, srv := range s.Servers {
		var cache string
		if len(srv.Caches) > 0 {
			cache = srv.Caches[0]
		} else {
			s.mu.Lock()
			d, err := s.expandDir()
			s.mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", srv.Server, err))
				continue
			}
			cache = d
		}
		dst := filepath.Join(cache, name, key, name)
		// A concurrent request may have just brought it.
		err := errNotFound
		if p, ok := findFold(dst, cache); ok {
			err = verify(k, p, key)
		}
		if err != nil {
			err = s.fetchFrom(k, srv.Server, name, key, dst)
		}
		if err == nil {
			s.addDir(cache)
			return nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", srv.Server, err))
	}
	return errors.New(strings.Join(errs, "; "))
}

// fetchFrom tries name/KEY/name, name/KEY/name_ and name/KEY/file.ptr on
// one server.
func (s *Store) fetchFrom(k kind, server, name, key, dst string) error {
	base := server + "/" + name + "/" + key + "/"
	for _, file := range []string{name, compressedName(name)} {
		tmp, err := s.download(base+file, filepath.Dir(dst))
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		err = install(k, tmp, dst, name, key)
		os.Remove(tmp)
		if err != nil {
			return fmt.Errorf("%s: download %v; deleted", base+file, err)
		}
		return nil
	}
	ptr, err := s.get(base+"file.ptr", maxPointer)
	if err != nil {
		return err
	}
	target, err := parsePointer(ptr)
	if err != nil {
		return fmt.Errorf("%sfile.ptr: %v", base, err)
	}
	if st, err := os.Stat(target); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("%sfile.ptr points to %s, which is not a readable file", base, target)
	}
	if err := install(k, target, dst, name, key); err != nil {
		return fmt.Errorf("%sfile.ptr points to %s: %v", base, target, err)
	}
	return nil
}

func (s *Store) addDir(d string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.Dirs {
		if have == d {
			return
		}
	}
	s.Dirs = append(s.Dirs, d)
}

func (s *Store) settings() (time.Duration, int64, *http.Client) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	maxSize := s.MaxSize
	if maxSize == 0 {
		maxSize = 1 << 30
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	return timeout, maxSize, client
}

// download fetches url into a new temporary file in dir and returns its
// path, retrying network errors and server errors.
func (s *Store) download(url, dir string) (string, error) {
	timeout, maxSize, client := s.settings()
	var last error
	for attempt := 0; attempt <= s.Retries; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
		path, err := s.downloadOnce(client, url, dir, timeout, maxSize)
		if err == nil || !errors.As(err, new(retryable)) {
			return path, err
		}
		last = err
	}
	return "", last
}

// get fetches a small file (file.ptr) into memory.
func (s *Store) get(url string, limit int64) ([]byte, error) {
	timeout, _, client := s.settings()
	var last error
	for attempt := 0; attempt <= s.Retries; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
		var b []byte
		err := s.request(client, url, timeout, func(body io.Reader) error {
			var err error
			b, err = io.ReadAll(io.LimitReader(body, limit))
			return err
		})
		if err == nil || !errors.As(err, new(retryable)) {
			return b, err
		}
		last = err
	}
	return nil, last
}

type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

// request GETs url and hands a 200 response's body to read.
func (s *Store) request(client *http.Client, url string, timeout time.Duration, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "bugcheck-symsrv")
	resp, err := client.Do(req)
	if err != nil {
		return retryable{err}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNotFound
	case resp.StatusCode >= 500:
		return retryable{fmt.Errorf("server answered %s", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("server answered %s", resp.Status)
	}
	if err := read(resp.Body); err != nil {
		return retryable{err}
	}
	return nil
}

func (s *Store) downloadOnce(client *http.Client, url, dir string, timeout time.Duration, maxSize int64) (string, error) {
	var path string
	err := s.request(client, url, timeout, func(body io.Reader) error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(dir, ".download-*")
		if err != nil {
			return err
		}
		n, err := io.Copy(tmp, io.LimitReader(body, maxSize+1))
		if err == nil && n > maxSize {
			err = fmt.Errorf("file is larger than %d bytes", maxSize)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
		path = tmp.Name()
		return nil
	})
	return path, err
}

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
	"time"

	"github.com/bugcheck/bugcheck/pdb"
	"github.com/bugcheck/bugcheck/peimage"
)

// Store resolves images and PDBs through a symbol path: local directories
// first, then symbol servers over HTTP, copying what it downloads into the
// entry's downstream cache so the next run is offline.
type Store struct {
	*Local
	Servers []Entry
	Offline bool          // never download
	Timeout time.Duration // per request; 0 means 30 s
	Retries int           // extra attempts after a network error or 5xx; 404 is final
	Client  *http.Client
	MaxSize int64 // largest file it downloads; 0 means 1 GiB
}

// NewStore builds a store from a parsed symbol path.
func NewStore(entries []Entry) *Store {
	s := &Store{Local: NewLocal(), Retries: 2}
	for _, e := range entries {
		if e.Server != "" {
			s.Servers = append(s.Servers, e)
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
	if derr := s.fetch(name, ImageKey(timestamp, size)); derr != nil {
		return nil, fmt.Errorf("%v; download: %v", err, derr)
	}
	s.forget("" + strings.ToLower(name) + "/" + ImageKey(timestamp, size))
	return s.Local.Image(name, timestamp, size)
}

// PDB finds a PDB locally or downloads it.
func (s *Store) PDB(name, key string) (*pdb.File, error) {
	f, err := s.Local.PDB(name, key)
	if err == nil || s.Offline || len(s.Servers) == 0 {
		return f, err
	}
	if derr := s.fetch(name, key); derr != nil {
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

// fetch downloads name/key/name from the first server that has it into
// that server's first cache, and makes the cache searchable.
func (s *Store) fetch(name, key string) error {
	var errs []string
	for _, srv := range s.Servers {
		if len(srv.Caches) == 0 {
			errs = append(errs, srv.Server+": no cache directory to store downloads in")
			continue
		}
		dst := filepath.Join(srv.Caches[0], name, key, name)
		err := s.download(srv.Server+"/"+name+"/"+key+"/"+name, dst)
		if err == nil {
			s.addDir(srv.Caches[0])
			return nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", srv.Server, err))
	}
	return errors.New(strings.Join(errs, "; "))
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

// download fetches url into dst through a temporary file, retrying network
// errors and server errors.
func (s *Store) download(url, dst string) error {
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
	var last error
	for attempt := 0; attempt <= s.Retries; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
		err := s.downloadOnce(client, url, dst, timeout, maxSize)
		if err == nil || errors.Is(err, errNotFound) {
			return err
		}
		last = err
	}
	return last
}

type retryable struct{ error }

func (s *Store) downloadOnce(client *http.Client, url, dst string, timeout time.Duration, maxSize int64) error {
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
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, maxSize+1))
	if err == nil && n > maxSize {
		err = fmt.Errorf("file is larger than %d bytes", maxSize)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return retryable{err}
	}
	return os.Rename(tmp.Name(), dst)
}

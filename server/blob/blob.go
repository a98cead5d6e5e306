// Package blob keeps the bytes of uploaded dumps. The server stages each
// upload in a local file, checks it, and only then puts it into a Store
// under a key derived from its SHA-256; the Store interface lets object
// storage (S3 and the like) join the local directory implemented here.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// ErrBadKey is returned for a key that is not one the server makes.
var ErrBadKey = errors.New("invalid blob key")

// keyRe is the only shape of key accepted: two hex digits, a slash, the
// hex SHA-256 and a kind extension. Nothing a client sends reaches a path
// without passing it.
var keyRe = regexp.MustCompile(`^[0-9a-f]{2}/[0-9a-f]{64}\.(dmp|dmp\.gz|zip|cab|evtx)$`)

// ValidKey reports whether key has the shape of a blob key.
func ValidKey(key string) bool { return keyRe.MatchString(key) }

// Store keeps blobs by key. Put must make the blob durable before it
// returns: the server acknowledges an upload only afterwards.
type Store interface {
	// Put stores the contents of the staged file src under key,
	// replacing any blob with that key (keys name their content, so
	// a replacement has the same bytes). src is left for the caller to
	// close and remove.
	Put(ctx context.Context, key string, src *os.File) error
	// Open opens a blob for reading.
	Open(ctx context.Context, key string) (Reader, error)
	// Exists reports whether a blob is stored.
	Exists(ctx context.Context, key string) (bool, error)
}

// Reader reads a stored blob.
type Reader interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// RangeReader is implemented by stores that can read part of a blob
// without fetching all of it (object storage, whose Open copies the whole
// object): a download of a byte range then costs only that range.
type RangeReader interface {
	// SizeOf returns a blob's size; an error matching os.ErrNotExist
	// when there is none.
	SizeOf(ctx context.Context, key string) (int64, error)
	// OpenRange reads n bytes of a blob from off; n < 0 reads to its end.
	OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
}

// Pather is implemented by stores that keep blobs as local files, so that
// readers that want a path (fleet's archive walker) need no copy.
type Pather interface {
	Path(key string) (string, error)
}

// Dir is a Store in a local directory: blobs/ab/abcdef….dmp.
type Dir struct {
	root string
}

// NewDir returns a Store under root, creating it.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, err
	}
	return &Dir{root: root}, nil
}

var _ interface {
	Store
	Pather
} = (*Dir)(nil)

// Path implements Pather.
func (d *Dir) Path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put implements Store: the data is copied to a temporary file next to its
// final name, synced, renamed into place, and the folder synced, so after a
// crash the blob is either absent or whole.
func (d *Dir) Put(ctx context.Context, key string, src *os.File) error {
	dst, err := d.Path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".put-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, io.NewSectionReader(src, 0, 1<<62)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	done = true
	return syncDir(dir)
}

// Open implements Store.
func (d *Dir) Open(_ context.Context, key string) (Reader, error) {
	p, err := d.Path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return fileReader{f, st.Size()}, nil
}

// Exists implements Store.
func (d *Dir) Exists(_ context.Context, key string) (bool, error) {
	p, err := d.Path(key)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, err
}

type fileReader struct {
	*os.File
	size int64
}

func (f fileReader) Size() int64 { return f.size }

// Package cloudblob keeps uploaded dumps in object storage through the
// Go CDK (gocloud.dev/blob): S3 and S3-compatible stores (MinIO, Ceph,
// Garage…) by s3:// URLs, and, for tests and single machines, file:// and
// mem:// buckets. Several server instances share one bucket.
//
// An object is written in one request that completes only when the store
// has it, so Put returns only once the upload is durable. Analysis reads
// a dump at many scattered offsets, which would be one request each: Open
// copies the object to a local temporary file instead and reads that.
// Downloads, which read a dump once from start to end (or one range of
// it), stream it with OpenRange.
package cloudblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets
	_ "gocloud.dev/blob/memblob"  // mem:// buckets
	_ "gocloud.dev/blob/s3blob"   // s3:// buckets
	"gocloud.dev/gcerrors"

	bcblob "github.com/bugcheck/bugcheck/server/blob"
)

// Bucket is a blob.Store in an object storage bucket.
type Bucket struct {
	b   *blob.Bucket
	tmp string
}

var _ interface {
	bcblob.Store
	bcblob.RangeReader
} = (*Bucket)(nil)

// Open opens the bucket at url, e.g.
// s3://bucket?region=eu-west-1, or for an S3-compatible server
// s3://bucket?endpoint=http://minio:9000&region=us-east-1&use_path_style=true
// (a prefix=dumps/ parameter keeps the objects under a prefix). S3
// credentials come from the usual AWS environment variables and files.
// tempDir holds the local copies Open makes; it must exist.
func Open(ctx context.Context, url, tempDir string) (*Bucket, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	ok, err := b.IsAccessible(ctx)
	if err == nil && !ok {
		err = errors.New("the bucket does not exist")
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return New(b, tempDir), nil
}

// New returns a Store over an open bucket; Close closes the bucket.
func New(b *blob.Bucket, tempDir string) *Bucket { return &Bucket{b: b, tmp: tempDir} }

// Close closes the bucket.
func (s *Bucket) Close() error { return s.b.Close() }

// Put implements blob.Store: the object is visible, and durable, only
// once the writer's Close returns without error; a failed copy cancels
// the write, so no partial object is ever stored.
func (s *Bucket) Put(ctx context.Context, key string, src *os.File) error {
	if !bcblob.ValidKey(key) {
		return fmt.Errorf("%w: %q", bcblob.ErrBadKey, key)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, io.NewSectionReader(src, 0, 1<<62)); err != nil {
		cancel()
		w.Close()
		return err
	}
	return w.Close()
}

// Open implements blob.Store. A missing object is an error matching
// os.ErrNotExist, as for a local directory.
func (s *Bucket) Open(ctx context.Context, key string) (bcblob.Reader, error) {
	if !bcblob.ValidKey(key) {
		return nil, fmt.Errorf("%w: %q", bcblob.ErrBadKey, key)
	}
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("%s: %w", key, os.ErrNotExist)
		}
		return nil, err
	}
	defer r.Close()
	f, err := os.CreateTemp(s.tmp, "blob-*")
	if err != nil {
		return nil, err
	}
	sp := &spooled{File: f}
	sp.size, err = io.Copy(f, r)
	if err == nil && sp.size != r.Size() {
		err = fmt.Errorf("%s: read %d bytes of %d", key, sp.size, r.Size())
	}
	if err != nil {
		sp.Close()
		return nil, err
	}
	return sp, nil
}

// SizeOf implements blob.RangeReader.
func (s *Bucket) SizeOf(ctx context.Context, key string) (int64, error) {
	if !bcblob.ValidKey(key) {
		return 0, fmt.Errorf("%w: %q", bcblob.ErrBadKey, key)
	}
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return 0, fmt.Errorf("%s: %w", key, os.ErrNotExist)
		}
		return 0, err
	}
	return a.Size, nil
}

// OpenRange implements blob.RangeReader: one ranged request, read as it
// streams.
func (s *Bucket) OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if !bcblob.ValidKey(key) {
		return nil, fmt.Errorf("%w: %q", bcblob.ErrBadKey, key)
	}
	r, err := s.b.NewRangeReader(ctx, key, off, n, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("%s: %w", key, os.ErrNotExist)
		}
		return nil, err
	}
	return r, nil
}

// Exists implements blob.Store.
func (s *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	if !bcblob.ValidKey(key) {
		return false, fmt.Errorf("%w: %q", bcblob.ErrBadKey, key)
	}
	return s.b.Exists(ctx, key)
}

// spooled is a local copy of an object, removed when closed.
type spooled struct {
	*os.File
	size int64
}

func (s *spooled) Size() int64 { return s.size }

func (s *spooled) Close() error {
	err := s.File.Close()
	if rerr := os.Remove(s.File.Name()); err == nil {
		err = rerr
	}
	return err
}

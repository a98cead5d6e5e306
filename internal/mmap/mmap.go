// Package mmap opens files for random access by memory-mapping them
// read-only, so that a multi-gigabyte crash dump can be read anywhere without
// loading it and without a system call per small read.
//
// Unix systems map with syscall.Mmap, Windows with CreateFileMapping and
// MapViewOfFile (all in package syscall, so no cgo). Where mapping is not
// available or fails (other systems, a file larger than the address space
// of a 32-bit process, an empty file), the ReaderAt falls back to reading
// through the open file.
//
// Small reads copy from the mapping. Large reads (at least LargeRead bytes)
// go through the file instead: the kernel copies at the same speed, and the
// pages do not become part of the process's resident set, so streaming a
// whole dump does not grow the process to the size of the dump. On Linux,
// large mappings are advised random access, and when scattered small reads
// keep faulting pages in while the process has more than 64 MB of file
// pages mapped, the mapping's page-table entries are dropped (the pages
// stay in the page cache), and while small reads keep faulting they go
// through the file for a while, so random reads over a 32 GB dump keep the
// process small too.
package mmap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// LargeRead is the size from which ReadAt reads through the file rather
// than copying from the mapping.
const LargeRead = 256 << 10

// ErrClosed is returned by reads after Close.
var ErrClosed = errors.New("mmap: file already closed")

// ReaderAt reads a file through a read-only memory mapping. It is safe for
// concurrent reads; Close must not run concurrently with them.
type ReaderAt struct {
	f      *os.File
	data   []byte // the mapping; nil when the file is not mapped
	size   int64
	unmap  func() error
	resid  residency
	closed bool
}

// Open opens and maps the named file.
func Open(name string) (*ReaderAt, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &ReaderAt{f: f, size: st.Size()}
	if r.size > 0 && int64(int(r.size)) == r.size {
		// A failed mapping is not an error: reads go through the file.
		if data, unmap, err := mapFile(f, r.size); err == nil {
			r.data, r.unmap = data, unmap
			r.resid.init(r.data)
		}
	}
	return r, nil
}

// Size returns the size of the file.
func (r *ReaderAt) Size() int64 { return r.size }

// Mapped reports whether the file is memory-mapped.
func (r *ReaderAt) Mapped() bool { return r.data != nil }

// Name returns the name of the file as passed to Open.
func (r *ReaderAt) Name() string { return r.f.Name() }

// ReadAt implements io.ReaderAt. A file that shrinks while mapped gives an
// error rather than crashing the process.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("mmap: negative offset %d", off)
	}
	if r.data == nil || len(p) >= LargeRead || r.resid.directRead() {
		return r.f.ReadAt(p, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n, err := r.copyAt(p, off)
	if err != nil {
		return n, err
	}
	r.resid.touch(off, n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// copyAt copies from the mapping, turning a fault (the file was truncated
// under the mapping, an I/O error) into an error.
func (r *ReaderAt) copyAt(p []byte, off int64) (n int, err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if recover() != nil {
			n, err = 0, fmt.Errorf("mmap: %s: fault reading %d bytes at %#x (file changed or I/O error)", r.f.Name(), len(p), off)
		}
	}()
	return copy(p, r.data[off:]), nil
}

// Close unmaps and closes the file.
func (r *ReaderAt) Close() error {
	if r.closed {
		return ErrClosed
	}
	r.closed = true
	var err error
	if r.unmap != nil {
		err = r.unmap()
	}
	r.data = nil
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

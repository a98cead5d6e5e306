package fleet

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// Defaults for Options.
const (
	// DefaultMaxInflate caps the size of a compressed dump decompressed into
	// memory. Small memory dumps are kilobytes to a few megabytes; a
	// compressed complete memory dump has to be unpacked first.
	DefaultMaxInflate = 256 << 20

	// smallFile is the size up to which a plain file is read whole into
	// memory: one read serves both the hash and the parser, which
	// otherwise issues many small ReadAt calls.
	smallFile = 16 << 20
)

// InputError reports an input that could not be read: a missing file, an
// unreadable folder, a damaged archive or archive member, a pattern that
// matches nothing.
type InputError struct {
	Input string // the input's name, as Result.Name gives it
	Err   error
}

func (e *InputError) Error() string { return e.Input + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// ErrNoMatch is wrapped by the error for a glob pattern that matches no file.
var ErrNoMatch = errors.New("no file matches the pattern")

// ErrTooLarge is wrapped by the error for a compressed dump larger than
// Options.MaxInflate once decompressed.
var ErrTooLarge = errors.New("compressed dump too large to analyse in memory; unpack it first")

// input is one dump to analyse: a file, or a member of an archive.
type input struct {
	name    string // path, with "!member" appended for archive members
	base    string // the dump's own file name, as its report names it
	dir     string // the folder it came from (for archive members: archive!folder)
	machine string // the machine it came from, as far as the path tells
	open    func() (*content, error)
	release func() // called once when done with the input (archive refcount)
	err     error  // enumeration failure
}

// content is an opened dump.
type content struct {
	r     io.ReaderAt
	size  int64
	data  []byte // the whole dump when it is held in memory
	close func() error
}

func memContent(b []byte) *content {
	return &content{r: bytes.NewReader(b), size: int64(len(b)), data: b, close: func() error { return nil }}
}

type kind int

const (
	kindOther kind = iota
	kindDump
	kindZip
	kindGzip
	kindCab
)

// kindOf classifies a file by name. Inside folders and archives only
// these kinds are picked up; a file named on the command line is read as a
// dump unless its name says archive.
func kindOf(name string) kind {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".dmp"):
		return kindDump
	case strings.HasSuffix(n, ".zip"):
		return kindZip
	case strings.HasSuffix(n, ".dmp.gz"):
		return kindGzip
	case strings.HasSuffix(n, ".cab"):
		return kindCab
	}
	return kindOther
}

// walker enumerates inputs.
type walker struct {
	ctx        context.Context
	maxInflate int64
	fn         func(input) error
}

// walk calls fn for every dump args name, in order: arguments in the order
// given, folders in lexical order, archive members in archive order.
// Problems become inputs carrying an error so that they are reported in
// place with the rest.
func walk(ctx context.Context, args []string, maxInflate int64, fn func(input) error) error {
	w := &walker{ctx: ctx, maxInflate: maxInflate, fn: fn}
	for _, a := range args {
		if err := w.arg(a); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) emit(in input) error {
	if err := w.ctx.Err(); err != nil {
		if in.release != nil {
			in.release()
		}
		return err
	}
	return w.fn(in)
}

func (w *walker) fail(name string, err error) error {
	return w.emit(input{name: name, base: filepath.Base(name), dir: filepath.Dir(name), machine: fileMachine(name), err: &InputError{Input: name, Err: err}})
}

func (w *walker) arg(a string) error {
	st, err := os.Stat(a)
	if err != nil && strings.ContainsAny(a, "*?[") {
		matches, gerr := filepath.Glob(a)
		if gerr != nil {
			return w.fail(a, gerr)
		}
		if len(matches) == 0 {
			return w.fail(a, ErrNoMatch)
		}
		for _, m := range matches {
			if err := w.path(m, true); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return w.fail(a, unwrapPath(err))
	}
	if st.IsDir() {
		return w.dir(a)
	}
	return w.file(a, true)
}

// path handles a glob match: a folder or a file.
func (w *walker) path(p string, explicit bool) error {
	st, err := os.Stat(p)
	if err != nil {
		return w.fail(p, unwrapPath(err))
	}
	if st.IsDir() {
		return w.dir(p)
	}
	return w.file(p, explicit)
}

func (w *walker) dir(root string) error {
	if st, err := os.Lstat(root); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		// WalkDir does not follow a symbolic link, even as its root;
		// the trailing separator makes the root the folder it names.
		// Links below the root are still not followed (no cycles).
		root += string(filepath.Separator)
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && d == nil {
				return w.fail(p, unwrapPath(err))
			}
			if ferr := w.fail(p, unwrapPath(err)); ferr != nil {
				return ferr
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if kindOf(d.Name()) == kindOther {
			return nil
		}
		return w.file(p, false)
	})
}

// file handles one file; explicit files named on the command line are
// dumps unless their name says archive.
func (w *walker) file(p string, explicit bool) error {
	k := kindOf(p)
	if explicit && k == kindOther {
		if strings.HasSuffix(strings.ToLower(p), ".gz") {
			k = kindGzip
		} else {
			k = kindDump
		}
	}
	switch k {
	case kindZip:
		return w.zip(p)
	case kindCab:
		return w.cab(p)
	case kindGzip:
		return w.emit(input{name: p, base: strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)), dir: filepath.Dir(p), machine: fileMachine(p),
			open: func() (*content, error) { return openGzipFile(p, w.maxInflate) }})
	case kindDump:
		return w.emit(input{name: p, base: filepath.Base(p), dir: filepath.Dir(p), machine: fileMachine(p), open: func() (*content, error) { return openFile(p) }})
	}
	return nil
}

// sharedFile closes an archive once every member handed out is done.
type sharedFile struct {
	f    *os.File
	refs atomic.Int64
}

func (s *sharedFile) release() {
	if s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

func (w *walker) zip(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return w.fail(p, unwrapPath(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return w.fail(p, err)
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return w.fail(p, fmt.Errorf("reading zip archive: %w", err))
	}
	sh := &sharedFile{f: f}
	sh.refs.Store(1) // the walker's own reference
	defer sh.release()
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		k := kindOf(zf.Name)
		if k != kindDump && k != kindGzip { // no archives inside archives
			continue
		}
		name := p + "!" + zf.Name
		dir := p
		if d := path.Dir(zf.Name); d != "." && d != "/" {
			dir = p + "!" + d
		}
		base := path.Base(zf.Name)
		if k == kindGzip {
			base = strings.TrimSuffix(base, path.Ext(base))
		}
		sh.refs.Add(1)
		in := input{name: name, base: base, dir: dir, machine: memberMachine(p, zf.Name), release: sh.release,
			open: func() (*content, error) { return openZipMember(f, st.Size(), zf, k == kindGzip, w.maxInflate) }}
		if err := w.emit(in); err != nil {
			return err
		}
	}
	return nil
}

// fileMachine names the machine of a dump file by its folder, less a last
// Minidump element: the folder Windows writes small dumps to says nothing,
// the one above it (a copy per computer) does.
func fileMachine(p string) string {
	d := filepath.Dir(p)
	if strings.EqualFold(filepath.Base(d), "Minidump") {
		d = filepath.Dir(d)
	}
	return d
}

// memberMachine names the machine of an archive member: the folder inside
// the archive (less a last Minidump element) when there is one, as in a
// zip of every computer's folder, else the machine of the archive itself,
// as for the cabinet of one crash that Windows Error Reporting uploads.
func memberMachine(archive, member string) string {
	d := path.Dir(member)
	if strings.EqualFold(path.Base(d), "Minidump") {
		d = path.Dir(d)
	}
	if d == "." || d == "/" || d == "" {
		return fileMachine(archive)
	}
	return archive + "!" + d
}

// unwrapPath drops the *fs.PathError wrapper, whose path the report
// already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func openFile(p string) (*content, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, unwrapPath(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, unwrapPath(err)
	}
	if st.Size() <= smallFile {
		b := make([]byte, st.Size())
		_, err := io.ReadFull(f, b)
		f.Close()
		if err != nil {
			return nil, unwrapPath(err)
		}
		return memContent(b), nil
	}
	return &content{r: f, size: st.Size(), close: f.Close}, nil
}

func openGzipFile(p string, limit int64) (*content, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	return inflateGzip(f, limit)
}

// inflateGzip decompresses a gzip stream into memory, refusing more than
// limit bytes whatever the header claims.
func inflateGzip(r io.Reader, limit int64) (*content, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading gzip stream: %w", err)
	}
	defer zr.Close()
	return readLimited(zr, limit, "gzip")
}

func readLimited(r io.Reader, limit int64, what string) (*content, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing %s data: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, limit)
	}
	return memContent(b), nil
}

// openZipMember reads a member of a zip archive: stored members larger
// than a small dump are read in place through a section of the archive,
// everything else is decompressed into memory.
func openZipMember(f *os.File, archiveSize int64, zf *zip.File, gz bool, limit int64) (*content, error) {
	if zf.Method == zip.Store && !gz && zf.UncompressedSize64 > smallFile {
		off, err := zf.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("zip member: %w", err)
		}
		size := int64(zf.UncompressedSize64)
		if zf.CompressedSize64 != zf.UncompressedSize64 || size < 0 || off > archiveSize || size > archiveSize-off {
			return nil, fmt.Errorf("zip member: stored size %d at offset %#x does not fit the archive (%d bytes)", size, off, archiveSize)
		}
		return &content{r: io.NewSectionReader(f, off, size), size: size, close: func() error { return nil }}, nil
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("zip member: %w", err)
	}
	defer rc.Close()
	if gz {
		return inflateGzip(rc, limit)
	}
	return readLimited(rc, limit, "zip")
}

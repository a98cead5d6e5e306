package server

import (
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/cab"
	"github.com/bugcheck/bugcheck/server/blob"
	"github.com/bugcheck/bugcheck/server/store"
)

// serveDump sends a crash's dump, for analysts to open in WinDbg: the
// stored bytes of an uploaded .dmp, or the dump unpacked from the .dmp.gz,
// zip or cabinet it came in. Callers check the role (Config.DumpRole).
func (s *Server) serveDump(w http.ResponseWriter, r *http.Request) {
	sha := strings.ToLower(r.PathValue("sha"))
	if !validSHA(sha) {
		s.fail(w, r, errorf(http.StatusBadRequest, "not a SHA-256: want 64 hex digits"))
		return
	}
	ctx := r.Context()
	c, err := s.cfg.Store.Crash(ctx, sha)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveStored(w, r, sha, dumpFileName(c), func() (dumpContent, time.Time, error) {
		u, err := s.cfg.Store.Upload(ctx, c.UploadID)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("crash %s: its upload %d: %w", sha, c.UploadID, err)
		}
		d, err := s.openDump(ctx, c, u)
		return d, u.Received, err
	})
}

// serveUpload sends an upload's stored bytes exactly as received: the
// .dmp, .dmp.gz, zip, cabinet or System.evtx. It is the only way to get a
// dump whose analysis failed, which has no crash to download it by, and
// those are the dumps an analyst most needs to open in WinDbg. Callers
// check the role, Config.DumpRole as for dumps: an upload holds the memory
// of the machines that crashed, or a machine's event log, neither of which
// its reports show.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, errorf(http.StatusBadRequest, "not an upload id: want a positive number"))
		return
	}
	ctx := r.Context()
	u, err := s.cfg.Store.Upload(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveStored(w, r, u.SHA256, uploadFileName(u), func() (dumpContent, time.Time, error) {
		d, err := s.openUpload(ctx, u)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("upload %d: %w", u.ID, err)
		}
		return d, u.Received, nil
	})
}

// serveStored sends what open opens, whose SHA-256 is sha, as an
// attachment saved under name. http.ServeContent does HEAD, Range and the conditional requests; the
// ETag is the SHA-256, so content never changes under its tag, and a
// revalidation is answered before open, which may unpack an archive.
func (s *Server) serveStored(w http.ResponseWriter, r *http.Request, sha, name string, open func() (dumpContent, time.Time, error)) {
	etag := `"` + sha + `"`
	cache := func() {
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "private, no-cache")
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && etagMatches(r.Header.Get("If-None-Match"), etag) {
		cache()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	d, modtime, err := open()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer d.Close()
	cache()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", contentDisposition(name))
	http.ServeContent(w, r, "", modtime, d)
}

// dumpContent is an opened dump.
type dumpContent interface {
	io.ReadSeeker
	io.Closer
}

// readerContent reads a blob.Reader from start to end.
type readerContent struct {
	*io.SectionReader
	io.Closer
}

func contentOf(r blob.Reader) dumpContent {
	return readerContent{io.NewSectionReader(r, 0, r.Size()), r}
}

// rangeContent reads a blob of a blob.RangeReader: nothing is fetched
// until the first Read, and then from the offset sought on, so a range
// request fetches about that range and a revalidation or HEAD nothing.
type rangeContent struct {
	ctx       context.Context
	rr        blob.RangeReader
	key       string
	size, off int64
	rc        io.ReadCloser // reading from off; nil until a Read
}

func (r *rangeContent) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.size
	}
	if off < 0 {
		return 0, errors.New("seek before the start")
	}
	if off != r.off && r.rc != nil {
		r.rc.Close()
		r.rc = nil
	}
	r.off = off
	return off, nil
}

func (r *rangeContent) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.rc == nil {
		rc, err := r.rr.OpenRange(r.ctx, r.key, r.off, r.size-r.off)
		if err != nil {
			return 0, err
		}
		r.rc = rc
	}
	n, err := r.rc.Read(p)
	r.off += int64(n)
	if err == io.EOF && r.off < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *rangeContent) Close() error {
	if r.rc != nil {
		return r.rc.Close()
	}
	return nil
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// etagMatches implements If-None-Match's weak comparison for one tag.
func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// openDump opens the dump of crash c, found in upload u.
func (s *Server) openDump(ctx context.Context, c *store.Crash, u *store.Upload) (dumpContent, error) {
	if u.Kind == "dmp" && u.SHA256 == c.SHA256 { // the stored bytes themselves
		d, err := s.openUpload(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("crash %s: upload %d: %w", c.SHA256, u.ID, err)
		}
		return d, nil
	}
	rd, err := s.cfg.Blobs.Open(ctx, u.BlobKey())
	if err != nil {
		return nil, fmt.Errorf("crash %s: opening upload %d: %w", c.SHA256, u.ID, err)
	}
	defer rd.Close()
	d, err := s.extractDump(rd, c, u)
	if err != nil {
		return nil, fmt.Errorf("crash %s: unpacking it from upload %d (%s): %w", c.SHA256, u.ID, u.Kind, err)
	}
	return contentOf(d), nil
}

// openUpload opens u's stored bytes, read in place: by ranges from a store
// that reads them, else from the blob's reader.
func (s *Server) openUpload(ctx context.Context, u *store.Upload) (dumpContent, error) {
	key := u.BlobKey()
	if rr, ok := s.cfg.Blobs.(blob.RangeReader); ok {
		size, err := rr.SizeOf(ctx, key)
		if err != nil {
			return nil, err
		}
		return &rangeContent{ctx: ctx, rr: rr, key: key, size: size}, nil
	}
	rd, err := s.cfg.Blobs.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return contentOf(rd), nil
}

// member is a dump inside an upload that may be the one wanted.
type member struct {
	name  string
	limit int64 // most bytes it may unpack to
	open  func() (io.Reader, error)
}

// extractDump unpacks the dump with c's SHA-256 from the archive rd into a
// temporary file, which its Close removes. The member c names is tried
// first; as archives may hold several members of one name, or names the
// worker could not tell apart, every dump member is a candidate, and the
// hash decides. Members are bounded by MaxInflate as analysis bounds them.
func (s *Server) extractDump(rd blob.Reader, c *store.Crash, u *store.Upload) (d blob.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("unreadable archive: %v", p)
		}
	}()
	size := rd.Size()
	var cands []member
	switch u.Kind {
	case "dmp", "dmp.gz":
		cands = append(cands, member{u.Name, s.cfg.MaxInflate, func() (io.Reader, error) {
			if u.Kind == "dmp" {
				return io.NewSectionReader(rd, 0, size), nil
			}
			return gzip.NewReader(io.NewSectionReader(rd, 0, size))
		}})
	case "zip":
		zr, err := zip.NewReader(rd, size)
		if err != nil {
			return nil, err
		}
		for _, zf := range zr.File {
			n := strings.ToLower(zf.Name)
			gz := strings.HasSuffix(n, ".dmp.gz")
			if zf.FileInfo().IsDir() || !gz && !strings.HasSuffix(n, ".dmp") {
				continue
			}
			limit := s.cfg.MaxInflate
			if zf.Method == zip.Store && !gz {
				limit = max(limit, size) // read in place by the analysis, unbounded but by the archive
			}
			cands = append(cands, member{zf.Name, limit, func() (io.Reader, error) {
				rc, err := zf.Open()
				if err != nil || !gz {
					return rc, err
				}
				return gzip.NewReader(rc)
			}})
		}
	case "cab":
		cr, err := cab.NewReader(rd, size, "upload")
		if err != nil {
			return nil, err
		}
		for _, cf := range cr.Files() {
			if !strings.HasSuffix(strings.ToLower(cf.Name), ".dmp") {
				continue
			}
			cands = append(cands, member{strings.ReplaceAll(cf.Name, `\`, "/"), s.cfg.MaxInflate, func() (io.Reader, error) { return cr.Open(cf) }})
		}
	default:
		return nil, fmt.Errorf("an upload of kind %s holds no dump", u.Kind)
	}
	// Members named as the crash first, in archive order.
	var ordered []member
	for _, named := range []bool{true, false} {
		for _, m := range cands {
			if (m.name == c.Member) == named {
				ordered = append(ordered, m)
			}
		}
	}
	f, err := os.CreateTemp(s.cfg.TempDir, "dump-*")
	if err != nil {
		return nil, err
	}
	t := &tempDump{File: f}
	for _, m := range ordered {
		ok, err := t.fill(m, c.SHA256)
		if err != nil {
			t.Close()
			return nil, err
		}
		if ok {
			return t, nil
		}
	}
	t.Close()
	return nil, errors.New("no member of the archive has the dump's SHA-256")
}

// tempDump is a dump unpacked into a temporary file.
type tempDump struct {
	*os.File
	size int64
}

// fill unpacks m into the file and reports whether it has SHA-256 sha. A
// member that cannot be read or is too large is not it; only trouble
// with the temporary file is an error.
func (t *tempDump) fill(m member, sha string) (bool, error) {
	if _, err := t.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	if err := t.Truncate(0); err != nil {
		return false, err
	}
	r, err := m.open()
	if err != nil {
		return false, nil
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(t.File, h), io.LimitReader(r, m.limit+1))
	var pe *os.PathError
	switch {
	case errors.As(err, &pe): // writing the temporary file
		return false, err
	case err != nil || n > m.limit:
		return false, nil
	}
	t.size = n
	return hex.EncodeToString(h.Sum(nil)) == sha, nil
}

func (t *tempDump) Size() int64 { return t.size }

func (t *tempDump) Close() error {
	err := t.File.Close()
	if rerr := os.Remove(t.File.Name()); err == nil {
		err = rerr
	}
	return err
}

// dumpFileName is the name a downloaded dump is saved under: the name it
// was uploaded with (an archive member's own name), or <sha>.dmp when the
// client gave none; always ending in .dmp.
func dumpFileName(c *store.Crash) string {
	name := path.Base(strings.ReplaceAll(c.Member, `\`, "/"))
	if strings.HasSuffix(strings.ToLower(name), ".dmp.gz") {
		name = name[:len(name)-3]
	}
	return saveName(name, c.SHA256, "dmp")
}

// uploadFileName is the name a downloaded upload is saved under: the name
// it was uploaded with, or <sha>.<kind> when the client gave none; always
// ending in its kind (.dmp, .dmp.gz, .zip, .cab, .evtx), which the content
// decided, so that the tools that open it know it.
func uploadFileName(u *store.Upload) string {
	return saveName(path.Base(strings.ReplaceAll(u.Name, `\`, "/")), u.SHA256, u.Kind)
}

// saveName cleans a client's file name for a Content-Disposition header
// and a file system, and ends it in .ext; without a name (ingest names it
// "upload"), it is <sha>.<ext>.
func saveName(name, sha, ext string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`"/\:*?<>|%;`, r) {
			return '_' // nothing a file system or a header would read specially
		}
		return r
	}, cleanLabel(name))
	name = strings.TrimLeft(strings.TrimSpace(name), ".") // no hidden files
	if r := []rune(name); len(r) > 100 {
		name = string(r[:100])
	}
	if name == "" || name == "." || name == "upload."+ext || name == "upload" {
		return sha + "." + ext
	}
	if !strings.HasSuffix(strings.ToLower(name), "."+ext) {
		name += "." + ext
	}
	return name
}

// contentDisposition makes an attachment header for name (which
// dumpFileName cleaned of quotes and backslashes): an ASCII form for every
// client, and the UTF-8 one (RFC 6266) when the name is not ASCII.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r >= 0x80 {
			return '_'
		}
		return r
	}, name)
	v := `attachment; filename="` + ascii + `"`
	if ascii == name {
		return v
	}
	var b strings.Builder
	for _, c := range []byte(name) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return v + "; filename*=UTF-8''" + b.String()
}

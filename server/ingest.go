package server

import (
	"archive/zip"
	"bytes"
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
	"strings"
	"unicode"

	"github.com/bugcheck/bugcheck/cab"
	"github.com/bugcheck/bugcheck/evtx"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/server/store"
)

// httpError is an error with the status code it answers with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status, fmt.Sprintf(format, args...)}
}

// ingest stages an upload, checks its content, makes it durable and
// records it. It returns the upload and whether it is new; the same bytes
// uploaded again return the first upload.
func (s *Server) ingest(ctx context.Context, body io.Reader, name, machine string) (*store.Upload, bool, error) {
	f, err := os.CreateTemp(s.cfg.TempDir, "upload-*")
	if err != nil {
		return nil, false, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(body, s.cfg.MaxUpload+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || n > s.cfg.MaxUpload:
		return nil, false, errorf(http.StatusRequestEntityTooLarge, "upload larger than %d bytes", s.cfg.MaxUpload)
	case err != nil:
		return nil, false, errorf(http.StatusBadRequest, "reading the upload: %v", err)
	case n == 0:
		return nil, false, errorf(http.StatusBadRequest, "empty upload")
	}
	kind, err := s.check(f, n)
	if err != nil {
		return nil, false, errorf(http.StatusUnprocessableEntity, "%v", err)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	if u, err := s.cfg.Store.UploadBySHA(ctx, sha); err == nil {
		return u, false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	u := &store.Upload{SHA256: sha, Kind: kind, Size: n, Name: cleanName(name, kind), Machine: cleanLabel(machine)}
	if err := s.cfg.Blobs.Put(ctx, u.BlobKey(), f); err != nil {
		return nil, false, fmt.Errorf("storing the upload: %w", err)
	}
	got, created, err := s.cfg.Store.AddUpload(ctx, u)
	if err != nil {
		return nil, false, fmt.Errorf("recording the upload: %w", err)
	}
	if created {
		s.notify()
	}
	return got, created, nil
}

var (
	sig64 = []byte("PAGEDU64")
	sig32 = []byte("PAGEDUMP")
)

func isDumpMagic(b []byte) bool { return bytes.HasPrefix(b, sig64) || bytes.HasPrefix(b, sig32) }

// check decides what an upload is by its content, never its name, and
// refuses anything that is not a crash dump or an archive holding at least
// one, and archives whose members claim more than the limits. It reads only
// headers and directories: analysis reads the rest, bounded the same way.
func (s *Server) check(f *os.File, size int64) (kind string, err error) {
	defer func() {
		if p := recover(); p != nil {
			kind, err = "", fmt.Errorf("unreadable upload: %v", p)
		}
	}()
	head := make([]byte, 8)
	if _, err := f.ReadAt(head, 0); err != nil {
		return "", errors.New("too short to be a crash dump or an archive")
	}
	switch {
	case bytes.Equal(head, evtxMagic):
		return "evtx", s.checkEventLog(f, size)
	case isDumpMagic(head):
		if _, err := kdump.NewFile(f, size, "upload"); err != nil {
			return "", fmt.Errorf("not a readable crash dump: %s", errText(err))
		}
		return "dmp", nil
	case head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(io.NewSectionReader(f, 0, size))
		if err != nil {
			return "", fmt.Errorf("damaged gzip stream: %v", err)
		}
		b := make([]byte, 8)
		if _, err := io.ReadFull(zr, b); err != nil || !isDumpMagic(b) {
			return "", errors.New("the gzip stream does not hold a crash dump")
		}
		return "dmp.gz", nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(f, size)
		if err != nil {
			return "", fmt.Errorf("damaged zip archive: %v", err)
		}
		if len(zr.File) > s.cfg.MaxMembers {
			return "", fmt.Errorf("zip archive has %d members, more than %d", len(zr.File), s.cfg.MaxMembers)
		}
		dumps := 0
		for _, m := range zr.File {
			n := strings.ToLower(m.Name)
			if m.FileInfo().IsDir() || !(strings.HasSuffix(n, ".dmp") || strings.HasSuffix(n, ".dmp.gz")) {
				continue
			}
			dumps++
			// Stored members are read in place; compressed ones are
			// inflated into memory, so their claimed size is bounded
			// here and their real size again while inflating.
			if m.Method != zip.Store && m.UncompressedSize64 > uint64(s.cfg.MaxInflate) {
				return "", fmt.Errorf("zip member %s inflates to %d bytes, more than %d", cleanName(m.Name, ""), m.UncompressedSize64, s.cfg.MaxInflate)
			}
		}
		if dumps == 0 {
			return "", errors.New("the zip archive holds no .dmp or .dmp.gz file")
		}
		return "zip", nil
	case bytes.HasPrefix(head, []byte("MSCF")):
		cr, err := cab.NewReader(f, size, "upload")
		if err != nil {
			return "", fmt.Errorf("damaged cabinet: %s", errText(err))
		}
		files := cr.Files()
		if len(files) > s.cfg.MaxMembers {
			return "", fmt.Errorf("cabinet has %d members, more than %d", len(files), s.cfg.MaxMembers)
		}
		dumps := 0
		for _, m := range files {
			if !strings.HasSuffix(strings.ToLower(m.Name), ".dmp") {
				continue
			}
			dumps++
			if int64(m.Size) > s.cfg.MaxInflate {
				return "", fmt.Errorf("cabinet member %s is %d bytes, more than %d", cleanName(m.Name, ""), m.Size, s.cfg.MaxInflate)
			}
		}
		if dumps == 0 {
			return "", errors.New("the cabinet holds no .dmp file")
		}
		return "cab", nil
	}
	return "", errors.New("not a crash dump (PAGEDU64, PAGEDUMP), .dmp.gz, zip, cabinet or System event log (.evtx)")
}

var evtxMagic = []byte("ElfFile\x00")

// checkEventLog refuses an event log the server cannot keep, or one without
// a single chunk of records; damaged records are found, and reported, by
// the analysis.
func (s *Server) checkEventLog(f *os.File, size int64) error {
	if s.events() == nil {
		return errors.New("this server's store does not keep event logs")
	}
	lf, err := evtx.NewFile(f, size, "upload")
	if err != nil {
		return fmt.Errorf("not a readable event log: %s", errText(err))
	}
	chunks, err := lf.ChunkHeaders()
	if err != nil {
		return fmt.Errorf("not a readable event log: %s", errText(err))
	}
	if len(chunks) == 0 {
		return errors.New("the event log holds no chunk of records (no ElfChnk signature)")
	}
	return nil
}

// errText is an error without the "upload:" name the readers prefix.
func errText(err error) string {
	var fe *kdump.FormatError
	if errors.As(err, &fe) {
		return fmt.Sprintf("offset %#x: %s", fe.Offset, fe.Msg)
	}
	var ce *cab.FormatError
	if errors.As(err, &ce) {
		return fmt.Sprintf("offset %#x: %s", ce.Offset, ce.Msg)
	}
	var ee *evtx.FormatError
	if errors.As(err, &ee) {
		return fmt.Sprintf("offset %#x: %s", ee.Offset, ee.Msg)
	}
	return err.Error()
}

// cleanName keeps the last element of a client's file name, printable and
// short, for display; it never names a file on the server.
func cleanName(name, kind string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = cleanLabel(name)
	if name == "" || name == "." || name == "/" {
		name = "upload"
		if kind != "" {
			name += "." + kind
		}
	}
	return name
}

// cleanLabel drops control characters and bounds the length of a
// client-supplied label.
func cleanLabel(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 128 {
		s = string(r[:128])
	}
	return s
}

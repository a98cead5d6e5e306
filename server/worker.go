package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/fleet"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/report"
	"github.com/bugcheck/bugcheck/server/blob"
	"github.com/bugcheck/bugcheck/server/store"
)

// notify wakes idle workers after an upload.
func (s *Server) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// worker claims and runs jobs until ctx is done. Idle, it waits for an
// upload's wake-up or polls, so that jobs queued by another process
// (bugcheck reanalyze) or whose retry delay ran out are found too.
func (s *Server) worker(ctx context.Context, name string) {
	const poll = time.Second
	for ctx.Err() == nil {
		j, err := s.cfg.Store.ClaimJob(ctx, name, s.cfg.Lease)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claiming a job", "err", err)
			}
		}
		if j == nil {
			select {
			case <-ctx.Done():
			case <-s.wake:
			case <-time.After(poll):
			}
			continue
		}
		s.runJob(ctx, j)
	}
}

// transientError marks a failure worth retrying (storage trouble), as
// opposed to a dump that cannot be analysed.
type transientError struct{ err error }

func (e transientError) Error() string { return e.err.Error() }
func (e transientError) Unwrap() error { return e.err }

func (s *Server) runJob(ctx context.Context, j *store.Job) {
	// Renew the lease while the analysis runs (a complete memory dump
	// with symbol downloads can take long), so that no other worker
	// takes the job meanwhile.
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(max(s.cfg.Lease/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				if err := s.cfg.Store.ExtendJob(hctx, j, s.cfg.Lease); err != nil && hctx.Err() == nil {
					s.log.Warn("renewing a job's lease", "upload", j.UploadID, "err", err)
				}
			}
		}
	}()
	u, err := s.cfg.Store.Upload(ctx, j.UploadID)
	if err == nil && u.Kind == "evtx" {
		s.runEventJob(ctx, j, u)
		return
	}
	var crashes []store.Crash
	var errText string
	if err == nil {
		crashes, errText, err = s.analyzeUpload(ctx, u)
	}
	if ctx.Err() != nil {
		return // the lease runs out, or the next start recovers the job
	}
	if err != nil {
		if j.Attempts < maxAttempts {
			delay := time.Duration(1<<j.Attempts) * time.Second
			s.log.Warn("analysis failed; will retry", "upload", j.UploadID, "attempt", j.Attempts, "err", err)
			if rerr := s.cfg.Store.RetryJob(ctx, j, err.Error(), delay); rerr != nil {
				s.log.Error("requeueing a job", "upload", j.UploadID, "err", rerr)
			}
			return
		}
		errText = err.Error()
	}
	status := store.UploadDone
	if len(crashes) == 0 {
		status = store.UploadFailed
	}
	if err := s.cfg.Store.CompleteJob(ctx, j, crashes, status, errText); err != nil {
		s.log.Error("storing an analysis", "upload", j.UploadID, "err", err)
		return
	}
	s.log.Info("analysed", "upload", j.UploadID, "crashes", len(crashes), "status", status)
}

// analyzeUpload analyses every dump of an upload. errText describes dumps
// that could not be analysed; err is returned only for trouble worth a
// retry.
func (s *Server) analyzeUpload(ctx context.Context, u *store.Upload) (crashes []store.Crash, errText string, err error) {
	key := u.BlobKey()
	if u.Kind == "dmp" {
		rd, err := s.cfg.Blobs.Open(ctx, key)
		if err != nil {
			return nil, "", transientError{err}
		}
		defer rd.Close()
		c, err := analyzeDump(rd, rd.Size(), u.Name, s.cfg.Analyze)
		if err != nil {
			return nil, fleet.ErrorText(err), nil
		}
		c.SHA256, c.Member = u.SHA256, u.Name
		return []store.Crash{*c}, "", nil
	}

	// Archives and gzip files go through fleet's readers, which take a
	// path; a blob store without local files gets a temporary copy.
	p, cleanup, err := s.localPath(ctx, key)
	if err != nil {
		return nil, "", transientError{err}
	}
	defer cleanup()
	var failures []string
	failed := 0
	_, err = fleet.Run(ctx, []string{p}, fleet.Options{Jobs: 1, Analyze: s.cfg.Analyze, MaxInflate: s.cfg.MaxInflate}, func(r *fleet.Result) error {
		member := u.Name
		if i := strings.LastIndex(r.Name, "!"); i >= 0 {
			member = r.Name[i+1:]
		} else {
			member = strings.TrimSuffix(member, ".gz")
		}
		switch {
		case r.Status == fleet.StatusDuplicate:
			return nil
		case r.Status == fleet.StatusOK && r.SHA256 != "":
			c, err := crashOf(r.Report)
			if err != nil {
				return err
			}
			c.SHA256, c.Member = r.SHA256, member
			if i := strings.LastIndex(r.Machine, "!"); i >= 0 {
				c.Machine = r.Machine[i+1:] // the machine's folder inside the archive
			}
			crashes = append(crashes, *c)
		default:
			failed++
			if len(failures) < 5 {
				msg := "too large to hash"
				if r.Err != nil {
					msg = fleet.ErrorText(r.Err)
				}
				failures = append(failures, member+": "+msg)
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, "", err
	}
	if failed > 0 {
		errText = fmt.Sprintf("%d of %d dumps could not be analysed: %s", failed, failed+len(crashes), strings.Join(failures, "; "))
	}
	return crashes, errText, nil
}

// localPath returns a local file holding the blob.
func (s *Server) localPath(ctx context.Context, key string) (string, func(), error) {
	if pb, ok := s.cfg.Blobs.(blob.Pather); ok {
		p, err := pb.Path(key)
		return p, func() {}, err
	}
	rd, err := s.cfg.Blobs.Open(ctx, key)
	if err != nil {
		return "", nil, err
	}
	defer rd.Close()
	dir, err := os.MkdirTemp(s.cfg.TempDir, "blob-*")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	p := filepath.Join(dir, path.Base(key)) // a validated key: hex and a kind extension
	f, err := os.Create(p)
	if err == nil {
		_, err = io.Copy(f, io.NewSectionReader(rd, 0, rd.Size()))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return p, cleanup, nil
}

// analyzeDump analyses one dump; a parser panic on a hostile file is an
// error, not the end of the server.
func analyzeDump(r io.ReaderAt, size int64, name string, opt analyze.Options) (c *store.Crash, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("internal error analysing the dump: %v", p)
		}
	}()
	f, err := kdump.NewFile(r, size, name)
	if err != nil {
		return nil, err
	}
	return crashOf(analyze.Analyze(f, opt))
}

// crashOf turns a report into a crash row, keeping the report as the JSON
// the CLI writes.
func crashOf(r *analyze.Report) (*store.Crash, error) {
	if r == nil {
		return nil, errors.New("no report")
	}
	var b bytes.Buffer
	if err := report.JSON(&b, r); err != nil {
		return nil, err
	}
	c := &store.Crash{
		Bucket:        r.Bucket,
		Code:          r.BugCheck.Code,
		CodeName:      r.BugCheck.Name,
		Driver:        r.Culprit.Module,
		DriverVersion: fleet.DriverVersion(r),
		Confidence:    r.Culprit.Confidence,
		Summary:       r.Summary,
		OSBuild:       r.OS.Build,
		Report:        b.Bytes(),
	}
	if t, ok := fleet.CrashTime(r); ok {
		c.CrashTime = t.UTC()
	}
	return c, nil
}

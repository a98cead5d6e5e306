// Package server is bugcheck's crash collection server: machines upload
// crash dumps (or .zip, .cab and .dmp.gz archives of them) over an HTTP
// API, background workers analyse them with package analyze, and a
// versioned JSON API (docs/openapi.yaml) and server-rendered pages show
// crashes, buckets, drivers and machines. People sign in to the pages
// with a token (/login); the browser keeps a session id, never the token,
// and the session's role opens the upload form and the admin page.
// Analysts download a crash's dump, or an upload as received (a dump
// whose analysis failed has no crash), to open it in WinDbg, by default
// with an upload or admin role (Config.DumpRole). Every client, a token or
// else an IP address, has a budget of uploads, failed sign-ins and other
// requests per minute (Config.RateLimits); over it the answer is 429.
//
// State lives behind two interfaces: store.Store (uploads, the durable job
// queue, crashes, tokens; SQLite in package sqlitestore, PostgreSQL in
// package pgstore) and blob.Store (the uploaded bytes; a local directory
// in package blob, object storage in package cloudblob). Several instances
// may share a PostgreSQL database and a bucket behind a load balancer:
// any of them takes uploads and any analyses them. An upload is
// acknowledged only when its bytes are synced into the blob store and its
// row and job are committed in one transaction, so a crash at any point
// loses nothing acknowledged and leaves no half-written rows.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/fleet"
	"github.com/bugcheck/bugcheck/server/blob"
	"github.com/bugcheck/bugcheck/server/blob/cloudblob"
	"github.com/bugcheck/bugcheck/server/store"
	"github.com/bugcheck/bugcheck/server/store/pgstore"
	"github.com/bugcheck/bugcheck/server/store/sqlitestore"
)

// Defaults for Config.
const (
	DefaultMaxUpload  = 4 << 30 // a complete memory dump of a small machine
	DefaultMaxMembers = 1000
	DefaultLease      = 10 * time.Minute
	maxAttempts       = 5
)

// Config sets up a Server. Store, Blobs and TempDir are required.
type Config struct {
	Store   store.Store
	Blobs   blob.Store
	TempDir string // where uploads are staged before they are checked; the same file system as a Dir blob store is fastest

	Workers    int   // analysis workers; 0 means runtime.NumCPU()
	MaxUpload  int64 // largest upload accepted, in bytes; 0 means DefaultMaxUpload
	MaxInflate int64 // largest decompressed archive member; 0 means fleet.DefaultMaxInflate
	MaxMembers int   // most members an archive may have; 0 means DefaultMaxMembers

	// AnonymousRead lets requests without a token read the API and the
	// pages. Uploads always need an upload or admin token (or a page
	// session of one).
	AnonymousRead bool
	// SessionLifetime is how long a sign-in to the pages lasts; 0 means
	// DefaultSessionLifetime.
	SessionLifetime time.Duration

	// DumpRole is the role that may download the dumps themselves
	// (GET /api/v1/crashes/{sha}/dump, and the crash page's link) and the
	// uploads as received (GET /api/v1/uploads/{id}/file, and the upload
	// page's link); empty means store.RoleUpload, so upload or admin. A
	// dump holds the memory of the machine that crashed (passwords, keys,
	// the documents open at the time), and an event log the machine's
	// history, which their reports do not, so being allowed to read the
	// reports does not by default allow downloading them.
	DumpRole store.Role

	// RateLimits are the per-client request budgets; the zero value means
	// the defaults (DefaultRateUpload and so on).
	RateLimits RateLimits
	// TrustedProxies are the reverse proxies (load balancers) in front of
	// the server: a request from one of them is charged to the address
	// its X-Forwarded-For header names. Without them the header is
	// ignored, since any client can send it.
	TrustedProxies []netip.Prefix

	Analyze analyze.Options
	Lease   time.Duration // how long a worker holds a job before it is presumed dead; 0 means DefaultLease
	Logger  *slog.Logger  // nil discards

	clock func() time.Time // the rate limits' clock; nil is time.Now (tests set it)
}

// Server serves the API and pages and runs the analysis workers.
type Server struct {
	cfg     Config
	log     *slog.Logger
	wake    chan struct{}
	handler http.Handler
	pages   *pages
	id      string // worker name prefix

	apiRoutes []string // "GET /crashes/{sha}": what docs/openapi.yaml must describe
	limits    limits
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Blobs == nil || cfg.TempDir == "" {
		return nil, errors.New("server: Store, Blobs and TempDir are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.MaxInflate <= 0 {
		cfg.MaxInflate = fleet.DefaultMaxInflate
	}
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = DefaultMaxMembers
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.DumpRole == "" {
		cfg.DumpRole = store.RoleUpload
	}
	if !cfg.DumpRole.Valid() {
		return nil, fmt.Errorf("server: unknown dump role %q (read, upload or admin)", cfg.DumpRole)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.TempDir, 0o700); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	s := &Server{cfg: cfg, log: log, wake: make(chan struct{}, cfg.Workers), id: fmt.Sprintf("%s/%d", host, os.Getpid())}
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	s.pages = p
	s.limits = newLimits(cfg.RateLimits, cfg.clock)
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler: API, pages and static files, with
// security headers and cross-origin request protection.
func (s *Server) Handler() http.Handler { return s.handler }

// RunWorkers runs the analysis workers until ctx is done. Jobs left
// running by a previous process are made runnable first.
func (s *Server) RunWorkers(ctx context.Context) {
	if n, err := s.cfg.Store.RecoverJobs(ctx); err != nil {
		s.log.Error("recovering jobs", "err", err)
	} else if n > 0 {
		s.log.Info("recovered jobs of a previous run", "jobs", n)
	}
	var wg sync.WaitGroup
	for i := range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx, fmt.Sprintf("%s/%d", s.id, i))
		}()
	}
	wg.Wait()
}

// Drain runs workers until the queue is empty (no queued or running job
// left) or ctx is done: what `bugcheck reanalyze` does without a server.
func (s *Server) Drain(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunWorkers(ctx)
	}()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return ctx.Err()
		case <-t.C:
		}
		q, err := s.cfg.Store.Queue(ctx)
		if err != nil {
			cancel()
			<-done
			return err
		}
		if q.Queued == 0 && q.Running == 0 {
			cancel()
			<-done
			return nil
		}
	}
}

// ListenAndServe serves on addr and runs the workers until ctx is done,
// then shuts down gracefully. ready, when not nil, is called with the
// address listened on.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.RunWorkers(wctx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = hs.Shutdown(sctx)
		scancel()
	}
	cancel()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Data is a server's state: by default in a local folder (the SQLite
// database bugcheck.db and the blobs folder), or in PostgreSQL and an
// object storage bucket that several instances share; the tmp staging
// folder is always local.
type Data struct {
	Dir     string
	DB      *sqlitestore.DB // the folder's database; nil when Store is PostgreSQL
	Blobs   *blob.Dir       // the folder's blobs; nil when BlobStore is a bucket
	TempDir string

	Store     store.Store // DB, or the PostgreSQL database
	BlobStore blob.Store  // Blobs, or the bucket
	// Shared is set when Store may be shared with other instances: jobs
	// left running are then recovered only when their lease runs out.
	Shared bool

	closers []func() error
}

// DataOptions say where OpenDataWith keeps what is not in the folder.
type DataOptions struct {
	// DB is a PostgreSQL URL (postgres://user@host/db?search_path=s);
	// empty keeps the SQLite database in the folder.
	DB string
	// Blobs is a bucket URL (s3://bucket?region=…&endpoint=…, file://,
	// mem://); empty keeps the blobs in the folder.
	Blobs string
}

// OpenData opens (creating) the state folder dir.
func OpenData(ctx context.Context, dir string) (*Data, error) {
	return OpenDataWith(ctx, dir, DataOptions{})
}

// OpenDataWith opens (creating) the state folder dir, with the database
// and the blobs where opt says.
func OpenDataWith(ctx context.Context, dir string, opt DataOptions) (d *Data, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	// Staged files of a killed process were never acknowledged; those of
	// a server still running on the folder are young.
	if ents, err := os.ReadDir(tmp); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(filepath.Join(tmp, e.Name()))
			}
		}
	}
	d = &Data{Dir: dir, TempDir: tmp}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if opt.Blobs == "" {
		if d.Blobs, err = blob.NewDir(filepath.Join(dir, "blobs")); err != nil {
			return nil, err
		}
		d.BlobStore = d.Blobs
	} else {
		b, err := cloudblob.Open(ctx, opt.Blobs, tmp)
		if err != nil {
			return nil, err
		}
		d.BlobStore = b
		d.closers = append(d.closers, b.Close)
	}
	if opt.DB == "" {
		if d.DB, err = sqlitestore.Open(ctx, filepath.Join(dir, "bugcheck.db")); err != nil {
			return nil, err
		}
		d.Store = d.DB
	} else {
		if !strings.HasPrefix(opt.DB, "postgres://") && !strings.HasPrefix(opt.DB, "postgresql://") {
			return nil, fmt.Errorf("database %q: want a postgres:// URL", opt.DB)
		}
		pg, err := pgstore.Open(ctx, opt.DB)
		if err != nil {
			return nil, err
		}
		d.Store, d.Shared = pg, true
	}
	d.closers = append(d.closers, d.Store.Close)
	return d, nil
}

// Close closes the database and the bucket.
func (d *Data) Close() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// TokenPrefix starts every token, so that leaked ones are easy to find.
const TokenPrefix = "bct_"

// NewToken makes a token with role, stores its hash and returns the
// secret, which is not kept anywhere.
func NewToken(ctx context.Context, st store.Store, name string, role store.Role) (string, *store.Token, error) {
	if !role.Valid() {
		return "", nil, fmt.Errorf("unknown role %q (read, upload or admin)", role)
	}
	b := make([]byte, 32)
	rand.Read(b)
	secret := TokenPrefix + hex.EncodeToString(b)
	t := &store.Token{Name: name, Role: role, Hash: HashToken(secret)}
	if err := st.AddToken(ctx, t); err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// HashToken is how a token is stored: tokens are 256 random bits, so a
// plain SHA-256 suffices (no password stretching needed).
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

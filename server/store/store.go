// Package store defines what the crash collection server keeps: uploads
// (the files machines sent, by SHA-256), the durable queue of analysis
// jobs, analysed crashes with their reports, API tokens, and, through the
// optional EventStore and SessionStore, machines' event logs and the
// pages' sign-in sessions. The server speaks only to these interfaces, so
// the embedded SQLite implementation (package sqlitestore) and the
// PostgreSQL one (package pgstore) serve without touching the HTTP or
// worker code.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Upload statuses.
const (
	UploadQueued = "queued" // stored, analysis pending
	UploadDone   = "done"   // analysed; its crashes are stored
	UploadFailed = "failed" // analysis gave up; Error says why
)

// Upload is one file a machine sent: a dump or an archive of dumps.
type Upload struct {
	ID       int64     `json:"id"`
	SHA256   string    `json:"sha256"`
	Kind     string    `json:"kind"` // dmp, dmp.gz, zip or cab, by content
	Size     int64     `json:"size"`
	Name     string    `json:"name"`    // the client's file name, for display only
	Machine  string    `json:"machine"` // as the client named it
	Received time.Time `json:"received"`
	Status   string    `json:"status"`
	Error    string    `json:"error,omitempty"`
	Dumps    int       `json:"dumps"` // crashes analysed from it
}

// BlobKey is the key of the upload's bytes in the blob store.
func (u *Upload) BlobKey() string { return u.SHA256[:2] + "/" + u.SHA256 + "." + u.Kind }

// Job is a claimed analysis job.
type Job struct {
	ID       int64
	UploadID int64
	Attempts int // including this one
}

// Crash is one analysed dump.
type Crash struct {
	SHA256        string    `json:"sha256"`
	UploadID      int64     `json:"upload_id"`
	Member        string    `json:"file"` // the dump's name (archive member path for archives)
	Machine       string    `json:"machine"`
	Received      time.Time `json:"received"`
	CrashTime     time.Time `json:"crash_time,omitzero"`
	Bucket        string    `json:"bucket"`
	Code          string    `json:"bugcheck_code"`
	CodeName      string    `json:"bugcheck_name"`
	Driver        string    `json:"driver,omitempty"`
	DriverVersion string    `json:"driver_version,omitempty"`
	Confidence    string    `json:"confidence,omitempty"`
	Summary       string    `json:"summary"`
	OSBuild       uint32    `json:"os_build"`
	Analysed      time.Time `json:"analysed"`
	Report        []byte    `json:"-"` // the analyze.Report as JSON, as the CLI writes it
}

// Filter selects crashes. Zero fields do not filter.
type Filter struct {
	Bucket   string
	Driver   string // culprit module, case-insensitive
	Machine  string
	Code     string // bug check code as reports write it, e.g. 0x50
	Query    string // substring of file, bucket, driver, machine or summary
	UploadID int64  // crashes found in one upload
	Since    time.Time
	Until    time.Time // crash (or, without one, receipt) time bounds
	Limit    int       // 0 means 100
	Offset   int
}

// Dimension is a column crashes are counted by.
type Dimension int

// Dimensions for Store.Top.
const (
	ByBucket Dimension = iota
	ByDriver
	ByDriverVersion
	ByMachine
	ByCode
)

// Column is the crashes table's column for the dimension; stores share the
// schema's column names.
func (d Dimension) Column() (string, error) {
	switch d {
	case ByBucket:
		return "bucket", nil
	case ByDriver:
		return "driver", nil
	case ByDriverVersion:
		return "driver_version", nil
	case ByMachine:
		return "machine", nil
	case ByCode:
		return "code", nil
	}
	return "", fmt.Errorf("unknown dimension %d", d)
}

// Count is a value and how many crashes have it.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"crashes"`
}

// Day is the number of crashes on one UTC day.
type Day struct {
	Date  string `json:"date"` // YYYY-MM-DD
	Count int    `json:"crashes"`
}

// Bucket summarises the crashes of one bucket.
type Bucket struct {
	ID        string    `json:"bucket"`
	Count     int       `json:"crashes"`
	Code      string    `json:"bugcheck_code"`
	CodeName  string    `json:"bugcheck_name"`
	Summary   string    `json:"summary"`
	Machines  int       `json:"machines"`
	First     time.Time `json:"first_received"`
	Last      time.Time `json:"last_received"`
	FirstSeen time.Time `json:"first_crash,omitzero"`
	LastSeen  time.Time `json:"last_crash,omitzero"`
}

// Role is what a token may do; each role includes the ones before it.
type Role string

// Roles.
const (
	RoleRead   Role = "read"   // read the API and pages
	RoleUpload Role = "upload" // and upload dumps
	RoleAdmin  Role = "admin"  // and manage tokens, reanalyse
)

// Allows reports whether r includes need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

func (r Role) rank() int {
	switch r {
	case RoleRead:
		return 1
	case RoleUpload:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Token is an API token; only the SHA-256 of its secret is stored.
type Token struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Hash    string    `json:"-"`
	Created time.Time `json:"created"`
}

// QueueStats counts pending work.
type QueueStats struct {
	Queued  int `json:"queued"`
	Running int `json:"running"`
}

// Store keeps the server's state. Every method is safe for concurrent use.
// Writes that go together (an upload and its job; a job's crashes, its
// upload's status and its removal) are one transaction: a crash at any
// point leaves either all of them or none.
type Store interface {
	// AddUpload records an upload whose bytes are already durable in the
	// blob store, and queues its analysis. When an upload with the same
	// SHA-256 exists it returns that one and created false.
	AddUpload(ctx context.Context, u *Upload) (got *Upload, created bool, err error)
	Upload(ctx context.Context, id int64) (*Upload, error)
	UploadBySHA(ctx context.Context, sha string) (*Upload, error)
	// Uploads lists uploads, newest first.
	Uploads(ctx context.Context, limit, offset int) ([]Upload, error)

	// ClaimJob takes the oldest runnable job for lease; a job whose lease
	// ran out (its worker died) is runnable again. It returns nil, nil
	// when there is none.
	ClaimJob(ctx context.Context, worker string, lease time.Duration) (*Job, error)
	// CompleteJob stores the crashes found in the job's upload (replacing
	// earlier analyses of the same dumps), sets the upload's status and
	// error, and removes the job.
	CompleteJob(ctx context.Context, j *Job, crashes []Crash, status, errText string) error
	// ExtendJob renews the lease of a job its worker is still running.
	ExtendJob(ctx context.Context, j *Job, lease time.Duration) error
	// RecoverJobs makes every running job runnable at once: at the start
	// of a server that is the only one on the store, those are jobs whose
	// worker died with the previous process. Analysis is idempotent, so a
	// job that did still run elsewhere only runs twice. A store that
	// several instances share (pgstore) releases only jobs whose lease
	// has run out, never one a live instance is renewing.
	RecoverJobs(ctx context.Context) (int, error)
	// RetryJob releases a job to run again after delay.
	RetryJob(ctx context.Context, j *Job, errText string, delay time.Duration) error
	// RequeueAll queues every upload for analysis again; it returns how
	// many jobs were added.
	RequeueAll(ctx context.Context) (int, error)
	Queue(ctx context.Context) (QueueStats, error)

	// Crashes lists crashes matching f, newest received first, and how
	// many match in all.
	Crashes(ctx context.Context, f Filter) ([]Crash, int, error)
	// Crash returns one crash with its report.
	Crash(ctx context.Context, sha string) (*Crash, error)
	// Top counts crashes matching f by a dimension, most first.
	Top(ctx context.Context, d Dimension, f Filter, limit int) ([]Count, error)
	// PerDay counts crashes matching f per UTC day of their crash time
	// (receipt time when the dump has none), oldest first.
	PerDay(ctx context.Context, f Filter) ([]Day, error)
	// Buckets summarises buckets of crashes matching f, most crashes
	// first; with newSince set, only buckets first received after it.
	Buckets(ctx context.Context, f Filter, newSince time.Time) ([]Bucket, error)

	AddToken(ctx context.Context, t *Token) error
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	Tokens(ctx context.Context) ([]Token, error)
	DeleteToken(ctx context.Context, id int64) error

	Close() error
}

// Package sqlitestore keeps the crash collection server's state in an
// embedded SQLite database (modernc.org/sqlite, pure Go, so builds need no
// cgo). Writes go through one connection with immediate transactions, so
// writers queue instead of failing with SQLITE_BUSY; reads use a small
// pool of their own, which write-ahead logging lets run beside the writer.
// Every commit is synced (synchronous=FULL): an acknowledged upload
// survives a kill or a power cut.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/bugcheck/bugcheck/server/store"
)

// DB is a store.Store in one SQLite file.
type DB struct {
	w *sql.DB // the one writer connection
	r *sql.DB // readers
}

var _ store.Store = (*DB)(nil)

var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Open opens (creating it if need be) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	dsn := func(txlock string) string {
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", txlock)
		// SQLite reads a file: URI's path percent-decoded, and a '?' or
		// '#' in it would end the path: a folder named "a#1" would
		// otherwise put the database in "a".
		return "file:" + uriPath.Replace(path) + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	db := &DB{w: w}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(max(2, runtime.NumCPU()))
	db.r = r
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// SchemaVersion is the number of migrations the database has had.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func (db *DB) migrate(ctx context.Context) error {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		err := db.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in a write transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func now() int64 { return time.Now().UnixMilli() }

const uploadCols = `id, sha256, kind, size, name, machine, received_ms, status, error, dumps`

func scanUpload(s store.Scanner) (*store.Upload, error) {
	var u store.Upload
	var rec int64
	err := s.Scan(&u.ID, &u.SHA256, &u.Kind, &u.Size, &u.Name, &u.Machine, &rec, &u.Status, &u.Error, &u.Dumps)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	u.Received = fromMS(rec)
	return &u, nil
}

// AddUpload implements store.Store.
func (db *DB) AddUpload(ctx context.Context, u *store.Upload) (*store.Upload, bool, error) {
	var got *store.Upload
	created := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		got, err = scanUpload(tx.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE sha256 = ?`, u.SHA256))
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		rec := u.Received
		if rec.IsZero() {
			rec = time.Now()
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO uploads (sha256, kind, size, name, machine, received_ms, status) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.SHA256, u.Kind, u.Size, u.Name, u.Machine, ms(rec), store.UploadQueued)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (upload_id, state, run_after_ms) VALUES (?, 'queued', 0)`, id); err != nil {
			return err
		}
		c := *u
		c.ID, c.Received, c.Status, c.Error, c.Dumps = id, fromMS(ms(rec)), store.UploadQueued, "", 0
		got, created = &c, true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return got, created, nil
}

// Upload implements store.Store.
func (db *DB) Upload(ctx context.Context, id int64) (*store.Upload, error) {
	return scanUpload(db.r.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`, id))
}

// UploadBySHA implements store.Store.
func (db *DB) UploadBySHA(ctx context.Context, sha string) (*store.Upload, error) {
	return scanUpload(db.r.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE sha256 = ?`, strings.ToLower(sha)))
}

// Uploads implements store.Store.
func (db *DB) Uploads(ctx context.Context, limit, offset int) ([]store.Upload, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+uploadCols+` FROM uploads ORDER BY id DESC LIMIT ? OFFSET ?`, limit, max(offset, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.Collect(rows, scanUpload)
}

// ClaimJob implements store.Store.
func (db *DB) ClaimJob(ctx context.Context, worker string, lease time.Duration) (*store.Job, error) {
	t := now()
	var j store.Job
	err := db.w.QueryRowContext(ctx, `UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until_ms = ?, worker = ?
		WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_after_ms <= ?) OR (state = 'running' AND lease_until_ms < ?) ORDER BY id LIMIT 1)
		RETURNING id, upload_id, attempts`, t+lease.Milliseconds(), worker, t, t).Scan(&j.ID, &j.UploadID, &j.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// CompleteJob implements store.Store.
func (db *DB) CompleteJob(ctx context.Context, j *store.Job, crashes []store.Crash, status, errText string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var rec int64
		var machine string
		if err := tx.QueryRowContext(ctx, `SELECT received_ms, machine FROM uploads WHERE id = ?`, j.UploadID).Scan(&rec, &machine); err != nil {
			return fmt.Errorf("upload %d: %w", j.UploadID, err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO crashes (sha256, upload_id, member, machine, received_ms, crash_ms, seen_ms, bucket, code, code_name,
			driver, driver_version, confidence, summary, os_build, analysed_ms, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (sha256) DO UPDATE SET crash_ms = excluded.crash_ms, bucket = excluded.bucket, code = excluded.code, code_name = excluded.code_name,
			driver = excluded.driver, driver_version = excluded.driver_version, confidence = excluded.confidence, summary = excluded.summary,
			os_build = excluded.os_build, analysed_ms = excluded.analysed_ms, report = excluded.report,
			seen_ms = COALESCE(excluded.crash_ms, crashes.received_ms)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		t := now()
		for _, c := range crashes {
			var crashMS sql.NullInt64
			seen := rec
			if !c.CrashTime.IsZero() {
				crashMS = sql.NullInt64{Int64: ms(c.CrashTime), Valid: true}
				seen = crashMS.Int64
			}
			m := c.Machine
			if m == "" {
				m = machine
			}
			if _, err := stmt.ExecContext(ctx, c.SHA256, j.UploadID, c.Member, m, rec, crashMS, seen, c.Bucket, c.Code, c.CodeName,
				c.Driver, c.DriverVersion, c.Confidence, c.Summary, c.OSBuild, t, c.Report); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE uploads SET status = ?, error = ?, dumps = ? WHERE id = ?`, status, errText, len(crashes), j.UploadID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, j.ID)
		return err
	})
}

// ExtendJob implements store.Store.
func (db *DB) ExtendJob(ctx context.Context, j *store.Job, lease time.Duration) error {
	_, err := db.w.ExecContext(ctx, `UPDATE jobs SET lease_until_ms = ? WHERE id = ? AND state = 'running'`, now()+lease.Milliseconds(), j.ID)
	return err
}

// RecoverJobs implements store.Store.
func (db *DB) RecoverJobs(ctx context.Context) (int, error) {
	res, err := db.w.ExecContext(ctx, `UPDATE jobs SET state = 'queued', lease_until_ms = 0, worker = '' WHERE state = 'running'`)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// RetryJob implements store.Store.
func (db *DB) RetryJob(ctx context.Context, j *store.Job, errText string, delay time.Duration) error {
	_, err := db.w.ExecContext(ctx, `UPDATE jobs SET state = 'queued', run_after_ms = ?, lease_until_ms = 0, worker = '', last_error = ? WHERE id = ?`,
		now()+delay.Milliseconds(), errText, j.ID)
	return err
}

// RequeueAll implements store.Store.
func (db *DB) RequeueAll(ctx context.Context) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO jobs (upload_id, state, run_after_ms)
			SELECT id, 'queued', 0 FROM uploads WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.upload_id = uploads.id) ORDER BY id`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Queue implements store.Store.
func (db *DB) Queue(ctx context.Context) (store.QueueStats, error) {
	var q store.QueueStats
	err := db.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(state = 'queued'), 0), COALESCE(SUM(state = 'running'), 0) FROM jobs`).Scan(&q.Queued, &q.Running)
	return q, err
}

// where builds the WHERE clause for f; every value is a parameter.
func where(f store.Filter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if f.Bucket != "" {
		add("bucket = ?", f.Bucket)
	}
	if f.Driver != "" {
		add("driver = ? COLLATE NOCASE", f.Driver)
	}
	if f.Machine != "" {
		add("machine = ?", f.Machine)
	}
	if f.Code != "" {
		add("code = ? COLLATE NOCASE", f.Code)
	}
	if f.UploadID != 0 {
		add("upload_id = ?", f.UploadID)
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
		add(`(member LIKE ? ESCAPE '\' OR bucket LIKE ? ESCAPE '\' OR driver LIKE ? ESCAPE '\' OR machine LIKE ? ESCAPE '\' OR summary LIKE ? ESCAPE '\' OR code_name LIKE ? ESCAPE '\' OR sha256 = ?)`,
			like, like, like, like, like, like, strings.ToLower(q))
	}
	if !f.Since.IsZero() {
		add("seen_ms >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("seen_ms <= ?", ms(f.Until))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

const crashCols = `sha256, upload_id, member, machine, received_ms, crash_ms, bucket, code, code_name, driver, driver_version, confidence, summary, os_build, analysed_ms`

func scanCrash(s store.Scanner, withReport bool) (*store.Crash, error) {
	var c store.Crash
	var rec, analysed int64
	var crash sql.NullInt64
	dst := []any{&c.SHA256, &c.UploadID, &c.Member, &c.Machine, &rec, &crash, &c.Bucket, &c.Code, &c.CodeName, &c.Driver, &c.DriverVersion,
		&c.Confidence, &c.Summary, &c.OSBuild, &analysed}
	if withReport {
		dst = append(dst, &c.Report)
	}
	err := s.Scan(dst...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.Received, c.Analysed = fromMS(rec), fromMS(analysed)
	if crash.Valid {
		c.CrashTime = fromMS(crash.Int64)
	}
	return &c, nil
}

// Crashes implements store.Store.
func (db *DB) Crashes(ctx context.Context, f store.Filter) ([]store.Crash, int, error) {
	w, args := where(f)
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM crashes`+w, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+crashCols+` FROM crashes`+w+` ORDER BY received_ms DESC, sha256 LIMIT ? OFFSET ?`,
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out, err := store.Collect(rows, func(r store.Scanner) (*store.Crash, error) { return scanCrash(r, false) })
	return out, total, err
}

// Crash implements store.Store.
func (db *DB) Crash(ctx context.Context, sha string) (*store.Crash, error) {
	return scanCrash(db.r.QueryRowContext(ctx, `SELECT `+crashCols+`, report FROM crashes WHERE sha256 = ?`, strings.ToLower(sha)), true)
}

// Top implements store.Store.
func (db *DB) Top(ctx context.Context, d store.Dimension, f store.Filter, limit int) ([]store.Count, error) {
	col, err := d.Column()
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 10
	}
	w, args := where(f)
	if w == "" {
		w = " WHERE "
	} else {
		w += " AND "
	}
	w += col + " != ''"
	return db.counts(ctx, `SELECT `+col+`, COUNT(*) AS n FROM crashes`+w+` GROUP BY `+col+` ORDER BY n DESC, `+col+` LIMIT ?`, append(args, limit)...)
}

func (db *DB) counts(ctx context.Context, q string, args ...any) ([]store.Count, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Count
	for rows.Next() {
		var c store.Count
		if err := rows.Scan(&c.Name, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PerDay implements store.Store.
func (db *DB) PerDay(ctx context.Context, f store.Filter) ([]store.Day, error) {
	w, args := where(f)
	cs, err := db.counts(ctx, `SELECT strftime('%Y-%m-%d', seen_ms / 1000, 'unixepoch') AS day, COUNT(*) FROM crashes`+w+` GROUP BY day ORDER BY day`, args...)
	if err != nil {
		return nil, err
	}
	out := make([]store.Day, len(cs))
	for i, c := range cs {
		out[i] = store.Day{Date: c.Name, Count: c.Count}
	}
	return out, nil
}

// Buckets implements store.Store.
func (db *DB) Buckets(ctx context.Context, f store.Filter, newSince time.Time) ([]store.Bucket, error) {
	w, args := where(f)
	having := ""
	if !newSince.IsZero() {
		having = " HAVING MIN(received_ms) >= ?"
		args = append(args, ms(newSince))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	// MAX(code) and friends pick a value from the bucket: all its crashes
	// share the code, and the latest analysis's summary is as good as any.
	rows, err := db.r.QueryContext(ctx, `SELECT bucket, COUNT(*) AS n, MAX(code), MAX(code_name), MAX(summary), COUNT(DISTINCT machine),
		MIN(received_ms), MAX(received_ms), MIN(crash_ms), MAX(crash_ms) FROM crashes`+w+` GROUP BY bucket`+having+` ORDER BY n DESC, bucket LIMIT ? OFFSET ?`,
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Bucket
	for rows.Next() {
		var b store.Bucket
		var first, last int64
		var fc, lc sql.NullInt64
		if err := rows.Scan(&b.ID, &b.Count, &b.Code, &b.CodeName, &b.Summary, &b.Machines, &first, &last, &fc, &lc); err != nil {
			return nil, err
		}
		b.First, b.Last = fromMS(first), fromMS(last)
		if fc.Valid {
			b.FirstSeen, b.LastSeen = fromMS(fc.Int64), fromMS(lc.Int64)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// AddToken implements store.Store.
func (db *DB) AddToken(ctx context.Context, t *store.Token) error {
	if !t.Role.Valid() {
		return fmt.Errorf("unknown role %q", t.Role)
	}
	if t.Created.IsZero() {
		t.Created = time.Now().UTC()
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO tokens (name, role, hash, created_ms) VALUES (?, ?, ?, ?)`, t.Name, string(t.Role), t.Hash, ms(t.Created))
	if err != nil {
		return err
	}
	t.ID, err = res.LastInsertId()
	return err
}

const tokenCols = `id, name, role, hash, created_ms`

func scanToken(s store.Scanner) (*store.Token, error) {
	var t store.Token
	var created int64
	err := s.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.Created = fromMS(created)
	return &t, nil
}

// TokenByHash implements store.Store.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	return scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
}

// Tokens implements store.Store.
func (db *DB) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.Collect(rows, scanToken)
}

// DeleteToken implements store.Store.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

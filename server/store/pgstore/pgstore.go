// Package pgstore keeps the crash collection server's state in PostgreSQL
// (github.com/jackc/pgx), for several server instances behind a load
// balancer sharing one database. It has the semantics of sqlitestore with
// the database's clock as the only clock: instances claim jobs with
// SELECT … FOR UPDATE SKIP LOCKED, so each job goes to one worker without
// the instances blocking each other, and a job whose lease ran out (its
// instance died) goes to the next worker that asks.
//
// The connection URL may set search_path (postgres://…/db?search_path=x)
// to keep the tables in a schema of their own.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bugcheck/bugcheck/server/store"
)

// DB is a store.Store in a PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (postgres://user:pass@host/db?…)
// and brings its schema up to date.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return db, nil
}

// Close closes the connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// SchemaVersion is the number of migrations the database has had.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
	return v, err
}

func (db *DB) migrate(ctx context.Context) error {
	for {
		done, err := db.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next migration, if any, holding a lock that
// instances starting at once on the same schema wait for.
func (db *DB) migrateOne(ctx context.Context) (done bool, err error) {
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('bugcheck schema ' || current_schema()))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);
			INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
			return err
		}
		switch {
		case v > len(migrations):
			return fmt.Errorf("database schema version %d is newer than this program knows (%d)", v, len(migrations))
		case v == len(migrations):
			done = true
			return nil
		}
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		_, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, v+1)
		return err
	})
	return done, err
}

// Postgres keeps microseconds; times are cut to them before they are
// returned, so that what a caller holds equals what it reads back.
func pgTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// millis is a duration as a float of milliseconds for interval arithmetic.
func millis(d time.Duration) float64 { return float64(d.Milliseconds()) }

const uploadCols = `id, sha256, kind, size, name, machine, received, status, error, dumps`

func scanUpload(s store.Scanner) (*store.Upload, error) {
	var u store.Upload
	err := s.Scan(&u.ID, &u.SHA256, &u.Kind, &u.Size, &u.Name, &u.Machine, &u.Received, &u.Status, &u.Error, &u.Dumps)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	u.Received = u.Received.UTC()
	return &u, nil
}

// AddUpload implements store.Store. Two instances adding the same bytes
// at once both end with the one row: the second insert waits for the
// first to commit and then does nothing.
func (db *DB) AddUpload(ctx context.Context, u *store.Upload) (*store.Upload, bool, error) {
	var got *store.Upload
	created := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rec := u.Received
		if rec.IsZero() {
			rec = time.Now()
		}
		rec = pgTime(rec)
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO uploads (sha256, kind, size, name, machine, received, status) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (sha256) DO NOTHING RETURNING id`, u.SHA256, u.Kind, u.Size, u.Name, u.Machine, rec, store.UploadQueued).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			got, err = scanUpload(tx.QueryRow(ctx, `SELECT `+uploadCols+` FROM uploads WHERE sha256 = $1`, u.SHA256))
			return err
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO jobs (upload_id, state) VALUES ($1, 'queued')`, id); err != nil {
			return err
		}
		c := *u
		c.ID, c.Received, c.Status, c.Error, c.Dumps = id, rec, store.UploadQueued, "", 0
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
	return scanUpload(db.pool.QueryRow(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = $1`, id))
}

// UploadBySHA implements store.Store.
func (db *DB) UploadBySHA(ctx context.Context, sha string) (*store.Upload, error) {
	return scanUpload(db.pool.QueryRow(ctx, `SELECT `+uploadCols+` FROM uploads WHERE sha256 = $1`, strings.ToLower(sha)))
}

// Uploads implements store.Store.
func (db *DB) Uploads(ctx context.Context, limit, offset int) ([]store.Upload, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT `+uploadCols+` FROM uploads ORDER BY id DESC LIMIT $1 OFFSET $2`, limit, max(offset, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.Collect(rows, scanUpload)
}

// ClaimJob implements store.Store. SKIP LOCKED passes over a job another
// instance is claiming at this moment instead of waiting for it; the row
// is checked again once locked, so a job claimed and committed meanwhile
// is not taken twice.
func (db *DB) ClaimJob(ctx context.Context, worker string, lease time.Duration) (*store.Job, error) {
	var j store.Job
	err := db.pool.QueryRow(ctx, `UPDATE jobs SET state = 'running', attempts = attempts + 1,
			lease_until = now() + $1::float8 * interval '1 millisecond', worker = $2
		WHERE id = (SELECT id FROM jobs
			WHERE (state = 'queued' AND run_after <= now()) OR (state = 'running' AND lease_until < now())
			ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING id, upload_id, attempts`, millis(lease), worker).Scan(&j.ID, &j.UploadID, &j.Attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// CompleteJob implements store.Store. It completes the job even when
// another worker has claimed it since (this one's lease ran out): the
// analysis is the same, and storing it twice replaces it with itself.
func (db *DB) CompleteJob(ctx context.Context, j *store.Job, crashes []store.Crash, status, errText string) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var rec time.Time
		var machine string
		// FOR UPDATE orders two completions of the same upload.
		if err := tx.QueryRow(ctx, `SELECT received, machine FROM uploads WHERE id = $1 FOR UPDATE`, j.UploadID).Scan(&rec, &machine); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				err = store.ErrNotFound
			}
			return fmt.Errorf("upload %d: %w", j.UploadID, err)
		}
		t := pgTime(time.Now())
		var b pgx.Batch
		for _, c := range crashes {
			var crashTime *time.Time
			seen := rec
			if !c.CrashTime.IsZero() {
				ct := pgTime(c.CrashTime)
				crashTime, seen = &ct, ct
			}
			m := c.Machine
			if m == "" {
				m = machine
			}
			b.Queue(`INSERT INTO crashes (sha256, upload_id, member, machine, received, crash_time, seen, bucket, code, code_name,
				driver, driver_version, confidence, summary, os_build, analysed, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
				ON CONFLICT (sha256) DO UPDATE SET crash_time = excluded.crash_time, bucket = excluded.bucket, code = excluded.code, code_name = excluded.code_name,
				driver = excluded.driver, driver_version = excluded.driver_version, confidence = excluded.confidence, summary = excluded.summary,
				os_build = excluded.os_build, analysed = excluded.analysed, report = excluded.report,
				seen = COALESCE(excluded.crash_time, crashes.received)`,
				c.SHA256, j.UploadID, c.Member, m, rec, crashTime, seen, c.Bucket, c.Code, c.CodeName,
				c.Driver, c.DriverVersion, c.Confidence, c.Summary, int64(c.OSBuild), t, c.Report)
		}
		b.Queue(`UPDATE uploads SET status = $1, error = $2, dumps = $3 WHERE id = $4`, status, errText, len(crashes), j.UploadID)
		b.Queue(`DELETE FROM jobs WHERE id = $1`, j.ID)
		return tx.SendBatch(ctx, &b).Close()
	})
}

// ExtendJob implements store.Store. Only the claim it was given is
// renewed: a worker whose lease ran out and whose job went to another
// keeps no hold on it.
func (db *DB) ExtendJob(ctx context.Context, j *store.Job, lease time.Duration) error {
	_, err := db.pool.Exec(ctx, `UPDATE jobs SET lease_until = now() + $1::float8 * interval '1 millisecond'
		WHERE id = $2 AND state = 'running' AND attempts = $3`, millis(lease), j.ID, j.Attempts)
	return err
}

// RecoverJobs implements store.Store for a database that other instances
// may share: it makes runnable only running jobs whose lease has run out,
// never a job another instance is still renewing. The jobs of an instance
// that died are thus picked up when their lease ends (ClaimJob would take
// them then anyway); the count says how many were found.
func (db *DB) RecoverJobs(ctx context.Context) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE jobs SET state = 'queued', lease_until = '-infinity', worker = ''
		WHERE state = 'running' AND lease_until < now()`)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// RetryJob implements store.Store; like ExtendJob it touches only the
// claim it was given.
func (db *DB) RetryJob(ctx context.Context, j *store.Job, errText string, delay time.Duration) error {
	_, err := db.pool.Exec(ctx, `UPDATE jobs SET state = 'queued', run_after = now() + $1::float8 * interval '1 millisecond',
		lease_until = '-infinity', worker = '', last_error = $2 WHERE id = $3 AND attempts = $4`, millis(delay), errText, j.ID, j.Attempts)
	return err
}

// RequeueAll implements store.Store. The lock keeps two reanalyses
// started at once from queueing the same uploads twice.
func (db *DB) RequeueAll(ctx context.Context) (int, error) {
	var n int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO jobs (upload_id, state)
			SELECT id, 'queued' FROM uploads WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.upload_id = uploads.id) ORDER BY id`)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// Queue implements store.Store.
func (db *DB) Queue(ctx context.Context) (store.QueueStats, error) {
	var q store.QueueStats
	err := db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running') FROM jobs`).Scan(&q.Queued, &q.Running)
	return q, err
}

// where builds the WHERE clause for f, numbering its parameters from 1;
// every value is a parameter. Comparisons that are case-insensitive in
// sqlitestore (driver, code, the search) are here too.
func where(f store.Filter) (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Bucket != "" {
		conds = append(conds, "bucket = "+arg(f.Bucket))
	}
	if f.Driver != "" {
		conds = append(conds, "lower(driver) = lower("+arg(f.Driver)+")")
	}
	if f.Machine != "" {
		conds = append(conds, "machine = "+arg(f.Machine))
	}
	if f.Code != "" {
		conds = append(conds, "lower(code) = lower("+arg(f.Code)+")")
	}
	if f.UploadID != 0 {
		conds = append(conds, "upload_id = "+arg(f.UploadID))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		like := arg("%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%")
		var ors []string
		for _, col := range []string{"member", "bucket", "driver", "machine", "summary", "code_name"} {
			ors = append(ors, col+` ILIKE `+like+` ESCAPE '\'`)
		}
		ors = append(ors, "sha256 = "+arg(strings.ToLower(q)))
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if !f.Since.IsZero() {
		conds = append(conds, "seen >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "seen <= "+arg(f.Until))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// next is the placeholder of the parameter after args.
func next(args []any, k int) string { return "$" + strconv.Itoa(len(args)+k) }

const crashCols = `sha256, upload_id, member, machine, received, crash_time, bucket, code, code_name, driver, driver_version, confidence, summary, os_build, analysed`

func scanCrash(s store.Scanner, withReport bool) (*store.Crash, error) {
	var c store.Crash
	var crash *time.Time
	var build int64
	dst := []any{&c.SHA256, &c.UploadID, &c.Member, &c.Machine, &c.Received, &crash, &c.Bucket, &c.Code, &c.CodeName, &c.Driver, &c.DriverVersion,
		&c.Confidence, &c.Summary, &build, &c.Analysed}
	if withReport {
		dst = append(dst, &c.Report)
	}
	err := s.Scan(dst...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.Received, c.Analysed, c.OSBuild = c.Received.UTC(), c.Analysed.UTC(), uint32(build)
	if crash != nil {
		c.CrashTime = crash.UTC()
	}
	return &c, nil
}

// Crashes implements store.Store.
func (db *DB) Crashes(ctx context.Context, f store.Filter) ([]store.Crash, int, error) {
	w, args := where(f)
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM crashes`+w, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT `+crashCols+` FROM crashes`+w+` ORDER BY received DESC, sha256 LIMIT `+next(args, 1)+` OFFSET `+next(args, 2),
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
	return scanCrash(db.pool.QueryRow(ctx, `SELECT `+crashCols+`, report FROM crashes WHERE sha256 = $1`, strings.ToLower(sha)), true)
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
	// COLLATE "C" orders ties bytewise, as SQLite does.
	return db.counts(ctx, `SELECT `+col+`, count(*) AS n FROM crashes`+w+` GROUP BY `+col+` ORDER BY n DESC, `+col+` COLLATE "C" LIMIT `+next(args, 1),
		append(args, limit)...)
}

func (db *DB) counts(ctx context.Context, q string, args ...any) ([]store.Count, error) {
	rows, err := db.pool.Query(ctx, q, args...)
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
	cs, err := db.counts(ctx, `SELECT to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) FROM crashes`+w+` GROUP BY day ORDER BY day`, args...)
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
		args = append(args, newSince)
		having = " HAVING min(received) >= " + next(args, 0)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	// max(code) and friends pick a value from the bucket: all its crashes
	// share the code, and the latest analysis's summary is as good as any.
	rows, err := db.pool.Query(ctx, `SELECT bucket, count(*) AS n, max(code), max(code_name), max(summary), count(DISTINCT machine),
		min(received), max(received), min(crash_time), max(crash_time) FROM crashes`+w+` GROUP BY bucket`+having+
		` ORDER BY n DESC, bucket COLLATE "C" LIMIT `+next(args, 1)+` OFFSET `+next(args, 2),
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Bucket
	for rows.Next() {
		var b store.Bucket
		var fc, lc *time.Time
		if err := rows.Scan(&b.ID, &b.Count, &b.Code, &b.CodeName, &b.Summary, &b.Machines, &b.First, &b.Last, &fc, &lc); err != nil {
			return nil, err
		}
		b.First, b.Last = b.First.UTC(), b.Last.UTC()
		if fc != nil && lc != nil {
			b.FirstSeen, b.LastSeen = fc.UTC(), lc.UTC()
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
		t.Created = time.Now()
	}
	t.Created = pgTime(t.Created)
	return db.pool.QueryRow(ctx, `INSERT INTO tokens (name, role, hash, created) VALUES ($1, $2, $3, $4) RETURNING id`,
		t.Name, string(t.Role), t.Hash, t.Created).Scan(&t.ID)
}

const tokenCols = `id, name, role, hash, created`

func scanToken(s store.Scanner) (*store.Token, error) {
	var t store.Token
	var role string
	err := s.Scan(&t.ID, &t.Name, &role, &t.Hash, &t.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.Role, t.Created = store.Role(role), t.Created.UTC()
	return &t, nil
}

// TokenByHash implements store.Store.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	return scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
}

// Tokens implements store.Store.
func (db *DB) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.Collect(rows, scanToken)
}

// DeleteToken implements store.Store.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

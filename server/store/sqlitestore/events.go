package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/bugcheck/bugcheck/server/store"
)

var _ store.EventStore = (*DB)(nil)

// CompleteEventJob implements store.EventStore.
func (db *DB) CompleteEventJob(ctx context.Context, j *store.Job, machine string, events []store.LogEvent, status, errText string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO log_events (machine, provider, record_id, upload_id, file, time_ms, source, event_id, level, computer, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (machine, provider, record_id) DO UPDATE SET upload_id = excluded.upload_id, file = excluded.file, time_ms = excluded.time_ms,
			source = excluded.source, event_id = excluded.event_id, level = excluded.level, computer = excluded.computer, data = excluded.data`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			data, err := json.Marshal(e.Data)
			if err != nil {
				return err
			}
			if e.Data == nil {
				data = []byte("{}")
			}
			// Record ids are below 2^63 in any real log; the cast keeps
			// the bits of the others.
			if _, err := stmt.ExecContext(ctx, machine, e.Provider, int64(e.RecordID), j.UploadID, e.File, ms(e.Time), e.Source,
				e.EventID, e.Level, e.Computer, string(data)); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE uploads SET status = ?, error = ?, dumps = 0, machine = CASE WHEN machine = '' THEN ? ELSE machine END WHERE id = ?`,
			status, errText, machine, j.UploadID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("upload %d: %w", j.UploadID, store.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, j.ID)
		return err
	})
}

// MachineEvents implements store.EventStore.
func (db *DB) MachineEvents(ctx context.Context, machine string, limit int) ([]store.LogEvent, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.r.QueryContext(ctx, `SELECT * FROM (SELECT provider, record_id, upload_id, file, time_ms, source, event_id, level, computer, data
		FROM log_events WHERE machine = ? ORDER BY time_ms DESC, record_id DESC LIMIT ?) ORDER BY time_ms, record_id`, machine, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.LogEvent
	for rows.Next() {
		e := store.LogEvent{Machine: machine}
		var rec, t int64
		var data string
		if err := rows.Scan(&e.Provider, &rec, &e.UploadID, &e.File, &t, &e.Source, &e.EventID, &e.Level, &e.Computer, &data); err != nil {
			return nil, err
		}
		e.RecordID, e.Time = uint64(rec), fromMS(t)
		if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
			return nil, fmt.Errorf("event %s %d of %s: %w", e.Provider, e.RecordID, machine, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventMachines implements store.EventStore.
func (db *DB) EventMachines(ctx context.Context, limit int) ([]store.MachineLog, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r.QueryContext(ctx, `SELECT machine, COUNT(*), MIN(time_ms), MAX(time_ms) FROM log_events GROUP BY machine
		ORDER BY MAX(time_ms) DESC, machine LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.MachineLog
	for rows.Next() {
		var m store.MachineLog
		var first, last int64
		if err := rows.Scan(&m.Machine, &m.Events, &first, &last); err != nil {
			return nil, err
		}
		m.First, m.Last = fromMS(first), fromMS(last)
		out = append(out, m)
	}
	return out, rows.Err()
}

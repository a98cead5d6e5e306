package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bugcheck/bugcheck/server/store"
)

var _ store.EventStore = (*DB)(nil)

// CompleteEventJob implements store.EventStore.
func (db *DB) CompleteEventJob(ctx context.Context, j *store.Job, machine string, events []store.LogEvent, status, errText string) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, e := range events {
			data := []byte("{}")
			if e.Data != nil {
				var err error
				if data, err = json.Marshal(e.Data); err != nil {
					return err
				}
			}
			// Record ids are below 2^63 in any real log; the cast keeps
			// the bits of the others.
			b.Queue(`INSERT INTO log_events (machine, provider, record_id, upload_id, file, time, source, event_id, level, computer, data)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
				ON CONFLICT (machine, provider, record_id) DO UPDATE SET upload_id = excluded.upload_id, file = excluded.file, time = excluded.time,
				source = excluded.source, event_id = excluded.event_id, level = excluded.level, computer = excluded.computer, data = excluded.data`,
				machine, e.Provider, int64(e.RecordID), j.UploadID, e.File, pgTime(e.Time), e.Source, int32(e.EventID), int16(e.Level), e.Computer, string(data))
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE uploads SET status = $1, error = $2, dumps = 0, machine = CASE WHEN machine = '' THEN $3 ELSE machine END WHERE id = $4`,
			status, errText, machine, j.UploadID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("upload %d: %w", j.UploadID, store.ErrNotFound)
		}
		_, err = tx.Exec(ctx, `DELETE FROM jobs WHERE id = $1`, j.ID)
		return err
	})
}

// MachineEvents implements store.EventStore.
func (db *DB) MachineEvents(ctx context.Context, machine string, limit int) ([]store.LogEvent, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := db.pool.Query(ctx, `SELECT * FROM (SELECT provider, record_id, upload_id, file, time, source, event_id, level, computer, data::text
		FROM log_events WHERE machine = $1 ORDER BY time DESC, record_id DESC LIMIT $2) newest ORDER BY time, record_id`, machine, lim)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.LogEvent
	for rows.Next() {
		e := store.LogEvent{Machine: machine}
		var rec, id, level int64
		var data string
		if err := rows.Scan(&e.Provider, &rec, &e.UploadID, &e.File, &e.Time, &e.Source, &id, &level, &e.Computer, &data); err != nil {
			return nil, err
		}
		e.RecordID, e.Time, e.EventID, e.Level = uint64(rec), e.Time.UTC(), uint16(id), uint8(level)
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
	rows, err := db.pool.Query(ctx, `SELECT machine, count(*), min(time), max(time) FROM log_events GROUP BY machine
		ORDER BY max(time) DESC, machine COLLATE "C" LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.MachineLog
	for rows.Next() {
		var m store.MachineLog
		if err := rows.Scan(&m.Machine, &m.Events, &m.First, &m.Last); err != nil {
			return nil, err
		}
		m.First, m.Last = m.First.UTC(), m.Last.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

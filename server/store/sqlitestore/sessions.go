package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bugcheck/bugcheck/server/store"
)

var _ store.SessionStore = (*DB)(nil)

// AddSession implements store.SessionStore.
func (db *DB) AddSession(ctx context.Context, s *store.Session) error {
	if !s.Role.Valid() {
		return fmt.Errorf("unknown role %q", s.Role)
	}
	if s.Created.IsZero() {
		s.Created = time.Now()
	}
	s.Created, s.Expires = fromMS(ms(s.Created)), fromMS(ms(s.Expires))
	_, err := db.w.ExecContext(ctx, `INSERT INTO sessions (hash, token_id, role, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)`,
		s.Hash, s.TokenID, string(s.Role), ms(s.Created), ms(s.Expires))
	return err
}

// SessionByHash implements store.SessionStore.
func (db *DB) SessionByHash(ctx context.Context, hash string, now time.Time) (*store.Session, error) {
	s := store.Session{Hash: hash}
	var created, expires int64
	err := db.r.QueryRowContext(ctx, `SELECT s.token_id, t.name, s.role, s.created_ms, s.expires_ms
		FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE s.hash = ? AND s.expires_ms > ?`, hash, ms(now)).
		Scan(&s.TokenID, &s.TokenName, &s.Role, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.Created, s.Expires = fromMS(created), fromMS(expires)
	return &s, nil
}

// DeleteSession implements store.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteExpiredSessions implements store.SessionStore.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_ms <= ?`, ms(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

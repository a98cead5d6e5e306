package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	s.Created, s.Expires = pgTime(s.Created), pgTime(s.Expires)
	_, err := db.pool.Exec(ctx, `INSERT INTO sessions (hash, token_id, role, created, expires) VALUES ($1, $2, $3, $4, $5)`,
		s.Hash, s.TokenID, string(s.Role), s.Created, s.Expires)
	return err
}

// SessionByHash implements store.SessionStore.
func (db *DB) SessionByHash(ctx context.Context, hash string, now time.Time) (*store.Session, error) {
	s := store.Session{Hash: hash}
	var role string
	err := db.pool.QueryRow(ctx, `SELECT s.token_id, t.name, s.role, s.created, s.expires
		FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE s.hash = $1 AND s.expires > $2`, hash, pgTime(now)).
		Scan(&s.TokenID, &s.TokenName, &role, &s.Created, &s.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.Role, s.Created, s.Expires = store.Role(role), s.Created.UTC(), s.Expires.UTC()
	return &s, nil
}

// DeleteSession implements store.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteExpiredSessions implements store.SessionStore.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE expires <= $1`, pgTime(now))
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

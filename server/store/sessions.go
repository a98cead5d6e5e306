package store

import (
	"context"
	"time"
)

// Session is a signed-in browser: a token's holder who pasted the token
// into the sign-in page. The browser keeps a random session id in a
// cookie; the store keeps only its hash, so neither a stolen database
// nor a stolen cookie yields the token itself.
type Session struct {
	Hash      string    `json:"-"` // SHA-256 of the session id, hex
	TokenID   int64     `json:"token_id"`
	TokenName string    `json:"token_name"` // filled in by SessionByHash
	Role      Role      `json:"role"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
}

// SessionStore is what a Store implements to keep the sign-in sessions of
// the server's pages. It is optional: a server whose store lacks it has
// no sign-in, and its pages are open (anonymous reading) or closed.
type SessionStore interface {
	// AddSession stores s. Its token must exist; a session dies with its
	// token (DeleteToken removes the token's sessions).
	AddSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session with hash, with its token's name,
	// when it has not expired at now; else ErrNotFound.
	SessionByHash(ctx context.Context, hash string, now time.Time) (*Session, error)
	// DeleteSession removes a session (sign-out); ErrNotFound when there
	// is none.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteExpiredSessions removes the sessions expired at now and
	// returns how many there were.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/server/store"
)

// testSessions checks a store.SessionStore: a session is found by its
// hash with its token's name until it expires; sign-out and deleting the
// token end it; expired sessions are purged and counted; a session needs
// an existing token and a known role.
func testSessions(t *testing.T, db store.Store) {
	ss := db.(store.SessionStore)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 9, 0, 0, 123456789, time.UTC)
	admin := &store.Token{Name: "alice", Role: store.RoleAdmin, Hash: strings.Repeat("a", 64)}
	reader := &store.Token{Name: "bob", Role: store.RoleRead, Hash: strings.Repeat("b", 64)}
	for _, tk := range []*store.Token{admin, reader} {
		if err := db.AddToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	add := func(c byte, tk *store.Token, life time.Duration) *store.Session {
		t.Helper()
		s := &store.Session{Hash: strings.Repeat(string(c), 64), TokenID: tk.ID, Role: tk.Role, Created: now, Expires: now.Add(life)}
		if err := ss.AddSession(ctx, s); err != nil {
			t.Fatalf("session %c: %v", c, err)
		}
		return s
	}
	s1 := add('1', admin, 12*time.Hour)
	s2 := add('2', reader, time.Hour)
	s3 := add('3', reader, -time.Minute) // already expired
	s4 := add('4', admin, 2*time.Hour)

	got, err := ss.SessionByHash(ctx, s1.Hash, now)
	if err != nil || got.TokenID != admin.ID || got.TokenName != "alice" || got.Role != store.RoleAdmin ||
		!got.Expires.Equal(s1.Expires) || !got.Created.Equal(s1.Created) || got.Hash != s1.Hash {
		t.Errorf("session 1: %+v %v; want %+v", got, err, s1)
	}
	if !got.Expires.Equal(now.Add(12*time.Hour).Truncate(time.Millisecond)) && !got.Expires.Equal(now.Add(12*time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("expiry %v lost more than sub-millisecond precision", got.Expires)
	}
	if got, err := ss.SessionByHash(ctx, s2.Hash, now.Add(59*time.Minute)); err != nil || got.TokenName != "bob" || got.Role != store.RoleRead {
		t.Errorf("session 2 before expiry: %+v %v", got, err)
	}
	for _, c := range []struct {
		name string
		hash string
		at   time.Time
	}{
		{"at its expiry", s2.Hash, s2.Expires},
		{"after its expiry", s2.Hash, now.Add(2 * time.Hour)},
		{"expired at creation", s3.Hash, now},
		{"unknown hash", strings.Repeat("9", 64), now},
	} {
		if got, err := ss.SessionByHash(ctx, c.hash, c.at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %+v %v; want ErrNotFound", c.name, got, err)
		}
	}

	// Sign-out.
	if err := ss.DeleteSession(ctx, s4.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.SessionByHash(ctx, s4.Hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("signed-out session: %v", err)
	}
	if err := ss.DeleteSession(ctx, s4.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("signing out twice: %v", err)
	}

	// Two expired at now+90m: s2 (1 h) and s3; s1 is still alive.
	if n, err := ss.DeleteExpiredSessions(ctx, now.Add(90*time.Minute)); err != nil || n != 2 {
		t.Errorf("purged %d, %v; want 2", n, err)
	}
	if _, err := ss.SessionByHash(ctx, s1.Hash, now); err != nil {
		t.Errorf("live session purged: %v", err)
	}

	// A session dies with its token.
	if err := db.DeleteToken(ctx, admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.SessionByHash(ctx, s1.Hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of a deleted token: %v", err)
	}
	if n, err := ss.DeleteExpiredSessions(ctx, now.Add(100*time.Hour)); err != nil || n != 0 {
		t.Errorf("rows left after the token's deletion: %d, %v", n, err)
	}

	// Refused: an unknown token, an unknown role, a hash used twice.
	if err := ss.AddSession(ctx, &store.Session{Hash: strings.Repeat("5", 64), TokenID: admin.ID, Role: store.RoleAdmin, Expires: now.Add(time.Hour)}); err == nil {
		t.Error("session of a deleted token stored")
	}
	if err := ss.AddSession(ctx, &store.Session{Hash: strings.Repeat("6", 64), TokenID: reader.ID, Role: "root", Expires: now.Add(time.Hour)}); err == nil {
		t.Error("session with an unknown role stored")
	}
	dup := add('7', reader, time.Hour)
	if err := ss.AddSession(ctx, &store.Session{Hash: dup.Hash, TokenID: reader.ID, Role: store.RoleRead, Expires: now.Add(time.Hour)}); err == nil {
		t.Error("session hash stored twice")
	}
}

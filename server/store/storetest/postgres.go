package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the environment variable that gives tests a
// PostgreSQL server: a connection URL of a role that may create schemas,
// e.g. postgres://bugcheck:bugcheck@127.0.0.1:5432/bugcheck.
const PostgresEnv = "BUGCHECK_TEST_POSTGRES"

// Postgres returns the URL of a new, empty schema on the test PostgreSQL
// server (its search_path set to the schema), which is dropped when t
// ends; so tests running at once never see each other's tables. Without
// $BUGCHECK_TEST_POSTGRES the test is skipped, or fails when $CI is true.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("$%s is not set: CI must run the store tests against PostgreSQL", PostgresEnv)
		}
		t.Skipf("skipped: set $%s to a PostgreSQL URL (postgres://user:pass@host/db) to run the PostgreSQL tests", PostgresEnv)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("$%s is not a postgres:// URL: %q", PostgresEnv, base)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("$%s: %v", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "bugcheck_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

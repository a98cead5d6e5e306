package sqlitestore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/server/store"
	"github.com/bugcheck/bugcheck/server/store/storetest"
)

func open(t *testing.T) (*DB, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bugcheck.db")
	db, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, p
}

// TestMigrations checks that a new database gets every migration, that
// reopening applies none again, and that a database from a newer program
// is refused.
func TestMigrations(t *testing.T) {
	ctx := context.Background()
	db, p := open(t)
	if v, err := db.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations))
	}
	if _, _, err := db.AddUpload(ctx, storetest.Upload(1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := db2.UploadBySHA(ctx, storetest.Upload(1).SHA256); err != nil || u.ID != 1 {
		t.Errorf("after reopening: %+v, %v", u, err)
	}
	db2.w.ExecContext(ctx, "PRAGMA user_version = 99")
	db2.Close()
	if _, err := Open(ctx, p); err == nil || !strings.Contains(err.Error(), "newer than this program") {
		t.Errorf("opening a newer database: %v", err)
	}
}

// TestStore runs the contract every store passes.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := open(t)
		return db
	}, storetest.Options{})
}

// TestOddPath checks that a database opens at exactly its path when the
// path has characters a file: URI gives a meaning ('#', '?', '%'): the
// folder of a subtest named "#00" once put every test's database in one
// shared file beside it.
func TestOddPath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a#1?x=%41")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bugcheck.db")
	db, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.AddUpload(ctx, storetest.Upload(1)); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if st, err := os.Stat(p); err != nil || st.Size() == 0 || len(ents) != 1 {
		t.Errorf("database at %s: %v; %d entries beside its folder", p, err, len(ents))
	}
}

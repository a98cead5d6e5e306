package pgstore

import (
	"context"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/server/store"
	"github.com/bugcheck/bugcheck/server/store/storetest"
)

func open(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, storetest.Postgres(t)) }, storetest.Options{SharedQueue: true})
}

// TestMigrations checks that a new schema gets every migration, that
// instances opening it at once apply each once, that reopening applies
// none again, and that a schema from a newer program is refused.
func TestMigrations(t *testing.T) {
	ctx := context.Background()
	url := storetest.Postgres(t)
	errc := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := Open(ctx, url)
			if err == nil {
				db.Close()
			}
			errc <- err
		}()
	}
	for range 4 {
		if err := <-errc; err != nil {
			t.Fatalf("instances starting together: %v", err)
		}
	}
	db := open(t, url)
	if v, err := db.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations))
	}
	u, _, err := db.AddUpload(ctx, storetest.Upload(1))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2 := open(t, url)
	if got, err := db2.UploadBySHA(ctx, storetest.Upload(1).SHA256); err != nil || got.ID != u.ID || !got.Received.Equal(u.Received) {
		t.Errorf("after reopening: %+v, %v; want %+v", got, err, u)
	}
	if _, err := db2.pool.Exec(ctx, "UPDATE schema_version SET version = 99"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), "newer than this program") {
		t.Errorf("opening a newer schema: %v", err)
	}
}

// TestStaleClaim checks that a worker whose lease ran out and whose job
// went to another instance can neither renew nor release it.
func TestStaleClaim(t *testing.T) {
	ctx := context.Background()
	db := open(t, storetest.Postgres(t))
	if _, _, err := db.AddUpload(ctx, storetest.Upload(3)); err != nil {
		t.Fatal(err)
	}
	old, _ := db.ClaimJob(ctx, "a", -1)
	cur, _ := db.ClaimJob(ctx, "b", 1<<40)
	if old == nil || cur == nil || cur.ID != old.ID || cur.Attempts != 2 {
		t.Fatalf("claims %+v, %+v", old, cur)
	}
	if err := db.RetryJob(ctx, old, "stale", 0); err != nil {
		t.Fatal(err)
	}
	if err := db.ExtendJob(ctx, old, -1); err != nil {
		t.Fatal(err)
	}
	if j, _ := db.ClaimJob(ctx, "c", 1<<40); j != nil {
		t.Errorf("the stale worker released the live claim: %+v claimed", j)
	}
	if q, _ := db.Queue(ctx); q != (store.QueueStats{Running: 1}) {
		t.Errorf("queue %+v", q)
	}
}

package sqlitestore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/server/store"
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

func upload(i int) *store.Upload {
	return &store.Upload{SHA256: strings.Repeat(string("0123456789abcdef"[i%16]), 64), Kind: "dmp", Size: int64(100 + i), Name: "a.dmp", Machine: "pc"}
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
	if _, _, err := db.AddUpload(ctx, upload(1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := db2.UploadBySHA(ctx, upload(1).SHA256); err != nil || u.ID != 1 {
		t.Errorf("after reopening: %+v, %v", u, err)
	}
	db2.w.ExecContext(ctx, "PRAGMA user_version = 99")
	db2.Close()
	if _, err := Open(ctx, p); err == nil || !strings.Contains(err.Error(), "newer than this program") {
		t.Errorf("opening a newer database: %v", err)
	}
}

// TestQueue walks jobs through claim, lease expiry, retry, recovery and
// completion.
func TestQueue(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	var ids []int64
	for i := range 3 {
		u, created, err := db.AddUpload(ctx, upload(i))
		if err != nil || !created {
			t.Fatalf("upload %d: %v %v", i, created, err)
		}
		ids = append(ids, u.ID)
	}
	if u, created, err := db.AddUpload(ctx, upload(1)); err != nil || created || u.ID != ids[1] {
		t.Errorf("same SHA-256 again: %+v created %v, %v", u, created, err)
	}
	if q, _ := db.Queue(ctx); q != (store.QueueStats{Queued: 3}) {
		t.Errorf("queue %+v", q)
	}

	j1, err := db.ClaimJob(ctx, "w1", time.Hour)
	if err != nil || j1 == nil || j1.UploadID != ids[0] || j1.Attempts != 1 {
		t.Fatalf("first claim %+v, %v", j1, err)
	}
	// A lease that has already run out: the job can be claimed again.
	j2, _ := db.ClaimJob(ctx, "w2", -time.Second)
	j2again, _ := db.ClaimJob(ctx, "w3", time.Hour)
	if j2 == nil || j2again == nil || j2.UploadID != ids[1] || j2again.ID != j2.ID || j2again.Attempts != 2 {
		t.Errorf("expired lease: %+v then %+v", j2, j2again)
	}
	// A renewed lease keeps the job from other workers.
	if err := db.ExtendJob(ctx, j2again, -time.Second); err != nil {
		t.Fatal(err)
	}
	if err := db.ExtendJob(ctx, j2again, time.Hour); err != nil {
		t.Fatal(err)
	}
	// A retry waits for its delay.
	if err := db.RetryJob(ctx, j1, "disk trouble", time.Hour); err != nil {
		t.Fatal(err)
	}
	j3, _ := db.ClaimJob(ctx, "w1", time.Hour)
	if j3 == nil || j3.UploadID != ids[2] {
		t.Fatalf("third claim %+v", j3)
	}
	if j, _ := db.ClaimJob(ctx, "w1", time.Hour); j != nil {
		t.Errorf("claimed %+v with every job leased or delayed", j)
	}
	if n, err := db.RecoverJobs(ctx); err != nil || n != 2 {
		t.Errorf("recovered %d jobs, %v; want 2", n, err)
	}

	crash := store.Crash{SHA256: upload(2).SHA256, Member: "c.dmp", Bucket: "0x50_W_x.sys!+0x10", Code: "0x50", CodeName: "PAGE_FAULT_IN_NONPAGED_AREA",
		Driver: "x.sys", CrashTime: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Report: []byte(`{"bucket":"0x50_W_x.sys!+0x10"}`)}
	if err := db.CompleteJob(ctx, j3, []store.Crash{crash}, store.UploadDone, ""); err != nil {
		t.Fatal(err)
	}
	u, _ := db.Upload(ctx, ids[2])
	c, err := db.Crash(ctx, crash.SHA256)
	if u.Status != store.UploadDone || u.Dumps != 1 || err != nil || c.Machine != "pc" || c.UploadID != ids[2] || string(c.Report) != string(crash.Report) || !c.CrashTime.Equal(crash.CrashTime) {
		t.Errorf("after completion: upload %+v, crash %+v, %v", u, c, err)
	}
	if q, _ := db.Queue(ctx); q != (store.QueueStats{Queued: 2}) {
		t.Errorf("queue after completion %+v", q)
	}
	// Reanalysis queues only uploads without a pending job.
	if n, err := db.RequeueAll(ctx); err != nil || n != 1 {
		t.Errorf("requeued %d, %v; want 1", n, err)
	}
	days, _ := db.PerDay(ctx, store.Filter{})
	if len(days) != 1 || days[0] != (store.Day{Date: "2026-03-01", Count: 1}) {
		t.Errorf("per day %+v", days)
	}
}

// TestFilter checks the crash filters, including that LIKE wildcards in a
// search are taken literally.
func TestFilter(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	u, _, _ := db.AddUpload(ctx, upload(0))
	j, _ := db.ClaimJob(ctx, "w", time.Hour)
	var crashes []store.Crash
	for i, d := range []string{"acme.sys", "acme.sys", "other_drv.sys", ""} {
		crashes = append(crashes, store.Crash{SHA256: strings.Repeat(string("abcd"[i]), 64), Member: "m.dmp", Machine: []string{"pc1", "pc2"}[i%2],
			Bucket: "B" + d, Code: "0x50", Driver: d, Report: []byte("{}")})
	}
	if err := db.CompleteJob(ctx, j, crashes, store.UploadDone, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    store.Filter
		want int
	}{
		{store.Filter{}, 4},
		{store.Filter{Driver: "ACME.SYS"}, 2},
		{store.Filter{Machine: "pc2"}, 2},
		{store.Filter{Query: "_drv"}, 1},
		{store.Filter{Query: "%"}, 0},
		{store.Filter{Query: strings.Repeat("b", 64)}, 1},
		{store.Filter{UploadID: u.ID, Code: "0X50"}, 4},
		{store.Filter{Since: time.Now().Add(time.Hour)}, 0},
	}
	for _, tc := range tests {
		if _, n, err := db.Crashes(ctx, tc.f); err != nil || n != tc.want {
			t.Errorf("%+v: %d crashes, %v; want %d", tc.f, n, err, tc.want)
		}
	}
	top, _ := db.Top(ctx, store.ByDriver, store.Filter{}, 5)
	if len(top) != 2 || top[0] != (store.Count{Name: "acme.sys", Count: 2}) {
		t.Errorf("top drivers %+v", top)
	}
	bs, _ := db.Buckets(ctx, store.Filter{}, time.Now().Add(-time.Hour))
	if len(bs) != 3 || bs[0].ID != "Bacme.sys" || bs[0].Count != 2 || bs[0].Machines != 2 {
		t.Errorf("new buckets %+v", bs)
	}
	if bs, _ := db.Buckets(ctx, store.Filter{}, time.Now().Add(time.Hour)); len(bs) != 0 {
		t.Errorf("buckets new in the future: %+v", bs)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	tk := &store.Token{Name: "pc", Role: store.RoleUpload, Hash: strings.Repeat("f", 64)}
	if err := db.AddToken(ctx, tk); err != nil || tk.ID == 0 {
		t.Fatalf("%+v, %v", tk, err)
	}
	if err := db.AddToken(ctx, &store.Token{Name: "x", Role: "root", Hash: "00"}); err == nil {
		t.Error("a token with an unknown role was stored")
	}
	got, err := db.TokenByHash(ctx, tk.Hash)
	if err != nil || got.Role != store.RoleUpload || got.Name != "pc" {
		t.Errorf("%+v, %v", got, err)
	}
	if err := db.DeleteToken(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TokenByHash(ctx, tk.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted token: %v", err)
	}
}

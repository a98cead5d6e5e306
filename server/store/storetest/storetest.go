// Package storetest is the contract every store.Store implementation
// passes: the same table of facts about uploads, the job queue, crashes
// and tokens (and event logs, for a store.EventStore; sign-in sessions, for a
// store.SessionStore), run by each implementation's tests against a real database
// (sqlitestore against a file, pgstore against a PostgreSQL server found
// through $BUGCHECK_TEST_POSTGRES).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/server/store"
)

// Options describe how an implementation may differ from the contract.
type Options struct {
	// SharedQueue is set for stores that several server instances share:
	// their RecoverJobs releases only jobs whose lease has run out,
	// never a job a live instance holds.
	SharedQueue bool
}

// Run runs the contract; open returns a new, empty store, closed by the
// caller's cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store, opt Options) {
	t.Run("Queue", func(t *testing.T) { testQueue(t, open(t), opt) })
	t.Run("Filter", func(t *testing.T) { testFilter(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	t.Run("ConcurrentClaims", func(t *testing.T) { testConcurrentClaims(t, open(t)) })
	t.Run("ConcurrentAddUpload", func(t *testing.T) { testConcurrentAddUpload(t, open(t)) })
	t.Run("Events", func(t *testing.T) {
		db := open(t)
		if _, ok := db.(store.EventStore); !ok {
			t.Skip("the store keeps no event logs")
		}
		testEvents(t, db)
	})
	t.Run("Sessions", func(t *testing.T) {
		db := open(t)
		if _, ok := db.(store.SessionStore); !ok {
			t.Skip("the store keeps no sessions")
		}
		testSessions(t, db)
	})
}

// Upload returns the i-th test upload: its SHA-256 is a hex digit of i
// repeated (i < 16), or i in hex padded with zeros.
func Upload(i int) *store.Upload {
	sha := strings.Repeat(string("0123456789abcdef"[i%16]), 64)
	if i >= 16 {
		sha = fmt.Sprintf("%064x", i)
	}
	return &store.Upload{SHA256: sha, Kind: "dmp", Size: int64(100 + i), Name: "a.dmp", Machine: "pc"}
}

// testQueue walks jobs through claim, lease expiry, retry, recovery and
// completion.
func testQueue(t *testing.T, db store.Store, opt Options) {
	ctx := context.Background()
	var ids []int64
	for i := range 3 {
		u, created, err := db.AddUpload(ctx, Upload(i))
		if err != nil || !created {
			t.Fatalf("upload %d: %v %v", i, created, err)
		}
		ids = append(ids, u.ID)
	}
	if u, created, err := db.AddUpload(ctx, Upload(1)); err != nil || created || u.ID != ids[1] {
		t.Errorf("same SHA-256 again: %+v created %v, %v", u, created, err)
	}
	if u, err := db.UploadBySHA(ctx, strings.ToUpper(Upload(2).SHA256)); err != nil || u.ID != ids[2] || u.Size != 102 || u.Status != store.UploadQueued {
		t.Errorf("by upper-case SHA-256: %+v, %v", u, err)
	}
	if _, err := db.Upload(ctx, ids[2]+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing upload: %v", err)
	}
	if ups, err := db.Uploads(ctx, 2, 0); err != nil || len(ups) != 2 || ups[0].ID != ids[2] || ups[1].ID != ids[1] {
		t.Errorf("newest uploads: %+v, %v", ups, err)
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
		t.Fatalf("expired lease: %+v then %+v", j2, j2again)
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
	if q, _ := db.Queue(ctx); q != (store.QueueStats{Queued: 1, Running: 2}) {
		t.Errorf("queue with two jobs running: %+v", q)
	}
	if opt.SharedQueue {
		// Both running jobs have live leases: recovery leaves them to
		// their instances. Once one's lease runs out, it is released.
		if n, err := db.RecoverJobs(ctx); err != nil || n != 0 {
			t.Errorf("recovered %d live jobs, %v; want 0", n, err)
		}
		if err := db.ExtendJob(ctx, j2again, -time.Second); err != nil {
			t.Fatal(err)
		}
		if n, err := db.RecoverJobs(ctx); err != nil || n != 1 {
			t.Errorf("recovered %d jobs, %v; want the 1 whose lease ran out", n, err)
		}
	} else if n, err := db.RecoverJobs(ctx); err != nil || n != 2 {
		t.Errorf("recovered %d jobs, %v; want 2", n, err)
	}

	crash := store.Crash{SHA256: Upload(2).SHA256, Member: "c.dmp", Bucket: "0x50_W_x.sys!+0x10", Code: "0x50", CodeName: "PAGE_FAULT_IN_NONPAGED_AREA",
		Driver: "x.sys", OSBuild: 26100, CrashTime: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Report: []byte(`{"bucket":"0x50_W_x.sys!+0x10"}`)}
	if err := db.CompleteJob(ctx, j3, []store.Crash{crash}, store.UploadDone, ""); err != nil {
		t.Fatal(err)
	}
	u, _ := db.Upload(ctx, ids[2])
	c, err := db.Crash(ctx, strings.ToUpper(crash.SHA256))
	if u.Status != store.UploadDone || u.Dumps != 1 || err != nil || c.Machine != "pc" || c.UploadID != ids[2] || c.OSBuild != 26100 ||
		string(c.Report) != string(crash.Report) || !c.CrashTime.Equal(crash.CrashTime) || !c.Received.Equal(u.Received) {
		t.Errorf("after completion: upload %+v, crash %+v, %v", u, c, err)
	}
	if q, _ := db.Queue(ctx); q != (store.QueueStats{Queued: 2}) {
		t.Errorf("queue after completion %+v", q)
	}
	// Reanalysis queues only uploads without a pending job.
	if n, err := db.RequeueAll(ctx); err != nil || n != 1 {
		t.Errorf("requeued %d, %v; want 1", n, err)
	}
	// A second analysis replaces the first.
	j, _ := db.ClaimJob(ctx, "w1", time.Hour)
	for j != nil && j.UploadID != ids[2] {
		j, _ = db.ClaimJob(ctx, "w1", time.Hour)
	}
	if j == nil {
		t.Fatal("the requeued job was not claimed")
	}
	crash.Bucket, crash.CrashTime = "0x50_W_x.sys!Copy", time.Time{}
	if err := db.CompleteJob(ctx, j, []store.Crash{crash}, store.UploadDone, ""); err != nil {
		t.Fatal(err)
	}
	if cs, n, err := db.Crashes(ctx, store.Filter{}); err != nil || n != 1 || cs[0].Bucket != "0x50_W_x.sys!Copy" || !cs[0].CrashTime.IsZero() {
		t.Errorf("after reanalysis: %d crashes %+v, %v", n, cs, err)
	}
	// Without a crash time, a crash counts on the day it was received.
	days, _ := db.PerDay(ctx, store.Filter{})
	if want := u.Received.UTC().Format("2006-01-02"); len(days) != 1 || days[0] != (store.Day{Date: want, Count: 1}) {
		t.Errorf("per day %+v, want 1 on %s", days, want)
	}
}

// testFilter checks the crash filters, including that LIKE wildcards in a
// search are taken literally.
func testFilter(t *testing.T, db store.Store) {
	ctx := context.Background()
	u, _, _ := db.AddUpload(ctx, Upload(0))
	j, _ := db.ClaimJob(ctx, "w", time.Hour)
	var crashes []store.Crash
	for i, d := range []string{"acme.sys", "acme.sys", "other_drv.sys", ""} {
		crashes = append(crashes, store.Crash{SHA256: strings.Repeat(string("abcd"[i]), 64), Member: "m.dmp", Machine: []string{"pc1", "pc2"}[i%2],
			Bucket: "B" + d, Code: "0x50", Driver: d, Summary: "Acme wrote past a pool buffer", Report: []byte("{}"),
			CrashTime: time.Date(2026, 3, 1+i/2, 8, 0, 0, 0, time.UTC)})
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
		{store.Filter{Bucket: "Bacme.sys"}, 2},
		{store.Filter{Query: "_drv"}, 1},
		{store.Filter{Query: "%"}, 0},
		{store.Filter{Query: "POOL BUFFER"}, 4},
		{store.Filter{Query: strings.Repeat("b", 64)}, 1},
		{store.Filter{UploadID: u.ID, Code: "0X50"}, 4},
		{store.Filter{UploadID: u.ID + 1}, 0},
		{store.Filter{Since: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}, 2},
		{store.Filter{Until: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}, 2},
		{store.Filter{Since: time.Now().Add(time.Hour)}, 0},
	}
	for _, tc := range tests {
		if _, n, err := db.Crashes(ctx, tc.f); err != nil || n != tc.want {
			t.Errorf("%+v: %d crashes, %v; want %d", tc.f, n, err, tc.want)
		}
	}
	if cs, n, err := db.Crashes(ctx, store.Filter{Limit: 1, Offset: 1}); err != nil || n != 4 || len(cs) != 1 || cs[0].SHA256 != strings.Repeat("b", 64) {
		t.Errorf("second page of one: %+v (%d in all), %v", cs, n, err)
	}
	top, _ := db.Top(ctx, store.ByDriver, store.Filter{}, 5)
	if len(top) != 2 || top[0] != (store.Count{Name: "acme.sys", Count: 2}) || top[1] != (store.Count{Name: "other_drv.sys", Count: 1}) {
		t.Errorf("top drivers %+v", top)
	}
	if top, _ := db.Top(ctx, store.ByMachine, store.Filter{}, 1); len(top) != 1 || top[0] != (store.Count{Name: "pc1", Count: 2}) {
		t.Errorf("top machine %+v", top)
	}
	days, _ := db.PerDay(ctx, store.Filter{})
	if len(days) != 2 || days[0] != (store.Day{Date: "2026-03-01", Count: 2}) || days[1] != (store.Day{Date: "2026-03-02", Count: 2}) {
		t.Errorf("per day %+v", days)
	}
	bs, _ := db.Buckets(ctx, store.Filter{}, time.Now().Add(-time.Hour))
	if len(bs) != 3 || bs[0].ID != "Bacme.sys" || bs[0].Count != 2 || bs[0].Machines != 2 || bs[0].Code != "0x50" ||
		!bs[0].FirstSeen.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)) || !bs[0].LastSeen.Equal(bs[0].FirstSeen) {
		t.Errorf("new buckets %+v", bs)
	}
	if bs, _ := db.Buckets(ctx, store.Filter{}, time.Now().Add(time.Hour)); len(bs) != 0 {
		t.Errorf("buckets new in the future: %+v", bs)
	}
}

func testTokens(t *testing.T, db store.Store) {
	ctx := context.Background()
	tk := &store.Token{Name: "pc", Role: store.RoleUpload, Hash: strings.Repeat("f", 64)}
	if err := db.AddToken(ctx, tk); err != nil || tk.ID == 0 {
		t.Fatalf("%+v, %v", tk, err)
	}
	if err := db.AddToken(ctx, &store.Token{Name: "x", Role: "root", Hash: "00"}); err == nil {
		t.Error("a token with an unknown role was stored")
	}
	if err := db.AddToken(ctx, &store.Token{Name: "again", Role: store.RoleRead, Hash: tk.Hash}); err == nil {
		t.Error("a second token with the same hash was stored")
	}
	got, err := db.TokenByHash(ctx, tk.Hash)
	if err != nil || got.Role != store.RoleUpload || got.Name != "pc" || got.ID != tk.ID {
		t.Errorf("%+v, %v", got, err)
	}
	if toks, err := db.Tokens(ctx); err != nil || len(toks) != 1 || toks[0].ID != tk.ID {
		t.Errorf("tokens %+v, %v", toks, err)
	}
	if err := db.DeleteToken(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TokenByHash(ctx, tk.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted token: %v", err)
	}
	if err := db.DeleteToken(ctx, tk.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting it again: %v", err)
	}
}

// testConcurrentClaims has workers claim and complete jobs at once: each
// job is claimed exactly once and every upload ends analysed.
func testConcurrentClaims(t *testing.T, db store.Store) {
	ctx := context.Background()
	const uploads, workers = 40, 8
	for i := range uploads {
		if _, _, err := db.AddUpload(ctx, Upload(16+i)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claims := map[int64]int{}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, err := db.ClaimJob(ctx, fmt.Sprintf("w%d", w), time.Hour)
				if err != nil {
					errc <- err
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				claims[j.UploadID]++
				mu.Unlock()
				c := store.Crash{SHA256: fmt.Sprintf("%064x", 1000+j.UploadID), Member: "m.dmp", Bucket: "B", Code: "0x50", Report: []byte("{}")}
				if err := db.CompleteJob(ctx, j, []store.Crash{c}, store.UploadDone, ""); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if len(claims) != uploads {
		t.Errorf("%d uploads claimed, want %d", len(claims), uploads)
	}
	for id, n := range claims {
		if n != 1 {
			t.Errorf("upload %d claimed %d times", id, n)
		}
	}
	if q, _ := db.Queue(ctx); q != (store.QueueStats{}) {
		t.Errorf("queue after the run %+v", q)
	}
	if _, n, _ := db.Crashes(ctx, store.Filter{}); n != uploads {
		t.Errorf("%d crashes, want %d", n, uploads)
	}
}

// testConcurrentAddUpload adds the same bytes from many requests at once:
// one upload and one job result.
func testConcurrentAddUpload(t *testing.T, db store.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	ids := make([]int64, n)
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var u *store.Upload
			u, created[i], errs[i] = db.AddUpload(ctx, Upload(7))
			if u != nil {
				ids[i] = u.ID
			}
		}()
	}
	wg.Wait()
	nc := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("adding %d: %v", i, errs[i])
		}
		if created[i] {
			nc++
		}
		if ids[i] != ids[0] {
			t.Errorf("adding %d gave upload %d, not %d", i, ids[i], ids[0])
		}
	}
	if nc != 1 {
		t.Errorf("%d adds created the upload, want 1", nc)
	}
	if q, _ := db.Queue(ctx); q != (store.QueueStats{Queued: 1}) {
		t.Errorf("queue %+v, want one job", q)
	}
}

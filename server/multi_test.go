package server

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/server/blob/cloudblob/s3test"
	"github.com/bugcheck/bugcheck/server/store"
	"github.com/bugcheck/bugcheck/server/store/storetest"
)

// completions counts the completed analyses of each upload.
type completions struct {
	mu   sync.Mutex
	done map[int64]int
}

// countingStore is a store that counts its completions.
type countingStore struct {
	store.Store
	c *completions
}

func (s countingStore) CompleteJob(ctx context.Context, j *store.Job, crashes []store.Crash, status, errText string) error {
	err := s.Store.CompleteJob(ctx, j, crashes, status, errText)
	if err == nil {
		s.c.mu.Lock()
		s.c.done[j.UploadID]++
		s.c.mu.Unlock()
	}
	return err
}

// instance is one server of several sharing a database and a bucket.
type instance struct {
	env
	stop func()
}

func startInstance(t *testing.T, data *Data, st store.Store, mod func(*Config)) *instance {
	t.Helper()
	cfg := Config{Store: st, Blobs: data.BlobStore, TempDir: data.TempDir, Workers: 2, AnonymousRead: true, Lease: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{env: env{t: t, srv: srv, ts: httptest.NewServer(srv.Handler())}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.RunWorkers(ctx)
	}()
	var once sync.Once
	in.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			in.ts.Close()
		})
	}
	t.Cleanup(in.stop)
	return in
}

// TestInstances runs two servers on one PostgreSQL database and one S3
// bucket (a fake S3 server), with uploads spread over both and the same
// dump sent to each, and stops one while it is analysing: every upload is
// stored once, analysed exactly once, and the stopped server's jobs are
// finished by the other when their leases run out.
func TestInstances(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.Postgres(t)
	bucket := s3test.Server(t, "dumps")
	open := func() *Data {
		d, err := OpenDataWith(ctx, t.TempDir(), DataOptions{DB: dbURL, Blobs: bucket})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if d.DB != nil || d.Blobs != nil || !d.Shared {
			t.Fatalf("state not shared: %+v", d)
		}
		return d
	}
	dA, dB := open(), open()
	cs := &completions{done: map[int64]int{}}
	tok, _, err := NewToken(ctx, dA.Store, "fleet", store.RoleUpload)
	if err != nil {
		t.Fatal(err)
	}
	// A reads slowly, so that it is in the middle of analyses when it
	// is stopped.
	var sb *slowBlobs
	a := startInstance(t, dA, countingStore{dA.Store, cs}, func(c *Config) {
		sb = &slowBlobs{Store: c.Blobs, delay: 300 * time.Millisecond, opens: map[string]int{}}
		c.Blobs = sb
	})
	b := startInstance(t, dB, countingStore{dB.Store, cs}, nil)

	const n = 12
	want := map[string]int{}
	ids := map[int64]bool{}
	for i := range n {
		k := fleettest.KindOf(i)
		want[k.Bucket]++
		in := []*instance{a, b}[i%2]
		code, u := in.uploadRaw(tok, fleettest.Crash(k, i), "m.dmp", "pc")
		if code != 201 || !u.Created {
			t.Fatalf("upload %d to instance %d: %d %+v", i, i%2, code, u)
		}
		ids[u.ID] = true
	}
	// The same bytes sent to the other instance are the same upload.
	code, u := b.uploadRaw(tok, fleettest.Crash(fleettest.KindOf(0), 0), "again.dmp", "pc")
	if code != 200 || u.Created || !ids[u.ID] {
		t.Errorf("the same dump sent to the other instance: %d %+v", code, u)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		sb.mu.Lock()
		opened := len(sb.opens)
		sb.mu.Unlock()
		if opened > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.stop()

	b.waitIdleOn(dB.Store, 60*time.Second)
	ups, err := dB.Store.Uploads(ctx, 100, 0)
	if err != nil || len(ups) != n {
		t.Fatalf("%d uploads, %v; want %d", len(ups), err, n)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, u := range ups {
		if u.Status != store.UploadDone || u.Dumps != 1 || cs.done[u.ID] != 1 {
			t.Errorf("upload %d: %s with %d dumps, analysed %d times; want done, 1, once", u.ID, u.Status, u.Dumps, cs.done[u.ID])
		}
		if ok, err := dA.BlobStore.Exists(ctx, u.BlobKey()); !ok || err != nil {
			t.Errorf("upload %d: blob %s missing: %v", u.ID, u.BlobKey(), err)
		}
	}
	top, err := dB.Store.Top(ctx, store.ByBucket, store.Filter{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range top {
		got[c.Name] = c.Count
	}
	if len(got) != len(want) {
		t.Errorf("buckets %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("bucket %s: %d crashes, want %d", k, got[k], v)
		}
	}
	sb.mu.Lock()
	t.Logf("instance A opened %d blobs before it stopped", len(sb.opens))
	sb.mu.Unlock()
}

// waitIdleOn waits until st has no queued or running job.
func (in *instance) waitIdleOn(st store.Store, limit time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		q, err := st.Queue(context.Background())
		if err != nil {
			in.t.Fatal(err)
		}
		if q.Queued == 0 && q.Running == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.t.Fatalf("analysis queue did not drain in %v", limit)
}

package server

import (
	"archive/zip"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/server/blob"
	"github.com/bugcheck/bugcheck/server/store"
)

// slowBlobs is a blob store without local paths (as object storage would
// be) whose reads start late, and which counts them.
type slowBlobs struct {
	blob.Store
	delay time.Duration
	mu    sync.Mutex
	opens map[string]int
}

func (s *slowBlobs) Open(ctx context.Context, key string) (blob.Reader, error) {
	s.mu.Lock()
	s.opens[key]++
	s.mu.Unlock()
	time.Sleep(s.delay)
	return s.Store.Open(ctx, key)
}

// TestLeaseRenewal runs analyses that take longer than the job lease, on
// a blob store without local files: the workers renew their leases, so
// each upload is read and analysed once, and archives are analysed from a
// temporary copy.
func TestLeaseRenewal(t *testing.T) {
	var sb *slowBlobs
	e := newEnv(t, func(c *Config) {
		sb = &slowBlobs{Store: c.Blobs, delay: 1500 * time.Millisecond, opens: map[string]int{}}
		c.Blobs, c.Lease, c.Workers = sb, 400*time.Millisecond, 3
	})
	d0, d1 := fleettest.Crash(fleettest.Kinds[0], 0), fleettest.Crash(fleettest.Kinds[4], 1)
	z := zipOf(t, zipMember{"pc5/Minidump/x.dmp", d1, zip.Deflate})
	var ups []uploadResponse
	for _, b := range [][]byte{d0, z} {
		st, u := e.uploadRaw(e.upload, b, "f", "pc")
		if st != 201 {
			t.Fatalf("upload: %d", st)
		}
		ups = append(ups, u)
	}
	e.waitIdle()
	for _, u := range ups {
		got, _ := e.data.Store.Upload(context.Background(), u.ID)
		if n := sb.opens[u.BlobKey()]; n != 1 || got.Status != store.UploadDone || got.Dumps != 1 {
			t.Errorf("upload %d (%s): read %d times, %+v", u.ID, u.Kind, n, got)
		}
	}
	if c, err := e.data.Store.Crash(context.Background(), sha(d1)); err != nil || c.Machine != "pc5" || c.Bucket != fleettest.Kinds[4].Bucket {
		t.Errorf("zip member: %+v, %v", c, err)
	}
}

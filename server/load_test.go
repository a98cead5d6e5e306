package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/server/store"
)

// TestLoad has 50 uploaders send distinct generated dumps at once over
// loopback, each also re-sending one dump another uploader sends, and
// checks that every dump was acknowledged once as new, none was lost or
// stored twice, and every one was analysed. BUGCHECK_LOAD_DUMPS sets the
// number of dumps (default 2,000, 400 under the race detector, which
// keeps CI under a minute; the full run is
// BUGCHECK_LOAD_DUMPS=5000).
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	n := 2000
	if raceEnabled {
		n = 400
	}
	if v := os.Getenv("BUGCHECK_LOAD_DUMPS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 50 || n > 100000 {
			t.Fatalf("BUGCHECK_LOAD_DUMPS=%q: want a number from 50 to 100000", v)
		}
	}
	const uploaders = 50
	// One upload token sends everything as fast as it can: no limit.
	e := newEnv(t, func(c *Config) { c.RateLimits = RateLimits{Upload: -1, API: -1} })
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: uploaders}}
	defer client.CloseIdleConnections()

	type ack struct {
		id      int64
		created bool
	}
	var mu sync.Mutex
	acks := map[string][]ack{} // sha -> every acknowledgement
	var errs []error
	send := func(data []byte, i int) error {
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/dumps", bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+e.upload)
		req.Header.Set("X-Bugcheck-Machine", fmt.Sprintf("pc%02d", i%uploaders))
		req.Header.Set("X-Bugcheck-Filename", fmt.Sprintf("%05d.dmp", i))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return fmt.Errorf("dump %d: %s: %s", i, resp.Status, b)
		}
		var u uploadResponse
		if err := json.Unmarshal(b, &u); err != nil {
			return err
		}
		mu.Lock()
		acks[u.SHA256] = append(acks[u.SHA256], ack{u.ID, u.Created})
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for w := range uploaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each uploader generates its own dumps, in parallel, and
			// at half-time re-sends dump w+1, which uploader w+1 sends
			// first.
			for i := w; i < n; i += uploaders {
				if err := send(fleettest.Crash(fleettest.KindOf(i), i), i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if i/uploaders == n/uploaders/2 {
					j := (w + 1) % uploaders
					if err := send(fleettest.Crash(fleettest.KindOf(j), j), j); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d uploads failed; first: %v", len(errs), errs[0])
	}
	e.waitIdleFor(3 * time.Minute)

	created, ids := 0, map[int64]bool{}
	for s, as := range acks {
		for _, a := range as {
			if a.created {
				created++
			}
			if a.id != as[0].id {
				t.Errorf("dump %s acknowledged as uploads %d and %d", s[:12], as[0].id, a.id)
			}
		}
		ids[as[0].id] = true
	}
	ctx := context.Background()
	ups, err := e.data.Store.Uploads(ctx, n+100, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, u := range ups {
		if u.Status == store.UploadDone && u.Dumps == 1 {
			done++
		}
	}
	_, crashes, err := e.data.Store.Crashes(ctx, store.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(acks) != n || created != n || len(ids) != n || len(ups) != n || done != n || crashes != n {
		t.Errorf("%d dumps sent: %d acknowledged, %d as new, %d upload IDs; %d uploads stored, %d analysed, %d crashes",
			n, len(acks), created, len(ids), len(ups), done, crashes)
	}
	var buckets struct{ Buckets []store.Bucket }
	e.getJSON("/api/v1/buckets", &buckets)
	sum := 0
	for _, b := range buckets.Buckets {
		sum += b.Count
	}
	if len(buckets.Buckets) != len(fleettest.Kinds) || sum != n || buckets.Buckets[0].ID != fleettest.Kinds[0].Bucket || buckets.Buckets[0].Count != (n+1)/2 {
		t.Errorf("buckets %+v", buckets.Buckets)
	}
}

package server

import (
	"bytes"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
)

// BenchmarkUpload measures acknowledged uploads over loopback from 16
// clients at once: staging, the content check, SHA-256, the synced blob,
// and the committed row and job, with the analysis workers running beside
// them. Dumps are generated before the timer starts.
func BenchmarkUpload(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.RateLimits = RateLimits{Upload: -1} })
	dumps := make([][]byte, b.N)
	for i := range dumps {
		dumps[i] = fleettest.Crash(fleettest.KindOf(i), i)
	}
	const clients = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	b.SetBytes(int64(len(dumps[0])))
	b.SetParallelism(max(clients/runtime.GOMAXPROCS(0), 1))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/dumps", bytes.NewReader(dumps[i]))
			req.Header.Set("Authorization", "Bearer "+e.upload)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("upload %d: %s", i, resp.Status)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "uploads/s")
}

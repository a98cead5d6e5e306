package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A rate-limited server's Retry-After sets the wait before the next try.
func TestUploadRetryAfter(t *testing.T) {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "17")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":"slow down"}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"id":7,"sha256":"ab"}`))
	}))
	defer ts.Close()
	p := filepath.Join(t.TempDir(), "a.dmp")
	if err := os.WriteFile(p, []byte("PAGEDU64"), 0o600); err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	u := &uploader{client: ts.Client(), endpoint: ts.URL, token: "bct_x", machine: "pc1",
		sleep: func(d time.Duration) { slept = append(slept, d) }}
	msg, err := u.send(p)
	if err != nil || msg != "uploaded (upload 7, sha256 ab)" {
		t.Fatalf("send = %q, %v", msg, err)
	}
	if len(slept) != 1 || slept[0] != 17*time.Second || calls.Load() != 2 {
		t.Errorf("slept %v over %d calls, want [17s] over 2", slept, calls.Load())
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {" 60 ", time.Minute}, {"-1", 0}, {"soon", 0},
		{"86400", maxRetryAfter}, {"Wed, 21 Oct 2015 07:28:00 GMT", 0},
	} {
		if got := retryAfter(tc.in); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

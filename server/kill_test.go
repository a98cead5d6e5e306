package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/server/store"
)

// The kill test runs the server in a child process: this test binary
// itself, started with childEnv set.
const (
	childEnv     = "BUGCHECK_SERVER_CHILD_DATA"
	childAddrEnv = "BUGCHECK_SERVER_CHILD_ADDR"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir, os.Getenv(childAddrEnv)))
	}
	os.Exit(m.Run())
}

// runChild serves dir on a loopback port and writes the address to
// addrFile (atomically) once listening.
func runChild(dir, addrFile string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	d, err := OpenData(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer d.Close()
	// The test uploads and reads back thousands of dumps from one address.
	srv, err := New(Config{Store: d.DB, Blobs: d.Blobs, TempDir: d.TempDir, Workers: 2, AnonymousRead: true,
		RateLimits: RateLimits{Upload: -1, API: -1}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	err = srv.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) {
		tmp := addrFile + ".tmp"
		os.WriteFile(tmp, []byte(a.String()), 0o600)
		os.Rename(tmp, addrFile)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild starts a server process on dir and returns its base URL.
func startChild(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, childAddrEnv+"="+addrFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for range 200 { // 10 s
		if b, err := os.ReadFile(addrFile); err == nil {
			return cmd, "http://" + string(b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the server process did not start: %s", stderr.String())
	return nil, ""
}

// TestKill9 kills the server process with SIGKILL while uploaders are
// sending dumps, restarts it on the same folder, and checks that every
// upload it acknowledged is there and gets analysed, and that nothing
// stored is half-written: every upload row has its blob, and no crash
// lacks its upload.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test skipped in -short mode")
	}
	dir := t.TempDir()
	ctx := context.Background()
	d, err := OpenData(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := NewToken(ctx, d.DB, "kill test", store.RoleUpload)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}

	cmd, base := startChild(t, dir)
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	acked := map[string]int64{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const uploaders, perUploader = 8, 400
	for w := range uploaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perUploader {
				select {
				case <-stop:
					return
				default:
				}
				i := w + k*uploaders
				req, _ := http.NewRequest("POST", base+"/api/v1/dumps", bytes.NewReader(fleettest.Crash(fleettest.KindOf(i), i)))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var u uploadResponse
				if resp.StatusCode == http.StatusCreated && json.Unmarshal(b, &u) == nil {
					mu.Lock()
					acked[u.SHA256] = u.ID
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once a good number of uploads went through, while the rest
	// are in flight and the workers are busy.
	for range 400 { // 20 s
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) < 100 {
		t.Fatalf("only %d uploads acknowledged before the kill", len(acked))
	}

	_, base = startChild(t, dir)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct{ Queue store.QueueStats }
		resp, err := client.Get(base + "/api/v1/stats")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Queue.Queued == 0 && st.Queue.Running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained after restart: %+v", st.Queue)
		}
		time.Sleep(100 * time.Millisecond)
	}
	missing := 0
	for sha, id := range acked {
		resp, err := client.Get(base + "/api/v1/crashes/" + sha)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var u store.Upload
		resp2, err := client.Get(fmt.Sprintf("%s/api/v1/uploads/%d", base, id))
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp2.Body).Decode(&u)
		resp2.Body.Close()
		if resp.StatusCode != http.StatusOK || u.SHA256 != sha || u.Status != store.UploadDone {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged dump %s (upload %d): crash status %d, upload %+v", sha[:12], id, resp.StatusCode, u)
			}
		}
	}

	// Every upload row, acknowledged or not, has its whole blob, and was
	// analysed into exactly one crash.
	var list struct{ Uploads []store.Upload }
	resp, err := client.Get(base + "/api/v1/uploads?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	for _, u := range list.Uploads {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", filepath.FromSlash(u.BlobKey())))
		if err != nil || sha(b) != u.SHA256 || u.Status != store.UploadDone || u.Dumps != 1 {
			t.Errorf("upload %d: blob %v (%d bytes), %+v", u.ID, err, len(b), u)
		}
	}
	var crashes struct{ Total int }
	resp, err = client.Get(base + "/api/v1/crashes?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&crashes)
	resp.Body.Close()
	if len(list.Uploads) < len(acked) || crashes.Total != len(list.Uploads) || missing > 0 {
		t.Errorf("%d acknowledged, %d missing; %d uploads stored, %d crashes", len(acked), missing, len(list.Uploads), crashes.Total)
	}
	// Staged files of the killed process are left in tmp (cleared when a
	// day old); no stray file is in the blob folder's final names.
	strays, _ := filepath.Glob(filepath.Join(dir, "blobs", "*", "*"))
	for _, s := range strays {
		if !strings.HasPrefix(filepath.Base(s), ".put-") && !blobNameOK(filepath.Base(s)) {
			t.Errorf("unexpected blob file %s", s)
		}
	}
	t.Logf("%d uploads acknowledged before SIGKILL, %d stored after restart", len(acked), len(list.Uploads))
}

func blobNameOK(name string) bool {
	return len(name) > 64 && strings.HasSuffix(name, ".dmp")
}

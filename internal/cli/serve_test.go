package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/server"
	"github.com/bugcheck/bugcheck/server/store"
)

// TestUploadAndReanalyze pushes a Minidump folder to a server with
// `bugcheck upload`, pushes it again (nothing new), then stops the server
// and re-analyses its store with `bugcheck reanalyze`.
func TestUploadAndReanalyze(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	d, err := server.OpenData(ctx, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := server.NewToken(ctx, d.DB, "cli test", store.RoleUpload)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: d.DB, Blobs: d.Blobs, TempDir: d.TempDir, Workers: 1, AnonymousRead: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.RunWorkers(wctx)
	}()

	src := filepath.Join(t.TempDir(), "pc9", "Minidump")
	os.MkdirAll(src, 0o755)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(fleettest.Crash(fleettest.Kinds[1], 1))
	zw.Close()
	for name, b := range map[string][]byte{
		"112625-01.dmp":    fleettest.Crash(fleettest.Kinds[0], 0),
		"112625-02.dmp.gz": gz.Bytes(),
		"notes.txt":        []byte("not sent"),
	} {
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := run("upload", "--server", ts.URL, "--token", tok, "--machine", "pc9", src)
	if code != ExitOK || strings.Count(out, ": uploaded (upload ") != 2 || strings.Contains(out, "notes.txt") {
		t.Errorf("first upload: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run("upload", "--server", ts.URL, "--token", tok, src)
	if code != ExitOK || strings.Count(out, ": already on the server") != 2 {
		t.Errorf("second upload: exit %d\n%s", code, out)
	}
	code, _, errs = run("upload", "--server", ts.URL, "--token", "bct_wrong", filepath.Join(src, "112625-01.dmp"))
	if code != ExitFailed || !strings.Contains(errs, "401 Unauthorized") {
		t.Errorf("wrong token: exit %d, %s", code, errs)
	}
	for range 200 {
		if q, _ := d.DB.Queue(ctx); q.Queued == 0 && q.Running == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	ts.Close()
	_, n, _ := d.DB.Crashes(ctx, store.Filter{Machine: "pc9"})
	d.Close()
	if n != 2 {
		t.Fatalf("%d crashes from pc9 stored, want 2", n)
	}

	code, out, errs = run("reanalyze", "--data", dataDir, "--workers", "1")
	if code != ExitOK || out != "bugcheck: queued 2 uploads; 2 crashes stored\n" {
		t.Errorf("reanalyze: exit %d, %q %s", code, out, errs)
	}
	code, out, _ = run("serve", "token", "add", "ops", "--role", "read", "--data", dataDir)
	if code != ExitOK || !strings.HasPrefix(out, server.TokenPrefix) {
		t.Errorf("token add: exit %d, %q", code, out)
	}
	code, out, _ = run("serve", "token", "list", "--data", dataDir)
	if code != ExitOK || !strings.Contains(out, "read    ") || !strings.Contains(out, "ops") || !strings.Contains(out, "cli test") {
		t.Errorf("token list: exit %d\n%s", code, out)
	}
	if code, _, errs = run("serve", "token", "add", "x", "--role", "root", "--data", dataDir); code != ExitUsage || !strings.Contains(errs, "unknown role") {
		t.Errorf("bad role: exit %d, %s", code, errs)
	}
}

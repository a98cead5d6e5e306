package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

// TestAnalyzeFromSymbolServer analyses the corpus crash with its images and
// PDB served by a local symbol server: the stack modules are prefetched,
// each file is downloaded once, and the frames get their function names.
func TestAnalyzeFromSymbolServer(t *testing.T) {
	store := corpus.Path(t, "symstore")
	dump := corpus.Path(t, "dumps", "triage_x64.dmp")
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[strings.ToLower(r.URL.Path)]++
		mu.Unlock()
		// Real symbol servers ignore case; the corpus keeps the store's case.
		p, ok := findFold(store, strings.Trim(r.URL.Path, "/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, p)
	}))
	defer srv.Close()
	cache := t.TempDir()
	code, out, errOut := run("analyze", "--symbol-path", "srv*"+cache+"*"+srv.URL, dump)
	if code != 0 || !strings.Contains(out, "amdppm!WriteIoMemRawEx+0x70") || !strings.Contains(out, "amdppm!EvtDevicePrepareHardware+0xd2") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, p := range []string{"/amdppm.sys/c9c030003b000/amdppm.sys", "/amdppm.pdb/1c19fddb27bb3399d9b45973efeafcf31/amdppm.pdb", "/wdf01000.sys/a9a9d36ed1000/wdf01000.sys"} {
		if hits[p] != 1 {
			t.Errorf("%s fetched %d times; all requests: %v", p, hits[p], hits)
		}
	}
	if _, err := os.Stat(filepath.Join(cache, "amdppm.pdb", "1C19FDDB27BB3399D9B45973EFEAFCF31", "amdppm.pdb")); err != nil {
		t.Errorf("the PDB was not cached: %v", err)
	}
	// A second, offline run uses the cache alone.
	before := len(hits)
	code, out, _ = run("analyze", "--offline", "--symbol-path", "srv*"+cache+"*"+srv.URL, dump)
	if code != 0 || !strings.Contains(out, "amdppm!WriteIoMemRawEx+0x70") || len(hits) != before {
		t.Errorf("offline run: exit %d, %d new requests", code, len(hits)-before)
	}
}

// findFold resolves rel under root ignoring case, one path element at a time.
func findFold(root, rel string) (string, bool) {
	cur := root
	for _, part := range strings.Split(rel, "/") {
		ents, err := os.ReadDir(cur)
		if err != nil {
			return "", false
		}
		found := false
		for _, e := range ents {
			if strings.EqualFold(e.Name(), part) {
				cur, found = filepath.Join(cur, e.Name()), true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	return cur, true
}

package symstore

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

func TestParsePath(t *testing.T) {
	cases := []struct {
		path string
		want []Entry
	}{
		{`C:\syms`, []Entry{{Dir: `C:\syms`}}},
		{`srv*C:\cache*https://msdl.example/download/symbols`, []Entry{{Dir: `C:\cache`}, {Server: "https://msdl.example/download/symbols", Caches: []string{`C:\cache`}}}},
		{`srv*https://s.example/`, []Entry{{Dir: "/def"}, {Server: "https://s.example", Caches: []string{"/def"}}}},
		{`cache*/c;srv*https://s.example`, []Entry{{Dir: "/c"}, {Dir: "/c"}, {Server: "https://s.example", Caches: []string{"/c"}}}},
		{`symsrv*symsrv.dll*/x*http://h.example;/plain ; `, []Entry{{Dir: "/x"}, {Server: "http://h.example", Caches: []string{"/x"}}, {Dir: "/plain"}}},
		{`cache*`, nil},
	}
	for _, c := range cases {
		def := "/def"
		if c.path == "cache*" {
			def = ""
		}
		if got := ParsePath(c.path, def); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParsePath(%q) = %+v, want %+v", c.path, got, c.want)
		}
	}
}

// server serves the corpus symbol store case-insensitively, as real symbol
// servers do, failing the first failFirst requests with 503.
func server(t *testing.T, failFirst int32) (*httptest.Server, *int32) {
	root := corpus.Path(t, "symstore")
	var hits int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := atomic.AddInt32(&hits, 1)
		if n <= failFirst {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		p, ok := findFold(filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/"))), root)
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, p)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestDownload(t *testing.T) {
	srv, hits := server(t, 1)
	cache := t.TempDir()
	s := NewStore(ParsePath("srv*"+cache+"*"+srv.URL, ""))
	defer s.Close()
	// Lower-case names, as a dump's module list may spell them.
	name, off, ok := s.Function("AMDPPM.SYS", 0xc9c03000, 0x3b000, 0x334c)
	if !ok || name != "WriteIoMemRawEx" || off != 0x70 {
		t.Fatalf("Function = %s+%#x %v", name, off, ok)
	}
	if _, err := os.Stat(filepath.Join(cache, "AMDPPM.SYS", "C9C030003b000", "AMDPPM.SYS")); err != nil {
		t.Errorf("image not cached: %v", err)
	}
	if atomic.LoadInt32(hits) != 3 { // one 503, then the image, then the PDB
		t.Errorf("%d requests", *hits)
	}
	// A second store, offline, finds both in the cache.
	off2 := NewStore(ParsePath("srv*"+cache+"*"+srv.URL, ""))
	off2.Offline = true
	defer off2.Close()
	if name, _, ok := off2.Function("amdppm.sys", 0xc9c03000, 0x3b000, 0x313f); !ok || name != "WriteGenAddrEx" {
		t.Errorf("offline from cache: %s %v", name, ok)
	}
	// A build the server does not have is a clean miss, not an error storm.
	before := atomic.LoadInt32(hits)
	if _, err := s.Image("amdppm.sys", 0x12345678, 0x3b000); err == nil || !strings.Contains(err.Error(), "not on the symbol server") {
		t.Errorf("missing image: %v", err)
	}
	if n := atomic.LoadInt32(hits) - before; n != 3 { // name, name_, file.ptr: each 404 once
		t.Errorf("a 404 was retried: %d requests", n)
	}
	// The wrong build under the right name is refused.
	if _, err := NewLocal(corpus.Path(t, "symstore", "amdppm.sys", "C9C030003b000")).Image("amdppm.sys", 0xc9c03001, 0x3b000); err == nil || !strings.Contains(err.Error(), "different build") {
		t.Errorf("wrong build: %v", err)
	}
}

package symstore

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

const (
	basic32Key = "34060D222DBB44E5AA72243CE8326C2F2"
	amdppmKey  = "1C19FDDB27BB3399D9B45973EFEAFCF31"
	user32Key  = "15F778B3671D4EFDBDCDE79905308B792"
)

// symsrv is a loopback symbol server: explicit bodies and files by
// lower-case path, then (when root is set) the corpus symbol store, all
// case-insensitively; it counts requests per path.
type symsrv struct {
	root   string
	bodies map[string][]byte
	files  map[string]string
	delay  time.Duration

	mu       sync.Mutex
	hits     map[string]int
	inflight int
	peak     int
}

func newSymsrv(t *testing.T, s *symsrv) *httptest.Server {
	s.hits = map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.ToLower(r.URL.Path)
		s.mu.Lock()
		s.hits[p]++
		s.inflight++
		s.peak = max(s.peak, s.inflight)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inflight--
			s.mu.Unlock()
		}()
		time.Sleep(s.delay)
		if b, ok := s.bodies[p]; ok {
			w.Write(b)
			return
		}
		if f, ok := s.files[p]; ok {
			http.ServeFile(w, r, f)
			return
		}
		if s.root != "" {
			if f, ok := findFold(filepath.Join(s.root, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/"))), s.root); ok {
				http.ServeFile(w, r, f)
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (s *symsrv) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[strings.ToLower(path)]
}

// leftovers lists temporary files a download or expansion left behind.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestCompressedDownload(t *testing.T) {
	pd := corpus.Path(t, "pdb", "basic32.pd_")
	fs := &symsrv{files: map[string]string{"/basic32.pdb/" + strings.ToLower(basic32Key) + "/basic32.pd_": pd}}
	srv := newSymsrv(t, fs)
	cache := t.TempDir()
	s := NewStore(ParsePath("srv*"+cache+"*"+srv.URL, ""))
	defer s.Close()
	p, err := s.PDB("basic32.pdb", basic32Key)
	if err != nil {
		t.Fatal(err)
	}
	if p.SymbolStoreKey() != basic32Key || p.Age != 2 {
		t.Errorf("PDB key %s age %d", p.SymbolStoreKey(), p.Age)
	}
	st, err := os.Stat(filepath.Join(cache, "basic32.pdb", basic32Key, "basic32.pdb"))
	if err != nil || st.Size() != 6590464 {
		t.Errorf("expanded PDB in cache: %v", err)
	}
	base := "/basic32.pdb/" + basic32Key + "/"
	if a, b, c := fs.count(base+"basic32.pdb"), fs.count(base+"basic32.pd_"), fs.count(base+"file.ptr"); a != 1 || b != 1 || c != 0 {
		t.Errorf("requests: plain %d, compressed %d, file.ptr %d; want 1 1 0", a, b, c)
	}
	if l := leftovers(t, cache); len(l) > 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

func TestFilePointer(t *testing.T) {
	amdppm := corpus.Path(t, "symstore", "amdppm.pdb", amdppmKey, "amdppm.pdb")
	pd := corpus.Path(t, "pdb", "basic32.pd_")
	fs := &symsrv{bodies: map[string][]byte{
		"/amdppm.pdb/" + strings.ToLower(amdppmKey) + "/file.ptr":   []byte("PATH:" + amdppm + "\r\n"),
		"/basic32.pdb/" + strings.ToLower(basic32Key) + "/file.ptr": []byte("PATH:" + pd),
		"/user32.pdb/" + strings.ToLower(user32Key) + "/file.ptr":   []byte("MSG: withheld by the vendor"),
	}}
	srv := newSymsrv(t, fs)
	cache := t.TempDir()
	s := NewStore(ParsePath("srv*"+cache+"*"+srv.URL, ""))
	defer s.Close()
	cases := []struct {
		name, key string
		err       string
	}{
		{"amdppm.pdb", amdppmKey, ""},
		{"basic32.pdb", basic32Key, ""}, // the pointer names a cabinet
		{"user32.pdb", user32Key, "not available: withheld by the vendor"},
	}
	for _, c := range cases {
		p, err := s.PDB(c.name, c.key)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.name, err, c.err)
			}
			if _, err := os.Stat(filepath.Join(cache, c.name, c.key)); err == nil {
				t.Errorf("%s: something was cached", c.name)
			}
			continue
		}
		if err != nil || p.SymbolStoreKey() != c.key {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if _, err := os.Stat(filepath.Join(cache, c.name, c.key, c.name)); err != nil {
			t.Errorf("%s not cached: %v", c.name, err)
		}
		if n := fs.count("/" + c.name + "/" + c.key + "/file.ptr"); n != 1 {
			t.Errorf("%s: file.ptr asked %d times", c.name, n)
		}
	}
}

func TestCorruptDownload(t *testing.T) {
	pd, err := os.ReadFile(corpus.Path(t, "pdb", "basic32.pd_"))
	if err != nil {
		t.Fatal(err)
	}
	amdppm, err := os.ReadFile(corpus.Path(t, "symstore", "amdppm.pdb", amdppmKey, "amdppm.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := append([]byte(nil), pd[:200_000]...)
	plain := "/basic32.pdb/" + strings.ToLower(basic32Key) + "/basic32.pdb"
	compressed := "/basic32.pdb/" + strings.ToLower(basic32Key) + "/basic32.pd_"
	cases := []struct {
		name string
		path string
		body []byte
		want string
	}{
		{"HTML error page", plain, []byte("<html><body>Service unavailable, try later</body></html>"), "rejected"},
		{"truncated cabinet", compressed, truncated, "header declares 1185826 bytes but the file has 200000"},
		{"another PDB", plain, amdppm, "different build (GUID and age " + amdppmKey + "; wanted GUID and age " + basic32Key + ")"},
		{"another PDB in a cabinet", compressed, append([]byte(nil), amdppm...), "rejected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := &symsrv{bodies: map[string][]byte{c.path: c.body}}
			srv := newSymsrv(t, fs)
			cache := t.TempDir()
			s := NewStore(ParsePath("srv*"+cache+"*"+srv.URL, ""))
			s.Retries = 0
			defer s.Close()
			for attempt := 1; attempt <= 2; attempt++ {
				_, err := s.PDB("basic32.pdb", basic32Key)
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "deleted") {
					t.Fatalf("attempt %d: %v, want %q", attempt, err, c.want)
				}
				if _, err := os.Stat(filepath.Join(cache, "basic32.pdb", basic32Key, "basic32.pdb")); err == nil {
					t.Fatalf("attempt %d: the corrupt file was cached", attempt)
				}
				if l := leftovers(t, cache); len(l) > 0 {
					t.Fatalf("attempt %d: temporary files left: %v", attempt, l)
				}
				if n := fs.count(c.path); n != attempt { // the next call tries again
					t.Fatalf("attempt %d: %s requested %d times", attempt, c.path, n)
				}
			}
		})
	}
}

func TestPrefetch(t *testing.T) {
	root := corpus.Path(t, "symstore")
	pd := corpus.Path(t, "pdb", "basic32.pd_")
	fs := &symsrv{root: root, delay: 30 * time.Millisecond,
		files: map[string]string{"/basic32.pdb/" + strings.ToLower(basic32Key) + "/basic32.pd_": pd}}
	srv := newSymsrv(t, fs)
	cache := t.TempDir()
	s := NewStore(ParsePath("srv*"+cache+"*"+srv.URL, ""))
	s.Workers = 3
	defer s.Close()
	want := []Request{
		{"amdppm.sys", "C9C030003b000"},
		{"Wdf01000.sys", "A9A9D36Ed1000"},
		{"amdppm.pdb", amdppmKey},
		{"user32.pdb", user32Key},
		{"basic32.pdb", basic32Key},
	}
	var reqs []Request
	for i := 0; i < 3; i++ { // every file asked for three times, in different spellings
		for _, r := range want {
			if i == 1 {
				r.Name = strings.ToUpper(r.Name)
			}
			reqs = append(reqs, r)
		}
	}
	reqs = append(reqs, Request{"missing.sys", "12345678abc"}, Request{"bad.sys", "nonsense"})
	errs := s.Prefetch(reqs)
	for i, err := range errs[:len(errs)-2] {
		if err != nil {
			t.Errorf("%s: %v", reqs[i].Name, err)
		}
	}
	if err := errs[len(errs)-2]; err == nil || !strings.Contains(err.Error(), "not on the symbol server") {
		t.Errorf("missing: %v", err)
	}
	if err := errs[len(errs)-1]; err == nil || !strings.Contains(err.Error(), "not an image key") {
		t.Errorf("bad key: %v", err)
	}
	for _, r := range want {
		file := r.Name
		if r.Name == "basic32.pdb" {
			file = "basic32.pd_"
		}
		if n := fs.count("/" + r.Name + "/" + r.Key + "/" + file); n != 1 {
			t.Errorf("%s fetched %d times", r.Name, n)
		}
	}
	if fs.peak < 2 || fs.peak > 3 {
		t.Errorf("%d downloads at once, want 2 or 3 (Workers = 3)", fs.peak)
	}
	// Everything is now local: a second round asks the server nothing.
	before := len(fs.hits)
	total := func() (n int) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		for _, c := range fs.hits {
			n += c
		}
		return n
	}
	n0 := total()
	for i, err := range s.Prefetch(want) {
		if err != nil {
			t.Errorf("second round %s: %v", want[i].Name, err)
		}
	}
	if total() != n0 || len(fs.hits) != before {
		t.Errorf("second round made %d requests", total()-n0)
	}
}

func TestPrefetchModules(t *testing.T) {
	srv := newSymsrv(t, &symsrv{root: corpus.Path(t, "symstore")})
	s := NewStore(ParsePath("srv*"+t.TempDir()+"*"+srv.URL, ""))
	defer s.Close()
	errs := s.PrefetchModules([]Module{{"amdppm.sys", 0xc9c03000, 0x3b000}, {"gone.sys", 1, 0x1000}})
	if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "gone.sys") {
		t.Fatalf("errors: %v", errs)
	}
	s.Offline = true // both the image and its PDB are cached now
	if name, off, ok := s.Function("amdppm.sys", 0xc9c03000, 0x3b000, 0x334c); !ok || name != "WriteIoMemRawEx" || off != 0x70 {
		t.Errorf("Function = %s+%#x %v", name, off, ok)
	}
}

func TestLocalCompressed(t *testing.T) {
	dir := filepath.Dir(corpus.Path(t, "pdb", "basic32.pd_"))
	t.Run("temporary", func(t *testing.T) {
		tmp := t.TempDir()
		for _, v := range []string{"TMPDIR", "TMP", "TEMP"} { // os.TempDir on Unix and Windows
			t.Setenv(v, tmp)
		}
		l := NewLocal(dir)
		p, err := l.PDB("BASIC32.pdb", basic32Key)
		if err != nil || p.SymbolStoreKey() != basic32Key {
			t.Fatalf("PDB: %v", err)
		}
		made, _ := filepath.Glob(filepath.Join(tmp, "bugcheck-symbols-*", "BASIC32.pdb", basic32Key, "BASIC32.pdb"))
		if len(made) != 1 {
			t.Errorf("expanded into %v", made)
		}
		l.Close()
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("Close left %d entries in the temporary directory", len(left))
		}
	})
	t.Run("cache", func(t *testing.T) {
		cache := t.TempDir()
		l := NewLocal(dir)
		l.Cache = cache
		if _, err := l.PDB("basic32.pdb", basic32Key); err != nil {
			t.Fatal(err)
		}
		l.Close()
		// The next run finds the expanded copy as a plain file.
		l2 := NewLocal(cache)
		defer l2.Close()
		if p, err := l2.PDB("basic32.pdb", basic32Key); err != nil || p.Age != 2 {
			t.Fatalf("from cache: %v", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		l := NewLocal(dir)
		defer l.Close()
		if _, err := l.PDB("basic32.pdb", amdppmKey); err == nil || !strings.Contains(err.Error(), "rejected") {
			t.Errorf("wrong key: %v", err)
		}
	})
}

// storedCab wraps data as name in a cabinet without compression, as a
// symbol server's name_ file (MSZIP and LZX are the cab package's tests).
func storedCab(name string, data []byte) []byte {
	le := binary.LittleEndian
	nblocks := (len(data) + 32767) / 32768
	filesAt := 36 + 8
	dataAt := filesAt + 16 + len(name) + 1
	b := []byte("MSCF\x00\x00\x00\x00")
	size := dataAt + nblocks*8 + len(data)
	b = le.AppendUint32(b, uint32(size))
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, uint32(filesAt))
	b = le.AppendUint32(b, 0)
	b = append(b, 3, 1)
	b = le.AppendUint16(b, 1) // folders
	b = le.AppendUint16(b, 1) // files
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = le.AppendUint32(b, uint32(dataAt))
	b = le.AppendUint16(b, uint16(nblocks))
	b = le.AppendUint16(b, 0) // no compression
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, 0)
	b = append(b, 0, 0, 0, 0, 0, 0, 0x20, 0)
	b = append(append(b, name...), 0)
	for s := 0; s < len(data); s += 32768 {
		blk := data[s:min(s+32768, len(data))]
		b = le.AppendUint32(b, 0) // no checksum
		b = le.AppendUint16(b, uint16(len(blk)))
		b = le.AppendUint16(b, uint16(len(blk)))
		b = append(b, blk...)
	}
	return b
}

func TestCompressedImage(t *testing.T) {
	img, err := os.ReadFile(corpus.Path(t, "symstore", "amdppm.sys", "C9C030003b000", "amdppm.sys"))
	if err != nil {
		t.Fatal(err)
	}
	sy := storedCab("amdppm.sys", img)
	t.Run("images folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "AMDPPM.SY_"), sy, 0o644); err != nil {
			t.Fatal(err)
		}
		cache := t.TempDir()
		l := NewLocal(dir)
		l.Cache = cache
		defer l.Close()
		f, err := l.Image("amdppm.sys", 0xc9c03000, 0x3b000)
		if err != nil || f.SizeOfImage != 0x3b000 {
			t.Fatalf("Image: %v", err)
		}
		if _, err := os.Stat(filepath.Join(cache, "amdppm.sys", "C9C030003b000", "amdppm.sys")); err != nil {
			t.Errorf("not expanded into the cache: %v", err)
		}
		// Another build's key is refused even though the name matches.
		if _, err := l.Image("amdppm.sys", 0xc9c03001, 0x3b000); err == nil || !strings.Contains(err.Error(), "timestamp 0xc9c03000, size 0x3b000") {
			t.Errorf("wrong build: %v", err)
		}
	})
	t.Run("server", func(t *testing.T) {
		fs := &symsrv{bodies: map[string][]byte{"/amdppm.sys/c9c030003b000/amdppm.sy_": sy}}
		srv := newSymsrv(t, fs)
		cache := t.TempDir()
		s := NewStore(ParsePath("srv*"+cache+"*"+srv.URL, ""))
		defer s.Close()
		if v, ok := s.Version("amdppm.sys", 0xc9c03000, 0x3b000); !ok || v["OriginalFilename"] == "" {
			t.Fatalf("Version: %v %v", v, ok)
		}
		if n := fs.count("/amdppm.sys/C9C030003b000/amdppm.sy_"); n != 1 {
			t.Errorf("amdppm.sy_ requested %d times", n)
		}
	})
	t.Run("local file.ptr", func(t *testing.T) {
		dir := t.TempDir()
		ptr := filepath.Join(dir, "amdppm.sys", "C9C030003b000")
		os.MkdirAll(ptr, 0o755)
		target := corpus.Path(t, "symstore", "amdppm.sys", "C9C030003b000", "amdppm.sys")
		os.WriteFile(filepath.Join(ptr, "file.ptr"), []byte("PATH:"+target), 0o644)
		l := NewLocal(dir)
		defer l.Close()
		if f, err := l.Image("amdppm.sys", 0xc9c03000, 0x3b000); err != nil || f.TimeDateStamp != 0xc9c03000 {
			t.Fatalf("Image through file.ptr: %v", err)
		}
	})
}

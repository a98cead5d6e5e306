package server

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/report"
	"github.com/bugcheck/bugcheck/server/store"
)

// env is a server on a loopback port with its workers running, over a
// fresh data folder, and a token of each role.
type env struct {
	t                   testing.TB
	srv                 *Server
	data                *Data
	ts                  *httptest.Server
	admin, upload, read string
}

func newEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	data, err := openTestData(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	cfg := Config{Store: data.Store, Blobs: data.BlobStore, TempDir: data.TempDir, Workers: 2, AnonymousRead: true}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, data: data}
	for _, r := range []struct {
		dst  *string
		role store.Role
	}{{&e.admin, store.RoleAdmin}, {&e.upload, store.RoleUpload}, {&e.read, store.RoleRead}} {
		if *r.dst, _, err = NewToken(ctx, data.Store, string(r.role)+" token", r.role); err != nil {
			t.Fatal(err)
		}
	}
	e.ts = httptest.NewServer(srv.Handler()) // 127.0.0.1
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.RunWorkers(wctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		e.ts.Close()
	})
	return e
}

// do sends a request and returns the response with its body read.
func (e *env) do(method, path, token string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func (e *env) uploadRaw(token string, data []byte, name, machine string) (int, uploadResponse) {
	e.t.Helper()
	resp, b := e.do("POST", "/api/v1/dumps", token, bytes.NewReader(data), map[string]string{
		"Content-Type": "application/octet-stream", "X-Bugcheck-Filename": name, "X-Bugcheck-Machine": machine})
	var u uploadResponse
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(b, &u); err != nil {
			e.t.Fatalf("upload response %s: %v", b, err)
		}
	}
	return resp.StatusCode, u
}

// getJSON fetches path (anonymously) into v and returns the status.
func (e *env) getJSON(path string, v any) int {
	e.t.Helper()
	resp, b := e.do("GET", path, "", nil, nil)
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("%s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// waitIdle waits until the queue is empty.
func (e *env) waitIdle() {
	e.t.Helper()
	e.waitIdleFor(60 * time.Second)
}

func (e *env) waitIdleFor(limit time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		q, err := e.data.Store.Queue(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if q.Queued == 0 && q.Running == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("analysis queue did not drain in %v", limit)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

type zipMember struct {
	name   string
	data   []byte
	method uint16
}

func zipOf(t testing.TB, members ...zipMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cliJSON is the report `bugcheck analyze --json` writes for a dump.
func cliJSON(t *testing.T, b []byte, name string) []byte {
	t.Helper()
	f, err := kdump.NewFile(bytes.NewReader(b), int64(len(b)), name)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := report.JSON(&out, analyze.Analyze(f, analyze.Options{})); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestUploadKinds uploads each kind of file through the API and checks
// what analysis stores: the crashes, their buckets and machines, and the
// report, byte for byte the CLI's.
func TestUploadKinds(t *testing.T) {
	e := newEnv(t, nil)
	k0, k1, k2 := fleettest.Kinds[0], fleettest.Kinds[1], fleettest.Kinds[2]
	d0, d1, d2, d3 := fleettest.Crash(k0, 0), fleettest.Crash(k1, 1), fleettest.Crash(k2, 2), fleettest.Crash(k0, 4)
	cabFile := fleettest.Cabinet([]fleettest.Member{
		{Name: "WERInternalMetadata.xml", Data: []byte("<WERReportMetadata/>")},
		{Name: `Minidump\112625-01.dmp`, Data: d3},
	}, true)
	zipFile := zipOf(t,
		zipMember{"pc01/Minidump/a.dmp", d1, zip.Deflate},
		zipMember{"pc02/Minidump/b.dmp", d2, zip.Store},
		zipMember{"pc02/Minidump/copy.dmp", d2, zip.Deflate}, // same bytes: one crash
		zipMember{"readme.txt", []byte("not a dump"), zip.Deflate},
	)
	tests := []struct {
		name, file, machine, kind string
		data                      []byte
		crashes                   map[string]string // sha -> bucket
		machines                  map[string]string // sha -> machine
	}{
		{"dump", "C:\\Windows\\Minidump\\112625-01.dmp", "pc00", "dmp", d0,
			map[string]string{sha(d0): k0.Bucket}, map[string]string{sha(d0): "pc00"}},
		{"gzip", "x.dmp.gz", "pc03", "dmp.gz", gz(d1),
			map[string]string{sha(d1): k1.Bucket}, map[string]string{sha(d1): "pc03"}},
		{"zip", "fleet.zip", "collector", "zip", zipFile,
			map[string]string{sha(d1): k1.Bucket, sha(d2): k2.Bucket}, map[string]string{sha(d1): "pc03", sha(d2): "pc02"}},
		{"cab", "WER.cab", "pc04", "cab", cabFile,
			map[string]string{sha(d3): k0.Bucket}, map[string]string{sha(d3): "pc04"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, u := e.uploadRaw(e.upload, tc.data, tc.file, tc.machine)
			if status != http.StatusCreated || !u.Created || u.Kind != tc.kind || u.SHA256 != sha(tc.data) || u.Size != int64(len(tc.data)) {
				t.Fatalf("upload: status %d, %+v", status, u)
			}
			e.waitIdle()
			var got store.Upload
			e.getJSON(u.URL, &got)
			if got.Status != store.UploadDone || got.Dumps != len(tc.crashes) {
				t.Errorf("upload after analysis: %+v, want done with %d dumps", got, len(tc.crashes))
			}
			for s, bucket := range tc.crashes {
				var rep analyze.Report
				if st := e.getJSON("/api/v1/crashes/"+s, &rep); st != http.StatusOK || rep.Bucket != bucket {
					t.Errorf("crash %s: status %d, bucket %q, want %q", s[:12], st, rep.Bucket, bucket)
				}
				var list struct {
					Total   int
					Crashes []store.Crash
				}
				e.getJSON("/api/v1/crashes?q="+s, &list)
				if list.Total != 1 || list.Crashes[0].Machine != tc.machines[s] || list.Crashes[0].Bucket != bucket {
					t.Errorf("crash %s listed as %+v, want machine %s", s[:12], list, tc.machines[s])
				}
			}
			// The same bytes again: the same upload, nothing queued.
			status, again := e.uploadRaw(e.upload, tc.data, "other-name.dmp", "elsewhere")
			q, _ := e.data.Store.Queue(context.Background())
			if status != http.StatusOK || again.Created || again.ID != u.ID || q.Queued != 0 {
				t.Errorf("second upload: status %d, %+v, queue %+v", status, again, q)
			}
		})
	}

	// The stored report is the CLI's JSON for the same dump.
	_, body := e.do("GET", "/api/v1/crashes/"+sha(d0), "", nil, nil)
	if want := cliJSON(t, d0, "112625-01.dmp"); !bytes.Equal(body, want) {
		t.Errorf("stored report differs from analyze --json:\n%s\nwant\n%s", body, want)
	}
	var total struct{ Total int }
	e.getJSON("/api/v1/crashes", &total)
	if total.Total != 4 {
		t.Errorf("%d crashes stored, want 4 (d0..d3)", total.Total)
	}
	var drivers struct{ Drivers []store.Count }
	e.getJSON("/api/v1/drivers", &drivers)
	if len(drivers.Drivers) != 2 || drivers.Drivers[0] != (store.Count{Name: k0.Driver, Count: 3}) || drivers.Drivers[1] != (store.Count{Name: k1.Driver, Count: 1}) {
		t.Errorf("drivers %+v", drivers.Drivers)
	}
	var buckets struct{ Buckets []store.Bucket }
	e.getJSON("/api/v1/buckets", &buckets)
	if len(buckets.Buckets) != 3 || buckets.Buckets[0].ID != k0.Bucket || buckets.Buckets[0].Count != 2 || buckets.Buckets[0].Machines != 2 {
		t.Errorf("buckets %+v", buckets.Buckets)
	}
}

// TestMultipart uploads two files in one multipart request, with the
// machine given as a form field.
func TestMultipart(t *testing.T) {
	e := newEnv(t, nil)
	d0, d1 := fleettest.Crash(fleettest.Kinds[0], 10), fleettest.Crash(fleettest.Kinds[3], 11)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("machine", "pc77")
	for i, d := range [][]byte{d0, d1} {
		w, _ := mw.CreateFormFile("file", fmt.Sprintf("../../etc/%d.dmp", i))
		w.Write(d)
	}
	mw.Close()
	resp, b := e.do("POST", "/api/v1/dumps", e.upload, &body, map[string]string{"Content-Type": mw.FormDataContentType()})
	var out struct{ Uploads []uploadResponse }
	json.Unmarshal(b, &out)
	if resp.StatusCode != http.StatusCreated || len(out.Uploads) != 2 || out.Uploads[0].Name != "0.dmp" || out.Uploads[1].Machine != "pc77" {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	e.waitIdle()
	var ms struct{ Machines []store.Count }
	e.getJSON("/api/v1/machines", &ms)
	if len(ms.Machines) != 1 || ms.Machines[0] != (store.Count{Name: "pc77", Count: 2}) {
		t.Errorf("machines %+v", ms.Machines)
	}
}

// TestRejected checks that uploads are refused before storage when their
// content is wrong or too big, and that nothing is stored for them.
func TestRejected(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxUpload, c.MaxInflate = 1<<20, 256<<10 })
	d := fleettest.Crash(fleettest.Kinds[0], 0)
	big := bytes.Repeat([]byte{0}, 512<<10)
	copy(big, "PAGEDU64")
	tests := []struct {
		name   string
		data   []byte
		status int
		msg    string
	}{
		{"empty", nil, 400, "empty upload"},
		{"junk", []byte("hello, this is not a dump"), 422, "not a crash dump"},
		{"cut dump", d[:0x1800], 422, "not a readable crash dump"},
		{"too large", append(bytes.Repeat([]byte("x"), 1<<20), 'y'), 413, "larger than"},
		{"gzip of junk", gz([]byte("MZ not a dump")), 422, "does not hold a crash dump"},
		{"zip without dumps", zipOf(t, zipMember{"a.txt", []byte("x"), zip.Deflate}), 422, "holds no .dmp"},
		{"zip bomb", zipOf(t, zipMember{"bomb.dmp", big, zip.Deflate}), 422, "inflates to 524288 bytes, more than 262144"},
		{"damaged zip", append([]byte("PK\x03\x04"), make([]byte, 100)...), 422, "damaged zip"},
		{"damaged cab", append([]byte("MSCF"), make([]byte, 100)...), 422, "damaged cabinet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do("POST", "/api/v1/dumps", e.upload, bytes.NewReader(tc.data), nil)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
				t.Errorf("status %d %s, want %d %q", resp.StatusCode, b, tc.status, tc.msg)
			}
		})
	}
	ups, _ := e.data.Store.Uploads(context.Background(), 100, 0)
	if len(ups) != 0 {
		t.Errorf("%d uploads stored from rejected requests", len(ups))
	}
}

// TestAuth checks roles: who may read, upload and administer.
func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	closed := newEnv(t, func(c *Config) { c.AnonymousRead = false })
	d := fleettest.Crash(fleettest.Kinds[0], 3)
	tests := []struct {
		name         string
		e            *env
		method, path string
		token        string
		body         []byte
		status       int
	}{
		{"anonymous upload", e, "POST", "/api/v1/dumps", "", d, 401},
		{"read token upload", e, "POST", "/api/v1/dumps", e.read, d, 403},
		{"bad token upload", e, "POST", "/api/v1/dumps", "bct_0000", d, 401},
		{"upload token upload", e, "POST", "/api/v1/dumps", e.upload, d, 201},
		{"admin token upload again", e, "POST", "/api/v1/dumps", e.admin, d, 200},
		{"anonymous read", e, "GET", "/api/v1/crashes", "", nil, 200},
		{"upload token reanalyze", e, "POST", "/api/v1/reanalyze", e.upload, nil, 403},
		{"admin reanalyze", e, "POST", "/api/v1/reanalyze", e.admin, nil, 202},
		{"read token lists tokens", e, "GET", "/api/v1/tokens", e.read, nil, 403},
		{"admin lists tokens", e, "GET", "/api/v1/tokens", e.admin, nil, 200},
		{"closed: anonymous read", closed, "GET", "/api/v1/crashes", "", nil, 401},
		{"closed: read token", closed, "GET", "/api/v1/crashes", closed.read, nil, 200},
		{"closed: health", closed, "GET", "/api/v1/health", "", nil, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			}
			resp, b := tc.e.do(tc.method, tc.path, tc.token, body, nil)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, b, tc.status)
			}
		})
	}

	// A token made through the API works, and stops working once deleted;
	// the store keeps only its hash.
	resp, b := e.do("POST", "/api/v1/tokens", e.admin, strings.NewReader(`{"name":"pc fleet","role":"upload"}`), nil)
	var nt struct {
		Token string
		ID    int64
	}
	json.Unmarshal(b, &nt)
	if resp.StatusCode != 201 || !strings.HasPrefix(nt.Token, TokenPrefix) {
		t.Fatalf("new token: %d %s", resp.StatusCode, b)
	}
	toks, _ := e.data.Store.Tokens(context.Background())
	for _, tk := range toks {
		if tk.Hash == nt.Token || (tk.ID == nt.ID && tk.Hash != HashToken(nt.Token)) {
			t.Errorf("token %d stored as %q", tk.ID, tk.Hash)
		}
	}
	if resp, _ := e.do("POST", "/api/v1/dumps", nt.Token, bytes.NewReader(fleettest.Crash(fleettest.Kinds[0], 5)), nil); resp.StatusCode != 201 {
		t.Errorf("upload with the new token: %d", resp.StatusCode)
	}
	if resp, _ := e.do("DELETE", fmt.Sprintf("/api/v1/tokens/%d", nt.ID), e.admin, nil, nil); resp.StatusCode != 204 {
		t.Errorf("delete token: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/api/v1/dumps", nt.Token, bytes.NewReader(fleettest.Crash(fleettest.Kinds[0], 6)), nil); resp.StatusCode != 401 {
		t.Errorf("upload with the deleted token: %d", resp.StatusCode)
	}
}

// TestPagesAndCSRF checks the security headers, the upload form's CSRF
// and cross-origin protection, and what the pages show.
func TestPagesAndCSRF(t *testing.T) {
	e := newEnv(t, nil)
	jar, _ := cookiejar.New(nil)
	c := e.ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(e.ts.URL + "/upload")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if resp.Header.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, resp.Header.Get(k), v)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	i := strings.Index(string(page), `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("no CSRF field in the upload form:\n%s", page)
	}
	csrf := string(page[i+len(`name="csrf" value="`):][:64])
	dump := fleettest.Crash(fleettest.Kinds[1], 7)

	form := func(csrf, token string) (io.Reader, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("csrf", csrf)
		mw.WriteField("token", token)
		mw.WriteField("machine", "desk-12")
		w, _ := mw.CreateFormFile("file", "desk.dmp")
		w.Write(dump)
		mw.Close()
		return &b, mw.FormDataContentType()
	}
	post := func(csrf, token string, hdr map[string]string) *http.Response {
		body, ct := form(csrf, token)
		req, _ := http.NewRequest("POST", e.ts.URL+"/upload", body)
		req.Header.Set("Content-Type", ct)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name, csrf, token string
		hdr               map[string]string
		status            int
	}{
		{"wrong csrf", strings.Repeat("0", 64), e.upload, nil, 403},
		{"no token", csrf, "", nil, 401},
		{"read token", csrf, e.read, nil, 401},
		{"cross-site", csrf, e.upload, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"other origin", csrf, e.upload, map[string]string{"Origin": "http://evil.example"}, 403},
		{"good", csrf, e.upload, map[string]string{"Sec-Fetch-Site": "same-origin"}, 303},
	}
	for _, tc := range tests {
		if resp := post(tc.csrf, tc.token, tc.hdr); resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		} else if tc.status == 303 && !strings.HasPrefix(resp.Header.Get("Location"), "/uploads/") {
			t.Errorf("%s: redirected to %q", tc.name, resp.Header.Get("Location"))
		}
	}
	e.waitIdle()

	k := fleettest.Kinds[1]
	for _, p := range []struct{ path, want string }{
		{"/", strings.ReplaceAll(k.Bucket, "+", "&#43;")}, // html/template escapes +
		{"/", `<strong id="total">1</strong>`},
		{"/buckets/" + url.PathEscape(k.Bucket), "desk-12"},
		{"/buckets/" + url.PathEscape(k.Bucket), `<strong id="bucket-count">1</strong>`},
		{"/crashes/" + sha(dump), "PAGE_FAULT_IN_NONPAGED_AREA"},
		{"/crashes/" + sha(dump), k.Driver},
		{"/crashes?driver=" + k.Driver, "1–1 of 1"},
		{"/crashes?q=nosuchdriver", "0 of 0"},
		{"/uploads/1", `<dd id="status">done</dd>`},
	} {
		resp, b := e.do("GET", p.path, "", nil, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(b), p.want) {
			t.Errorf("%s: status %d, want it to contain %q", p.path, resp.StatusCode, p.want)
		}
	}
	for _, p := range []string{"/crashes/" + strings.Repeat("0", 64), "/buckets/nope", "/nowhere", "/uploads/99"} {
		if resp, _ := e.do("GET", p, "", nil, nil); resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestReanalyze queues every upload again and checks that the crashes are
// re-analysed in place, not duplicated.
func TestReanalyze(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 6 {
		if st, _ := e.uploadRaw(e.upload, fleettest.Crash(fleettest.KindOf(i), i), "x.dmp", "pc"); st != 201 {
			t.Fatalf("upload %d: %d", i, st)
		}
	}
	e.waitIdle()
	before, _, _ := e.data.Store.Crashes(context.Background(), store.Filter{})
	resp, b := e.do("POST", "/api/v1/reanalyze", e.admin, nil, nil)
	if resp.StatusCode != 202 || !strings.Contains(string(b), `"queued": 6`) {
		t.Fatalf("reanalyze: %d %s", resp.StatusCode, b)
	}
	e.waitIdle()
	after, total, _ := e.data.Store.Crashes(context.Background(), store.Filter{})
	if total != 6 || len(before) != 6 {
		t.Fatalf("%d crashes before, %d after", len(before), total)
	}
	for i := range after {
		if after[i].SHA256 != before[i].SHA256 || after[i].Bucket != before[i].Bucket || after[i].Analysed.Before(before[i].Analysed) {
			t.Errorf("crash %d: %+v then %+v", i, before[i], after[i])
		}
	}
}

// TestBrokenDumpFails checks that a dump that passes the header check but
// cannot be analysed ends as a failed upload, with the reason.
func TestBrokenDumpFails(t *testing.T) {
	e := newEnv(t, nil)
	d := fleettest.Crash(fleettest.Kinds[0], 0)
	z := zipOf(t, zipMember{"a.dmp", d[:0x1800], zip.Deflate}, zipMember{"b.dmp", []byte("junk"), zip.Deflate})
	st, u := e.uploadRaw(e.upload, z, "bad.zip", "pc")
	if st != 201 {
		t.Fatalf("upload: %d", st)
	}
	e.waitIdle()
	got, err := e.data.Store.Upload(context.Background(), u.ID)
	if err != nil || got.Status != store.UploadFailed || !strings.Contains(got.Error, "2 of 2 dumps could not be analysed") {
		t.Errorf("upload %+v, %v", got, err)
	}
}

package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/server/blob"
	"github.com/bugcheck/bugcheck/server/store"
)

// TestDumpDownload uploads a real dump and generated ones in every kind
// of upload, and downloads each crash's dump: the bytes, headers, ranges,
// revalidation and HEAD, for every kind.
func TestDumpDownload(t *testing.T) {
	real, err := os.ReadFile(corpus.Path(t, "dumps", "triage_x64.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	k := fleettest.Kinds
	d1, d2, d3, d4, d5 := fleettest.Crash(k[1], 1), fleettest.Crash(k[2], 2), fleettest.Crash(k[0], 3), fleettest.Crash(k[1], 5), fleettest.Crash(k[2], 6)
	uploads := []struct {
		name string
		data []byte
	}{
		{`C:\Windows\Minidump\022121-01.dmp`, real},
		{"x.dmp.gz", gz(d1)},
		{"fleet.zip", zipOf(t,
			zipMember{"pc01/Minidump/a.dmp", d2, zip.Deflate},
			zipMember{"pc02/Minidump/b.dmp", d3, zip.Store},
			zipMember{"pc03/c.dmp.gz", gz(d4), zip.Deflate},
			zipMember{"readme.txt", []byte("not a dump"), zip.Deflate},
		)},
		{"WER.cab", fleettest.Cabinet([]fleettest.Member{
			{Name: "WERInternalMetadata.xml", Data: []byte("<WERReportMetadata/>")},
			{Name: `Minidump\112625-01.dmp`, Data: d5},
		}, true)},
	}
	for _, u := range uploads {
		if status, _ := e.uploadRaw(e.upload, u.data, u.name, "pc"); status != http.StatusCreated {
			t.Fatalf("upload %s: %d", u.name, status)
		}
	}
	// A dump sent without a name is saved under its hash.
	noName := fleettest.Crash(k[0], 7)
	if status, _ := e.uploadRaw(e.upload, noName, "", "pc"); status != http.StatusCreated {
		t.Fatalf("upload without a name: %d", status)
	}
	e.waitIdle()

	tests := []struct {
		name, file string
		data       []byte
	}{
		{"dump", "022121-01.dmp", real},
		{"gzip", "x.dmp", d1},
		{"zip-deflated", "a.dmp", d2},
		{"zip-stored", "b.dmp", d3},
		{"zip-gzip-member", "c.dmp", d4},
		{"cab", "112625-01.dmp", d5},
		{"no-name", sha(noName) + ".dmp", noName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkDownload(t, e, "/api/v1/crashes/"+sha(tc.data)+"/dump", tc.data, tc.file)
		})
	}

	// The dumps unpacked from archives were temporary.
	left, _ := filepath.Glob(filepath.Join(e.data.TempDir, "dump-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	s := sha(real)
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"unknown", "/api/v1/crashes/" + strings.Repeat("ab", 32) + "/dump", http.StatusNotFound},
		{"short", "/api/v1/crashes/" + s[:63] + "/dump", http.StatusBadRequest},
		{"not hex", "/api/v1/crashes/" + strings.Repeat("xy", 32) + "/dump", http.StatusBadRequest},
		{"upper case", "/api/v1/crashes/" + strings.ToUpper(s) + "/dump", http.StatusOK},
		{"an upload, not a crash", "/api/v1/crashes/" + sha(uploads[2].data) + "/dump", http.StatusNotFound},
	} {
		resp, body := e.do("GET", tc.path, e.upload, nil, nil)
		var msg struct{ Error string }
		if resp.StatusCode != tc.status || tc.status != http.StatusOK && json.Unmarshal(body, &msg) != nil {
			t.Errorf("%s: %d %s, want %d (JSON error)", tc.name, resp.StatusCode, body, tc.status)
		}
	}
}

// TestDumpRole checks who may download dumps: upload and admin tokens by
// default, read tokens and anonymous readers only when the role is read.
func TestDumpRole(t *testing.T) {
	for _, tc := range []struct {
		role                    store.Role
		anon, read, upload, adm int
	}{
		{"", 401, 403, 200, 200},
		{store.RoleRead, 200, 200, 200, 200},
		{store.RoleAdmin, 401, 403, 403, 200},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.DumpRole = tc.role })
			d := fleettest.Crash(fleettest.Kinds[0], 0)
			e.uploadRaw(e.upload, d, "a.dmp", "pc")
			e.waitIdle()
			url := "/api/v1/crashes/" + sha(d) + "/dump"
			for _, who := range []struct {
				name, token string
				want        int
			}{{"anonymous", "", tc.anon}, {"read", e.read, tc.read}, {"upload", e.upload, tc.upload}, {"admin", e.admin, tc.adm}} {
				resp, body := e.do("GET", url, who.token, nil, nil)
				if resp.StatusCode != who.want || who.want == 200 && !bytes.Equal(body, d) || who.want != 200 && bytes.Contains(body, d[:8]) {
					t.Errorf("%s token: %d, %d bytes; want %d", who.name, resp.StatusCode, len(body), who.want)
				}
			}
		})
	}
	e := newEnv(t, nil)
	if _, err := New(Config{Store: e.data.Store, Blobs: e.data.BlobStore, TempDir: e.data.TempDir, DumpRole: "root"}); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("New with dump role root: %v", err)
	}
}

// TestDumpPage checks the crash page's download link and the page route:
// shown to and served for sessions whose role allows it, refused to
// others, and a sign-in for a browser without a session.
func TestDumpPage(t *testing.T) {
	e := newEnv(t, nil)
	d := fleettest.Crash(fleettest.Kinds[1], 0)
	e.uploadRaw(e.upload, d, "desk.dmp", "pc")
	e.waitIdle()
	page, dump := "/crashes/"+sha(d), "/crashes/"+sha(d)+"/dump"
	link := `id="dump" href="` + dump + `"`

	anon := newBrowser(t, e)
	resp, body := anon.get(page)
	if resp.StatusCode != 200 || bytes.Contains(body, []byte(link)) {
		t.Errorf("anonymous crash page: %d, link shown: %v", resp.StatusCode, bytes.Contains(body, []byte(link)))
	}
	resp, _ = anon.get(dump)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Errorf("anonymous download: %d to %q, want a sign-in", resp.StatusCode, loc)
	}

	reader := newBrowser(t, e)
	reader.signIn(e.read)
	resp, body = reader.get(page)
	if resp.StatusCode != 200 || bytes.Contains(body, []byte(link)) {
		t.Errorf("read session's crash page: %d, link shown: %v", resp.StatusCode, bytes.Contains(body, []byte(link)))
	}
	resp, body = reader.get(dump)
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || bytes.Contains(body, d[:8]) {
		t.Errorf("read session's download: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	up := newBrowser(t, e)
	up.signIn(e.upload)
	resp, body = up.get(page)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(link)) {
		t.Errorf("upload session's crash page: %d, no link %s", resp.StatusCode, link)
	}
	resp, body = up.get(dump)
	if resp.StatusCode != 200 || !bytes.Equal(body, d) || resp.Header.Get("Content-Disposition") != `attachment; filename="desk.dmp"` {
		t.Errorf("upload session's download: %d, %d bytes, %q", resp.StatusCode, len(body), resp.Header.Get("Content-Disposition"))
	}
	resp, _ = up.get("/crashes/" + strings.Repeat("0", 64) + "/dump")
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("unknown crash's download page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestDumpFileName(t *testing.T) {
	const s = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ member, want, header string }{
		{"112625-01.dmp", "112625-01.dmp", `attachment; filename="112625-01.dmp"`},
		{"pc01/Minidump/a.DMP", "a.DMP", `attachment; filename="a.DMP"`},
		{`Minidump\b.dmp`, "b.dmp", `attachment; filename="b.dmp"`},
		{"pc03/c.dmp.gz", "c.dmp", `attachment; filename="c.dmp"`},
		{"memory", "memory.dmp", `attachment; filename="memory.dmp"`},
		{`we"ird;name%.dmp`, "we_ird_name_.dmp", `attachment; filename="we_ird_name_.dmp"`},
		{"..hidden.dmp", "hidden.dmp", `attachment; filename="hidden.dmp"`},
		{"crash\r\nX-Evil: 1.dmp", "crashX-Evil_ 1.dmp", `attachment; filename="crashX-Evil_ 1.dmp"`},
		{"Сбой.dmp", "Сбой.dmp", `attachment; filename="____.dmp"; filename*=UTF-8''%D0%A1%D0%B1%D0%BE%D0%B9.dmp`},
		{"upload.dmp", s + ".dmp", `attachment; filename="` + s + `.dmp"`},
		{"", s + ".dmp", `attachment; filename="` + s + `.dmp"`},
		{"...", s + ".dmp", `attachment; filename="` + s + `.dmp"`},
		{strings.Repeat("a", 300) + ".dmp", strings.Repeat("a", 100) + ".dmp", `attachment; filename="` + strings.Repeat("a", 100) + `.dmp"`},
	} {
		got := dumpFileName(&store.Crash{SHA256: s, Member: tc.member})
		if got != tc.want || contentDisposition(got) != tc.header {
			t.Errorf("%q: %q, %s; want %q, %s", tc.member, got, contentDisposition(got), tc.want, tc.header)
		}
	}
}

// rangeBlobs is a blob store that reads ranges, as object storage does,
// and records what it is asked for.
type rangeBlobs struct {
	blob.Store
	mu     sync.Mutex
	opens  int
	ranges []string
}

func (b *rangeBlobs) Open(ctx context.Context, key string) (blob.Reader, error) {
	b.mu.Lock()
	b.opens++
	b.mu.Unlock()
	return b.Store.Open(ctx, key)
}

func (b *rangeBlobs) SizeOf(ctx context.Context, key string) (int64, error) {
	rd, err := b.Store.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	return rd.Size(), nil
}

func (b *rangeBlobs) OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	b.mu.Lock()
	b.ranges = append(b.ranges, fmt.Sprintf("%d+%d", off, n))
	b.mu.Unlock()
	rd, err := b.Store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(rd, off, n), rd}, nil
}

// took returns and forgets what was asked for.
func (b *rangeBlobs) took() (int, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, r := b.opens, b.ranges
	b.opens, b.ranges = 0, nil
	return o, r
}

// TestDumpRanges checks that a store with range reads serves a download
// without copying the blob, fetching only from the offset a range asks
// for, and nothing for HEAD and revalidations.
func TestDumpRanges(t *testing.T) {
	var rb *rangeBlobs
	e := newEnv(t, func(c *Config) {
		rb = &rangeBlobs{Store: c.Blobs}
		c.Blobs = rb
	})
	d := fleettest.Crash(fleettest.Kinds[0], 0)
	e.uploadRaw(e.upload, d, "a.dmp", "pc")
	e.waitIdle()
	rb.took()
	url := "/api/v1/crashes/" + sha(d) + "/dump"
	n := len(d)
	checkInPlace(t, e, rb, url, d, 1000)
	tail := map[string]string{"Range": "bytes=-10"}
	resp, body := e.do("GET", url, e.upload, nil, tail)
	if opens, ranges := rb.took(); resp.StatusCode != 206 || !bytes.Equal(body, d[n-10:]) || opens != 0 || !slices.Equal(ranges, []string{fmt.Sprintf("%d+10", n-10)}) {
		t.Errorf("suffix range: %d, %d bytes, %d whole opens, ranges %v", resp.StatusCode, len(body), opens, ranges)
	}
	// Two ranges in one request: two reads, one from each start.
	resp, body = e.do("GET", url, e.upload, nil, map[string]string{"Range": "bytes=0-7,100-107"})
	_, ranges := rb.took()
	if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") ||
		!bytes.Contains(body, d[:8]) || !bytes.Contains(body, d[100:108]) || !slices.Equal(ranges, []string{fmt.Sprintf("0+%d", n), fmt.Sprintf("100+%d", n-100)}) {
		t.Errorf("two ranges: %d %s, ranges %v", resp.StatusCode, resp.Header.Get("Content-Type"), ranges)
	}
}

// checkInPlace downloads url, whose content is data, from a store with
// range reads (rb): whole, HEAD, revalidated and from offset from; each
// must be served without opening the whole blob, reading only from the
// offset asked for, and nothing for HEAD and revalidations.
func checkInPlace(t *testing.T, e *env, rb *rangeBlobs, url string, data []byte, from int) {
	t.Helper()
	n := len(data)
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		method string
		status int
		body   []byte
		ranges []string
	}{
		{"whole", nil, "GET", 200, data, []string{fmt.Sprintf("0+%d", n)}},
		{"HEAD", nil, "HEAD", 200, nil, nil},
		{"revalidation", map[string]string{"If-None-Match": `"` + sha(data) + `"`}, "GET", 304, nil, nil},
		{"range", map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", from, from+99)}, "GET", 206, data[from : from+100], []string{fmt.Sprintf("%d+%d", from, n-from)}},
	} {
		resp, body := e.do(tc.method, url, e.upload, nil, tc.hdr)
		opens, ranges := rb.took()
		if resp.StatusCode != tc.status || !bytes.Equal(body, tc.body) || opens != 0 || !slices.Equal(ranges, tc.ranges) {
			t.Errorf("%s %s: %d, %d bytes, %d whole opens, ranges %v; want %d, %d bytes, none, %v",
				url, tc.name, resp.StatusCode, len(body), opens, ranges, tc.status, len(tc.body), tc.ranges)
		}
	}
}

// checkDownload checks a download of data from url: the body and the
// headers (file the name it saves as), revalidation (304), ranges, a
// range past the end (416), If-Range and HEAD. data must be over 300 bytes.
func checkDownload(t *testing.T, e *env, url string, data []byte, file string) {
	t.Helper()
	s, size := sha(data), len(data)
	resp, body := e.do("GET", url, e.upload, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) || sha(body) != s {
		t.Fatalf("GET: %d, %d bytes (sha256 %s), want the %d bytes of %s", resp.StatusCode, len(body), sha(body)[:12], size, s[:12])
	}
	for h, want := range map[string]string{
		"Content-Type":        "application/octet-stream",
		"Content-Length":      strconv.Itoa(size),
		"Content-Disposition": `attachment; filename="` + file + `"`,
		"ETag":                `"` + s + `"`,
		"Accept-Ranges":       "bytes",
		"Cache-Control":       "private, no-cache",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}

	for _, inm := range []string{`"` + s + `"`, `W/"` + s + `"`, `"other", "` + s + `"`, "*"} {
		resp, body = e.do("GET", url, e.upload, nil, map[string]string{"If-None-Match": inm})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != `"`+s+`"` {
			t.Errorf("If-None-Match %s: %d with %d bytes, ETag %q; want 304", inm, resp.StatusCode, len(body), resp.Header.Get("ETag"))
		}
	}
	resp, body = e.do("GET", url, e.upload, nil, map[string]string{"If-None-Match": `"` + strings.Repeat("0", 64) + `"`})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("If-None-Match of other bytes: %d, %d bytes", resp.StatusCode, len(body))
	}

	ranges := []struct {
		hdr, contentRange string
		want              []byte
	}{
		{"bytes=0-7", fmt.Sprintf("bytes 0-7/%d", size), data[:8]},
		{"bytes=100-299", fmt.Sprintf("bytes 100-299/%d", size), data[100:300]},
		{"bytes=-16", fmt.Sprintf("bytes %d-%d/%d", size-16, size-1, size), data[size-16:]},
		{fmt.Sprintf("bytes=%d-", size-5), fmt.Sprintf("bytes %d-%d/%d", size-5, size-1, size), data[size-5:]},
	}
	for _, r := range ranges {
		resp, body = e.do("GET", url, e.upload, nil, map[string]string{"Range": r.hdr})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, r.want) || resp.Header.Get("Content-Range") != r.contentRange {
			t.Errorf("Range %s: %d, Content-Range %q, %d bytes; want 206, %q, %d bytes",
				r.hdr, resp.StatusCode, resp.Header.Get("Content-Range"), len(body), r.contentRange, len(r.want))
		}
	}
	resp, _ = e.do("GET", url, e.upload, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
		t.Errorf("range past the end: %d, Content-Range %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	// A range valid only for another version is ignored: the whole file.
	resp, body = e.do("GET", url, e.upload, nil, map[string]string{"Range": "bytes=0-7", "If-Range": `"stale"`})
	if resp.StatusCode != http.StatusOK || len(body) != size {
		t.Errorf("If-Range of another version: %d, %d bytes", resp.StatusCode, len(body))
	}

	resp, body = e.do("HEAD", url, e.upload, nil, nil)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(size) || resp.Header.Get("ETag") != `"`+s+`"` {
		t.Errorf("HEAD: %d, %d body bytes, length %d, ETag %q", resp.StatusCode, len(body), resp.ContentLength, resp.Header.Get("ETag"))
	}
}

package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/server/store"
)

// fileURL is the API download of upload id.
func fileURL(id int64) string { return "/api/v1/uploads/" + strconv.FormatInt(id, 10) + "/file" }

// TestUploadDownload downloads uploads as received: ones whose analysis
// failed (a truncated .dmp.gz, a zip of damaged dumps), which have no
// crash to download, a zip that was analysed, which comes back as the zip
// and not its member, and a dump sent without a name; with the headers,
// revalidation, ranges and HEAD.
func TestUploadDownload(t *testing.T) {
	e := newEnv(t, nil)
	k := fleettest.Kinds
	d1, d2, d3 := fleettest.Crash(k[0], 11), fleettest.Crash(k[1], 12), fleettest.Crash(k[2], 13)
	cut := gz(d1)
	cut = cut[:len(cut)/2] // the header passes the upload's check; inflating fails
	broken := zipOf(t, zipMember{"a.dmp", d2[:0x1800], zip.Deflate}, zipMember{"b.dmp", []byte("junk"), zip.Deflate})
	good := zipOf(t, zipMember{"pc01/Minidump/c.dmp", d3, zip.Deflate}, zipMember{"readme.txt", []byte("not a dump"), zip.Store})
	noName := fleettest.Crash(k[0], 14)
	tests := []struct {
		name, upload, file, kind, status string
		data                             []byte
	}{
		{"truncated-gzip", `C:\Windows\Minidump\112625-01.dmp.gz`, "112625-01.dmp.gz", "dmp.gz", store.UploadFailed, cut},
		{"broken-zip", "bad.zip", "bad.zip", "zip", store.UploadFailed, broken},
		{"zip", "fleet.zip", "fleet.zip", "zip", store.UploadDone, good},
		{"no-name", "", sha(noName) + ".dmp", "dmp", store.UploadDone, noName},
	}
	ids := make([]int64, len(tests))
	for i, tc := range tests {
		status, u := e.uploadRaw(e.upload, tc.data, tc.upload, "pc")
		if status != http.StatusCreated {
			t.Fatalf("upload %s: %d", tc.name, status)
		}
		ids[i] = u.ID
	}
	e.waitIdle()

	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := e.data.Store.Upload(context.Background(), ids[i])
			if err != nil || u.Status != tc.status || u.Kind != tc.kind {
				t.Fatalf("upload %+v, %v; want %s, kind %s", u, err, tc.status, tc.kind)
			}
			if u.SHA256 != sha(tc.data) {
				t.Fatalf("upload sha256 %s, want %s", u.SHA256, sha(tc.data))
			}
			checkDownload(t, e, fileURL(ids[i]), tc.data, tc.file)
		})
	}

	// The analysed zip's crash downloads as its member; the upload as the zip.
	resp, body := e.do("GET", "/api/v1/crashes/"+sha(d3)+"/dump", e.upload, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, d3) {
		t.Errorf("the zip's crash: %d, %d bytes; want its member's %d", resp.StatusCode, len(body), len(d3))
	}
	// The failed uploads have no crash to download.
	for _, d := range [][]byte{d1, d2} {
		if resp, _ := e.do("GET", "/api/v1/crashes/"+sha(d)+"/dump", e.upload, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a failed upload's dump as a crash: %d, want 404", resp.StatusCode)
		}
	}

	for _, tc := range []struct {
		name, id string
		status   int
	}{
		{"unknown", "999999", http.StatusNotFound},
		{"not a number", "abc", http.StatusBadRequest},
		{"zero", "0", http.StatusBadRequest},
		{"negative", "-3", http.StatusBadRequest},
		{"overflow", "99999999999999999999", http.StatusBadRequest},
		{"a SHA-256", sha(cut), http.StatusBadRequest},
		{"leading zeros", "000" + strconv.FormatInt(ids[2], 10), http.StatusOK},
	} {
		resp, body := e.do("GET", "/api/v1/uploads/"+tc.id+"/file", e.upload, nil, nil)
		var msg struct{ Error string }
		switch {
		case resp.StatusCode != tc.status:
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		case tc.status != http.StatusOK && (json.Unmarshal(body, &msg) != nil || msg.Error == ""):
			t.Errorf("%s: %s, want a JSON error", tc.name, body)
		case tc.status == http.StatusOK && !bytes.Equal(body, good):
			t.Errorf("%s: %d bytes, want the zip's %d", tc.name, len(body), len(good))
		}
	}
}

// TestUploadFileRole checks who may download uploads: the dump role, upload
// and admin tokens by default, read tokens and anonymous readers only when
// the role is read; a failed upload is no exception.
func TestUploadFileRole(t *testing.T) {
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
			g := gz(fleettest.Crash(fleettest.Kinds[0], 0))
			g = g[:len(g)/2]
			_, u := e.uploadRaw(e.upload, g, "a.dmp.gz", "pc")
			e.waitIdle()
			for _, who := range []struct {
				name, token string
				want        int
			}{{"anonymous", "", tc.anon}, {"read", e.read, tc.read}, {"upload", e.upload, tc.upload}, {"admin", e.admin, tc.adm}} {
				resp, body := e.do("GET", fileURL(u.ID), who.token, nil, nil)
				if resp.StatusCode != who.want || who.want == 200 && !bytes.Equal(body, g) || who.want != 200 && bytes.Contains(body, g[:8]) {
					t.Errorf("%s token: %d, %d bytes; want %d", who.name, resp.StatusCode, len(body), who.want)
				}
				// The upload's record stays readable to all.
				if resp, _ := e.do("GET", "/api/v1/uploads/"+strconv.FormatInt(u.ID, 10), who.token, nil, nil); resp.StatusCode != 200 {
					t.Errorf("%s token, the upload's record: %d", who.name, resp.StatusCode)
				}
			}
		})
	}
}

// TestUploadPage checks the upload page's download link and the page
// route: shown to and served for sessions whose role allows it, refused to
// others, and a sign-in for a browser without a session.
func TestUploadPage(t *testing.T) {
	e := newEnv(t, nil)
	g := gz(fleettest.Crash(fleettest.Kinds[1], 0))
	g = g[:len(g)/2]
	_, u := e.uploadRaw(e.upload, g, "desk.dmp.gz", "pc")
	e.waitIdle()
	id := strconv.FormatInt(u.ID, 10)
	page, file := "/uploads/"+id, "/uploads/"+id+"/file"
	link := []byte(`id="file" href="` + file + `"`)

	anon := newBrowser(t, e)
	resp, body := anon.get(page)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`id="status">failed<`)) || bytes.Contains(body, link) {
		t.Errorf("anonymous upload page: %d, failed shown: %v, link shown: %v", resp.StatusCode, bytes.Contains(body, []byte(`id="status">failed<`)), bytes.Contains(body, link))
	}
	resp, _ = anon.get(file)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Errorf("anonymous download: %d to %q, want a sign-in", resp.StatusCode, loc)
	}

	reader := newBrowser(t, e)
	reader.signIn(e.read)
	resp, body = reader.get(page)
	if resp.StatusCode != 200 || bytes.Contains(body, link) {
		t.Errorf("read session's upload page: %d, link shown: %v", resp.StatusCode, bytes.Contains(body, link))
	}
	resp, body = reader.get(file)
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || bytes.Contains(body, g[:8]) {
		t.Errorf("read session's download: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	for _, who := range []struct{ name, token string }{{"admin", e.admin}, {"upload", e.upload}} {
		b := newBrowser(t, e)
		b.signIn(who.token)
		resp, body = b.get(page)
		if resp.StatusCode != 200 || !bytes.Contains(body, link) {
			t.Errorf("%s session's upload page: %d, no link %s", who.name, resp.StatusCode, link)
		}
		resp, body = b.get(file)
		if resp.StatusCode != 200 || !bytes.Equal(body, g) || resp.Header.Get("Content-Disposition") != `attachment; filename="desk.dmp.gz"` {
			t.Errorf("%s session's download: %d, %d bytes, %q", who.name, resp.StatusCode, len(body), resp.Header.Get("Content-Disposition"))
		}
		for _, tc := range []struct {
			path   string
			status int
		}{{"/uploads/999999/file", http.StatusNotFound}, {"/uploads/x/file", http.StatusBadRequest}} {
			resp, _ = b.get(tc.path)
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %d %s, want %d, a page", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
			}
		}
	}
}

// TestUploadFileRanges checks that a store with range reads serves an
// upload in place, archives included: only from the offset a range asks
// for, and nothing for HEAD and revalidations.
func TestUploadFileRanges(t *testing.T) {
	var rb *rangeBlobs
	e := newEnv(t, func(c *Config) {
		rb = &rangeBlobs{Store: c.Blobs}
		c.Blobs = rb
	})
	z := zipOf(t, zipMember{"a.dmp", fleettest.Crash(fleettest.Kinds[0], 0), zip.Deflate})
	_, u := e.uploadRaw(e.upload, z, "a.zip", "pc")
	e.waitIdle()
	rb.took()
	checkInPlace(t, e, rb, fileURL(u.ID), z, 100)
}

func TestUploadFileName(t *testing.T) {
	const s = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ name, kind, want string }{
		{"fleet.zip", "zip", "fleet.zip"},
		{"WER.CAB", "cab", "WER.CAB"},
		{"System.evtx", "evtx", "System.evtx"},
		{"x.dmp.gz", "dmp.gz", "x.dmp.gz"},
		{"memory", "dmp", "memory.dmp"},
		{"dumps", "zip", "dumps.zip"},
		{`a"b;c.zip`, "zip", "a_b_c.zip"},
		{"upload.zip", "zip", s + ".zip"},
		{"upload.dmp.gz", "dmp.gz", s + ".dmp.gz"},
		{"", "evtx", s + ".evtx"},
	} {
		if got := uploadFileName(&store.Upload{SHA256: s, Name: tc.name, Kind: tc.kind}); got != tc.want {
			t.Errorf("%q (%s): %q, want %q", tc.name, tc.kind, got, tc.want)
		}
	}
}

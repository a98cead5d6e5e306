package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/server/store"
)

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

func newBrowser(t *testing.T, e *env) *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	b := &browser{t: t, e: e, c: &c}
	resp, page := b.get("/upload") // open to all, with or without sessions
	if resp.StatusCode != 200 {
		t.Fatalf("upload page: %d", resp.StatusCode)
	}
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field on the upload page:\n%s", page)
	}
	b.csrf = string(m[1])
	return b
}

func (b *browser) get(path string) (*http.Response, []byte) {
	b.t.Helper()
	return b.send(must(http.NewRequest("GET", b.e.ts.URL+path, nil)))
}

func (b *browser) post(path string, form url.Values) (*http.Response, []byte) {
	b.t.Helper()
	req := must(http.NewRequest("POST", b.e.ts.URL+path, strings.NewReader(form.Encode())))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req)
}

func (b *browser) send(req *http.Request) (*http.Response, []byte) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// signIn signs in with token and returns the session cookie.
func (b *browser) signIn(token string) *http.Cookie {
	b.t.Helper()
	resp, body := b.post("/login", url.Values{"csrf": {b.csrf}, "token": {token}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	b.t.Fatal("sign-in set no session cookie")
	return nil
}

// uploadForm posts the upload form with the session, and token when set.
func (b *browser) uploadForm(csrf, token string, dump []byte) (*http.Response, []byte) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	if token != "" {
		mw.WriteField("token", token)
	}
	mw.WriteField("machine", "desk-12")
	w, _ := mw.CreateFormFile("file", "desk.dmp")
	w.Write(dump)
	mw.Close()
	req := must(http.NewRequest("POST", b.e.ts.URL+"/upload", &buf))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.send(req)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestRoleMatrix checks every page and form for each kind of visitor
// (anonymous, and signed in with a read, upload or admin token), with
// anonymous reading on and off.
func TestRoleMatrix(t *testing.T) {
	for _, anon := range []bool{true, false} {
		t.Run(fmt.Sprintf("anonymous-read=%v", anon), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.AnonymousRead = anon })
			k := fleettest.Kinds[1]
			dump := fleettest.Crash(k, 11)
			if st, _ := e.uploadRaw(e.upload, dump, "desk.dmp", "desk-12"); st != 201 {
				t.Fatalf("API upload: %d", st)
			}
			e.waitIdle()
			pages := []string{"/", "/crashes", "/crashes?q=desk", "/crashes/" + sha(dump), "/buckets/" + url.PathEscape(k.Bucket), "/machines/desk-12", "/uploads/1"}
			for _, who := range []string{"anonymous", "read", "upload", "admin"} {
				t.Run(who, func(t *testing.T) {
					b := newBrowser(t, e)
					token := map[string]string{"read": e.read, "upload": e.upload, "admin": e.admin}[who]
					if token != "" {
						b.signIn(token)
					}
					for _, p := range pages {
						resp, body := b.get(p)
						switch {
						case anon || who != "anonymous":
							if resp.StatusCode != 200 {
								t.Errorf("GET %s: %d, want 200", p, resp.StatusCode)
							}
							// The layout names who is signed in.
							signedIn := strings.Contains(string(body), `<span id="user">`+who+` token (`+who+`)</span>`)
							if signedIn != (who != "anonymous") || strings.Contains(string(body), `action="/logout"`) != signedIn {
								t.Errorf("GET %s: layout shows the user %v, want %v", p, signedIn, who != "anonymous")
							}
							if admin := strings.Contains(string(body), `href="/admin"`); admin != (who == "admin") {
								t.Errorf("GET %s: admin link %v", p, admin)
							}
						default:
							want := "/login?" + url.Values{"next": {p}}.Encode()
							if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
								t.Errorf("GET %s: %d to %q, want 303 to %q", p, resp.StatusCode, resp.Header.Get("Location"), want)
							}
						}
					}

					// The upload form asks for a token unless the session may upload.
					resp, body := b.get("/upload")
					needToken := who == "anonymous" || who == "read"
					if resp.StatusCode != 200 || strings.Contains(string(body), `name="token"`) != needToken {
						t.Errorf("GET /upload: %d, token field %v, want %v", resp.StatusCode, !needToken, needToken)
					}
					resp, _ = b.uploadForm(b.csrf, "", dump)
					if want := map[bool]int{true: 401, false: 303}[needToken]; resp.StatusCode != want {
						t.Errorf("upload form without a token: %d, want %d", resp.StatusCode, want)
					}
					// The token field still works without a session that uploads.
					if resp, _ = b.uploadForm(b.csrf, e.upload, dump); resp.StatusCode != 303 || resp.Header.Get("Location") != "/uploads/1" {
						t.Errorf("upload form with a token: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
					}

					// The admin page and its forms.
					resp, _ = b.get("/admin")
					wantAdmin := map[string]int{"anonymous": 303, "read": 403, "upload": 403, "admin": 200}[who]
					if resp.StatusCode != wantAdmin {
						t.Errorf("GET /admin: %d, want %d", resp.StatusCode, wantAdmin)
					}
					victim, tk, err := NewToken(context.Background(), e.data.Store, "victim "+who, store.RoleRead)
					if err != nil {
						t.Fatal(err)
					}
					forms := []struct {
						path  string
						form  url.Values
						admin int
					}{
						{"/admin/tokens", url.Values{"name": {"new " + who}, "role": {"upload"}}, 201},
						{fmt.Sprintf("/admin/tokens/%d/delete", tk.ID), nil, 303},
						{"/admin/reanalyze", nil, 303},
					}
					for _, f := range forms {
						if f.form == nil {
							f.form = url.Values{}
						}
						f.form.Set("csrf", b.csrf)
						want := 403
						if who == "admin" {
							want = f.admin
						}
						if resp, body := b.post(f.path, f.form); resp.StatusCode != want {
							t.Errorf("POST %s: %d, want %d\n%.300s", f.path, resp.StatusCode, want, body)
						}
					}
					_, err = e.data.Store.TokenByHash(context.Background(), HashToken(victim))
					if deleted := err != nil; deleted != (who == "admin") {
						t.Errorf("token deleted %v (%v), want %v", deleted, err, who == "admin")
					}
					e.waitIdle()
				})
			}
		})
	}
}

// TestSignIn checks the sign-in form, the session cookie and what ends a
// session: sign-out, expiry, the token's deletion.
func TestSignIn(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AnonymousRead = false })
	ss := e.data.Store.(store.SessionStore)
	ctx := context.Background()

	b := newBrowser(t, e)
	resp, page := b.get("/login?next=%2Fcrashes")
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="csrf" value="`+b.csrf+`"`) ||
		!strings.Contains(string(page), `name="next" value="/crashes"`) || !strings.Contains(string(page), `id="signin"`) {
		t.Errorf("sign-in page: %d\n%s", resp.StatusCode, page)
	}
	for _, tc := range []struct {
		name, csrf, token string
		status            int
		want              string
	}{
		{"wrong CSRF", strings.Repeat("0", 64), e.admin, 403, "expired or came from another site"},
		{"no CSRF", "", e.admin, 403, "expired or came from another site"},
		{"unknown token", b.csrf, TokenPrefix + strings.Repeat("0", 64), 401, "That token is not valid."},
		{"not a token", b.csrf, "hunter2", 401, "That token is not valid."},
		{"empty", b.csrf, "", 401, "That token is not valid."},
	} {
		resp, body := b.post("/login", url.Values{"csrf": {tc.csrf}, "token": {tc.token}})
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d, want %d with %q", tc.name, resp.StatusCode, tc.status, tc.want)
		}
		for _, c := range resp.Cookies() {
			if c.Name == sessionCookie {
				t.Errorf("%s: session cookie set", tc.name)
			}
		}
	}

	// A good sign-in goes back to the page asked for, never off-site.
	for _, tc := range []struct{ next, want string }{
		{"/crashes?q=x", "/crashes?q=x"}, {"//evil.example/", "/"}, {"https://evil.example/", "/"}, {"/\\evil.example", "/"}, {"/\t/evil.example", "/"}, {"", "/"},
	} {
		resp, _ := b.post("/login", url.Values{"csrf": {b.csrf}, "token": {e.read}, "next": {tc.next}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != tc.want {
			t.Errorf("next %q: %d to %q, want %q", tc.next, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}

	// The cookie: a random id (not the token), HttpOnly, SameSite=Strict,
	// Path=/, 12 hours, Secure only over TLS; the store has only its hash.
	cookie := b.signIn(e.admin)
	if cookie.Value == e.admin || len(cookie.Value) != 64 || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode ||
		cookie.Path != "/" || cookie.Secure || cookie.MaxAge != 12*3600 {
		t.Errorf("session cookie %+v", cookie)
	}
	sess, err := ss.SessionByHash(ctx, HashToken(cookie.Value), time.Now())
	if err != nil || sess.TokenName != "admin token" || sess.Role != store.RoleAdmin || sess.Expires.Sub(sess.Created) != DefaultSessionLifetime {
		t.Errorf("stored session %+v, %v", sess, err)
	}
	if _, err := ss.SessionByHash(ctx, cookie.Value, time.Now()); err == nil {
		t.Error("session stored under its raw id")
	}
	tlsCookie := func() *http.Cookie {
		form := url.Values{"csrf": {b.csrf}, "token": {e.read}}
		req := httptest.NewRequest("POST", "https://bugcheck.example/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: b.csrf})
		if req.TLS == nil {
			req.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.Name == sessionCookie {
				return c
			}
		}
		t.Fatalf("TLS sign-in: %d, no session cookie", rec.Code)
		return nil
	}()
	if !tlsCookie.Secure || !tlsCookie.HttpOnly || tlsCookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie over TLS %+v", tlsCookie)
	}

	// The session opens the pages.
	replay := func(c *http.Cookie) int {
		req := must(http.NewRequest("GET", e.ts.URL+"/crashes", nil))
		req.AddCookie(c)
		resp, err := e.ts.Client().Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := replay(cookie); st != 200 {
		t.Fatalf("page with the session: %d", st)
	}

	// Sign-out needs the CSRF field, then ends the session for good.
	if resp, _ := b.post("/logout", url.Values{"csrf": {strings.Repeat("1", 64)}}); resp.StatusCode != 403 {
		t.Errorf("sign-out with a wrong CSRF field: %d", resp.StatusCode)
	}
	if st := replay(cookie); st != 200 {
		t.Errorf("session after a refused sign-out: %d", st)
	}
	resp, _ = b.post("/logout", url.Values{"csrf": {b.csrf}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/login" {
		t.Errorf("sign-out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || (c.Name == sessionCookie && c.MaxAge < 0)
	}
	if !cleared {
		t.Error("sign-out left the cookie")
	}
	if st := replay(cookie); st != 303 {
		t.Errorf("replayed cookie after sign-out: %d, want 303", st)
	}
	if _, err := ss.SessionByHash(ctx, HashToken(cookie.Value), time.Now()); err == nil {
		t.Error("session kept after sign-out")
	}

	// An expired session and a session whose token was deleted are gone.
	tk, err := e.data.Store.TokenByHash(ctx, HashToken(e.read))
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Repeat("e", 64)
	if err := ss.AddSession(ctx, &store.Session{Hash: HashToken(old), TokenID: tk.ID, Role: tk.Role,
		Created: time.Now().Add(-13 * time.Hour), Expires: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if st := replay(&http.Cookie{Name: sessionCookie, Value: old}); st != 303 {
		t.Errorf("expired session: %d, want 303", st)
	}
	b2 := newBrowser(t, e)
	live := b2.signIn(e.read)
	if st := replay(live); st != 200 {
		t.Fatalf("read session: %d", st)
	}
	if err := e.data.Store.DeleteToken(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if st := replay(live); st != 303 {
		t.Errorf("session of a deleted token: %d, want 303", st)
	}
	if st := replay(&http.Cookie{Name: sessionCookie, Value: "short"}); st != 303 {
		t.Errorf("malformed session cookie: %d, want 303", st)
	}
}

// TestAdminPage checks what the admin page shows: tokens without their
// secrets or hashes, a new token's secret once, and that it works.
func TestAdminPage(t *testing.T) {
	e := newEnv(t, nil)
	b := newBrowser(t, e)
	b.signIn(e.admin)
	resp, body := b.get("/admin")
	if resp.StatusCode != 200 {
		t.Fatalf("admin page: %d", resp.StatusCode)
	}
	for _, tok := range []string{e.admin, e.upload, e.read} {
		if strings.Contains(string(body), tok) || strings.Contains(string(body), HashToken(tok)) {
			t.Errorf("admin page shows a token's secret or hash")
		}
	}
	for _, want := range []string{"<td>admin token</td><td>admin</td>", "<td>upload token</td><td>upload</td>", "<td>read token</td><td>read</td>"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("admin page lacks %q", want)
		}
	}
	if n := strings.Count(string(body), `/delete" method="post"><input type="hidden" name="csrf" value="`+b.csrf+`">`); n != 3 {
		t.Errorf("%d delete forms with the CSRF field, want 3", n)
	}

	resp, body = b.post("/admin/tokens", url.Values{"csrf": {b.csrf}, "name": {"fleet\x00 pcs"}, "role": {"upload"}})
	m := regexp.MustCompile(`<pre id="new-token">(bct_[0-9a-f]{64})</pre>`).FindSubmatch(body)
	if resp.StatusCode != 201 || m == nil || !strings.Contains(string(body), "New token “fleet pcs” (upload)") {
		t.Fatalf("new token: %d\n%s", resp.StatusCode, body)
	}
	secret := string(m[1])
	if st, _ := e.uploadRaw(secret, fleettest.Crash(fleettest.Kinds[0], 21), "a.dmp", "pc"); st != 201 {
		t.Errorf("upload with the new token: %d", st)
	}
	if _, body = b.get("/admin"); strings.Contains(string(body), secret) || !strings.Contains(string(body), "<td>fleet pcs</td><td>upload</td>") {
		t.Error("admin page shows the new token's secret again, or not the token")
	}
	for _, bad := range []url.Values{{"name": {"x"}, "role": {"root"}}, {"name": {" "}, "role": {"read"}}} {
		bad.Set("csrf", b.csrf)
		if resp, _ := b.post("/admin/tokens", bad); resp.StatusCode != 400 {
			t.Errorf("new token %v: %d, want 400", bad, resp.StatusCode)
		}
	}
	for _, p := range []string{"/admin/tokens", "/admin/tokens/1/delete", "/admin/reanalyze"} {
		if resp, body := b.post(p, url.Values{"csrf": {strings.Repeat("0", 64)}, "name": {"x"}, "role": {"read"}}); resp.StatusCode != 403 ||
			!strings.Contains(string(body), "expired or came from another site") {
			t.Errorf("POST %s with a wrong CSRF field: %d", p, resp.StatusCode)
		}
		req := must(http.NewRequest("POST", e.ts.URL+p, strings.NewReader("csrf="+b.csrf)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if resp, _ := b.send(req); resp.StatusCode != 403 {
			t.Errorf("cross-site POST %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := b.post("/admin/tokens/999/delete", url.Values{"csrf": {b.csrf}}); resp.StatusCode != 404 {
		t.Errorf("deleting a missing token: %d", resp.StatusCode)
	}
	e.waitIdle()
	resp, _ = b.post("/admin/reanalyze", url.Values{"csrf": {b.csrf}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/admin?done=requeued&n=1" {
		t.Errorf("re-analysis: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body = b.get(resp.Header.Get("Location")); !strings.Contains(string(body), "queued for analysis again (1 jobs)") {
		t.Error("admin page does not report the re-analysis")
	}
	e.waitIdle()

	// Deleting the token one is signed in with ends the session.
	admin, _ := e.data.Store.TokenByHash(context.Background(), HashToken(e.admin))
	if resp, _ := b.post(fmt.Sprintf("/admin/tokens/%d/delete", admin.ID), url.Values{"csrf": {b.csrf}}); resp.StatusCode != 303 {
		t.Errorf("deleting one's own token: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/admin"); resp.StatusCode != 303 {
		t.Errorf("admin page after deleting one's own token: %d, want 303 to sign in", resp.StatusCode)
	}
}

// noSessions is a store without session support.
type noSessions struct{ store.Store }

// TestNoSessionStore checks a store without sessions: the pages stay
// closed with 401 without anonymous reading, and sign-in says why not.
func TestNoSessionStore(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AnonymousRead = false; c.Store = noSessions{c.Store} })
	b := newBrowser(t, e)
	if resp, _ := b.get("/"); resp.StatusCode != 401 {
		t.Errorf("page: %d, want 401", resp.StatusCode)
	}
	if resp, _ := b.post("/login", url.Values{"csrf": {b.csrf}, "token": {e.admin}}); resp.StatusCode != 501 {
		t.Errorf("sign-in: %d, want 501", resp.StatusCode)
	}
}

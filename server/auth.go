package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/server/store"
)

// Sign-in for the pages: a person pastes a token into /login, and the
// browser gets a session cookie holding a random id. The store keeps the
// id's hash with the token's role and an expiry (store.SessionStore), so
// the token itself never sits in the browser, and deleting the token ends
// its sessions.

// DefaultSessionLifetime is how long a sign-in lasts when
// Config.SessionLifetime is zero.
const DefaultSessionLifetime = 12 * time.Hour

// sessionCookie names the cookie with the session id.
const sessionCookie = "bugcheck_session"

type sessionKey struct{}

// sessions returns the store's session support, nil when it has none.
func (s *Server) sessions() store.SessionStore {
	ss, _ := s.cfg.Store.(store.SessionStore)
	return ss
}

// withSession looks up the session of a page request's cookie, or the
// bearer token of an API request, once and puts it in the request's
// context for the rate limits, pageAuth, authorize, the forms and the
// layout.
func (s *Server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			r = r.WithContext(context.WithValue(r.Context(), bearerKey{}, s.checkBearer(r)))
		} else if ss := s.sessions(); ss != nil && !strings.HasPrefix(r.URL.Path, "/static/") {
			if c, err := r.Cookie(sessionCookie); err == nil && len(c.Value) == 64 {
				sess, err := ss.SessionByHash(r.Context(), HashToken(c.Value), time.Now())
				switch {
				case err == nil:
					r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
				case !errors.Is(err, store.ErrNotFound):
					s.fail(w, r, err)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sessionOf returns the request's live session, or nil.
func sessionOf(r *http.Request) *store.Session {
	sess, _ := r.Context().Value(sessionKey{}).(*store.Session)
	return sess
}

// signIn redirects to the sign-in page, which comes back to this page.
func signIn(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
}

// localPath returns next when it is a path on this server, else "/": the
// sign-in page must not send anyone to another site.
func localPath(next string) string {
	// Browsers drop tabs and newlines and read \ as /, so "/\t/evil"
	// and "/\\evil" would leave the site.
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || len(next) > 2048 {
		return "/"
	}
	for _, c := range []byte(next) {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	return next
}

// loginData is what the sign-in page shows.
type loginData struct {
	Next    string
	Error   string
	Enabled bool // the store keeps sessions
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: localPath(r.URL.Query().Get("next")), Enabled: s.sessions() != nil}
	s.render(w, r, http.StatusOK, "login.html", page{Title: "Sign in", CSRF: csrfToken(w, r), Data: d})
}

// loginPost checks a pasted token and starts a session for it.
func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	ss := s.sessions()
	if ss == nil {
		s.errorPage(w, r, http.StatusNotImplemented, "This server's database keeps no sessions; use the API with a token.")
		return
	}
	if !csrfOK(r, r.PostFormValue("csrf")) {
		s.errorPage(w, r, http.StatusForbidden, "The form has expired or came from another site; reload the sign-in page.")
		return
	}
	// Every attempt takes from the address's sign-in budget up front (so
	// that parallel guesses cannot all slip through) and a successful one
	// gives it back: only failures count.
	ip := ipKey(s.clientIP(r))
	if ok, retry := s.limits.login.allow(ip); !ok {
		s.log.Warn("sign-ins refused: too many failures", "client", ip)
		s.tooMany(w, r, retry)
		return
	}
	d := loginData{Next: localPath(r.PostFormValue("next")), Enabled: true}
	tok, err := s.tokenBySecret(r.Context(), strings.TrimSpace(r.PostFormValue("token")))
	if err == nil {
		s.limits.login.refund(ip)
	}
	if errors.Is(err, errBadToken) {
		d.Error = "That token is not valid."
		s.render(w, r, http.StatusUnauthorized, "login.html", page{Title: "Sign in", CSRF: csrfToken(w, r), Data: d})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := time.Now()
	// Sign-ins are rare: purging expired sessions here keeps the table
	// small without a timer.
	if _, err := ss.DeleteExpiredSessions(r.Context(), now); err != nil {
		s.log.Warn("purging expired sessions", "err", err)
	}
	if old, err := r.Cookie(sessionCookie); err == nil && len(old.Value) == 64 {
		ss.DeleteSession(r.Context(), HashToken(old.Value)) // a fresh id on every sign-in
	}
	b := make([]byte, 32)
	rand.Read(b)
	id := hex.EncodeToString(b)
	life := s.cfg.SessionLifetime
	sess := &store.Session{Hash: HashToken(id), TokenID: tok.ID, Role: tok.Role, Created: now, Expires: now.Add(life)}
	if err := ss.AddSession(r.Context(), sess); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("signed in", "token", tok.Name, "role", tok.Role)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(life / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// logoutPost ends the session and clears its cookie.
func (s *Server) logoutPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !csrfOK(r, r.PostFormValue("csrf")) {
		s.errorPage(w, r, http.StatusForbidden, "The form has expired or came from another site; reload the page.")
		return
	}
	if ss, sess := s.sessions(), sessionOf(r); ss != nil && sess != nil {
		if err := ss.DeleteSession(r.Context(), sess.Hash); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// adminAuth lets only admin sessions through: others get 403, and a GET
// without a session is sent to sign in.
func (s *Server) adminAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionOf(r)
		switch {
		case sess == nil && r.Method == http.MethodGet:
			signIn(w, r)
		case sess == nil || !sess.Role.Allows(store.RoleAdmin):
			s.errorPage(w, r, http.StatusForbidden, "Only an administrator may do this; sign in with an admin token.")
		default:
			h(w, r)
		}
	}
}

// adminForm checks an admin form's CSRF field; it writes 403 when wrong.
func (s *Server) adminForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !csrfOK(r, r.PostFormValue("csrf")) {
		s.errorPage(w, r, http.StatusForbidden, "The form has expired or came from another site; reload the admin page.")
		return false
	}
	return true
}

// adminData is what the admin page shows.
type adminData struct {
	Tokens  []store.Token
	Queue   store.QueueStats
	Message string
	// NewToken is the secret of the token just made, shown this once.
	NewToken *newToken
}

type newToken struct {
	Secret string
	Name   string
	Role   store.Role
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, status int, d adminData) {
	var err error
	if d.Tokens, err = s.cfg.Store.Tokens(r.Context()); err == nil {
		d.Queue, err = s.cfg.Store.Queue(r.Context())
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "admin.html", page{Title: "Administration", CSRF: csrfToken(w, r), Data: d})
}

func (s *Server) adminGet(w http.ResponseWriter, r *http.Request) {
	var d adminData
	switch r.URL.Query().Get("done") {
	case "deleted":
		d.Message = "The token was deleted; its sessions ended."
	case "requeued":
		d.Message = "Every upload was queued for analysis again (" + strconv.Itoa(atoiOr(r.URL.Query().Get("n"))) + " jobs)."
	}
	s.adminPage(w, r, http.StatusOK, d)
}

func atoiOr(v string) int {
	n, _ := strconv.Atoi(v)
	return max(n, 0)
}

// adminNewToken makes a token and shows its secret in the response only
// (no redirect, so the secret is in no URL and no history entry).
func (s *Server) adminNewToken(w http.ResponseWriter, r *http.Request) {
	if !s.adminForm(w, r) {
		return
	}
	role := store.Role(r.PostFormValue("role"))
	name := cleanLabel(r.PostFormValue("name"))
	if !role.Valid() || name == "" {
		s.adminPage(w, r, http.StatusBadRequest, adminData{Message: "A token needs a name and a role (read, upload or admin)."})
		return
	}
	secret, t, err := NewToken(r.Context(), s.cfg.Store, name, role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("token made on the admin page", "by", sessionOf(r).TokenName, "token", t.Name, "role", t.Role)
	s.adminPage(w, r, http.StatusCreated, adminData{NewToken: &newToken{Secret: secret, Name: t.Name, Role: t.Role}})
}

func (s *Server) adminDeleteToken(w http.ResponseWriter, r *http.Request) {
	if !s.adminForm(w, r) {
		return
	}
	id, err := pathID(r)
	if err == nil {
		err = s.cfg.Store.DeleteToken(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("token deleted on the admin page", "by", sessionOf(r).TokenName, "id", id)
	http.Redirect(w, r, "/admin?done=deleted", http.StatusSeeOther)
}

func (s *Server) adminReanalyze(w http.ResponseWriter, r *http.Request) {
	if !s.adminForm(w, r) {
		return
	}
	n, err := s.cfg.Store.RequeueAll(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for range s.cfg.Workers {
		s.notify()
	}
	s.log.Info("re-analysis started on the admin page", "by", sessionOf(r).TokenName, "jobs", n)
	http.Redirect(w, r, "/admin?done=requeued&n="+strconv.Itoa(n), http.StatusSeeOther)
}

package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/bugcheck/bugcheck/server/store"
)

// secureHeaders sets the headers every response carries: a strict content
// security policy (pages use only their own style sheet and script, no
// inline code), no framing, no sniffing, no referrer.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

var errBadToken = errors.New("invalid token")

// tokenRole looks up a presented token's role.
func (s *Server) tokenRole(ctx context.Context, secret string) (store.Role, error) {
	t, err := s.tokenBySecret(ctx, secret)
	if err != nil {
		return "", err
	}
	return t.Role, nil
}

// tokenBySecret looks up a presented token; errBadToken when it is not one.
func (s *Server) tokenBySecret(ctx context.Context, secret string) (*store.Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 200 {
		return nil, errBadToken
	}
	t, err := s.cfg.Store.TokenByHash(ctx, HashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadToken
	}
	return t, err
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	if a == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(a, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true // presented, but not a token we take
	}
	return strings.TrimSpace(tok), true
}

// apiAuth is the outcome of checking an API request's bearer token, which
// withSession does once for the rate limits and authorize.
type apiAuth struct {
	presented bool
	tok       *store.Token // nil unless presented and valid
	err       error        // errBadToken, or the store's failure
}

type bearerKey struct{}

// bearerOf returns the request's checked bearer token, nil when not
// checked (not an API request).
func bearerOf(r *http.Request) *apiAuth {
	a, _ := r.Context().Value(bearerKey{}).(*apiAuth)
	return a
}

// checkBearer checks the request's bearer token.
func (s *Server) checkBearer(r *http.Request) *apiAuth {
	secret, presented := bearer(r)
	a := &apiAuth{presented: presented}
	if presented {
		a.tok, a.err = s.tokenBySecret(r.Context(), secret)
	}
	return a
}

// authorize checks the request's bearer token (or, without one, anonymous
// read access) against need, and writes 401 or 403 when it fails.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, need store.Role) bool {
	a := bearerOf(r)
	if a == nil {
		a = s.checkBearer(r)
	}
	var role store.Role
	switch {
	case a.presented && a.err != nil:
		if !errors.Is(a.err, errBadToken) {
			s.fail(w, r, a.err)
			return false
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="bugcheck"`)
		apiError(w, http.StatusUnauthorized, "invalid token")
		return false
	case a.presented:
		role = a.tok.Role
	case s.cfg.AnonymousRead:
		role = store.RoleRead
	}
	if role.Allows(need) {
		return true
	}
	if !a.presented {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bugcheck"`)
		apiError(w, http.StatusUnauthorized, "a token with the "+string(need)+" role is required")
		return false
	}
	apiError(w, http.StatusForbidden, "the token's role ("+string(role)+") does not allow this; "+string(need)+" is required")
	return false
}

// csrfCookie names the cookie of the double-submit CSRF check: forms carry
// the cookie's value in a hidden field, which a page of another site can
// neither read nor set. http.CrossOriginProtection guards the same forms
// by the browser's Sec-Fetch-Site and Origin headers.
const csrfCookie = "bugcheck_csrf"

// csrfToken returns the request's CSRF token, setting a new cookie when it
// has none.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 64 {
		return c.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	v := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return v
}

// csrfOK checks a form's token against the cookie.
func csrfOK(r *http.Request, formValue string) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 64 || len(formValue) != 64 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(formValue)) == 1
}

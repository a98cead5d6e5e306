package server

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate limits, per client and per minute: a client is the token of an
// authenticated request (bearer token or page session), else the client's
// IP address (its /64 for IPv6, which one host usually holds whole). Each
// budget may be spent at once (the burst is a minute's worth) and refills
// steadily.
const (
	// DefaultRateUpload is uploads a client may send per minute. A fleet
	// often shares one upload token, so this is per fleet in practice;
	// `bugcheck upload` waits and retries on 429.
	DefaultRateUpload = 1200
	// DefaultRateLogin is failed sign-ins (a wrong token pasted into the
	// sign-in page or the upload form) an IP address may make per minute.
	DefaultRateLogin = 10
	// DefaultRateAPI is every other request a client may make per minute:
	// API calls and pages. Static files and /api/v1/health are free.
	DefaultRateAPI = 1200

	// DefaultRateClients caps the clients each budget tracks at once.
	DefaultRateClients = 100_000
)

// RateLimits sets the request budgets. A zero field means its default;
// a negative one means unlimited.
type RateLimits struct {
	Upload float64 // uploads per client per minute
	Login  float64 // failed sign-ins per IP address per minute
	API    float64 // other requests per client per minute
	// MaxClients bounds the memory of each budget's table of clients.
	MaxClients int
}

// limiter is a token bucket per key: each holds up to burst tokens and
// gains rate tokens a second; a request takes one. A nil *limiter allows
// everything.
type limiter struct {
	rate, burst float64
	max         int
	now         func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time // when tokens was computed
}

// newLimiter returns a limiter allowing perMinute requests a minute per
// key, all of which may come at once, tracking at most maxKeys keys; nil
// (no limit) when perMinute is not positive.
func newLimiter(perMinute float64, maxKeys int, now func() time.Time) *limiter {
	if perMinute <= 0 {
		return nil
	}
	if maxKeys <= 0 {
		maxKeys = DefaultRateClients
	}
	if now == nil {
		now = time.Now
	}
	return &limiter{rate: perMinute / 60, burst: max(perMinute, 1), max: maxKeys, now: now, buckets: map[string]*bucket{}}
}

// fill brings b's tokens up to t.
func (l *limiter) fill(b *bucket, t time.Time) {
	if d := t.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = t
	}
}

// get returns key's bucket, filled up to t, adding a full one when there
// is none. Idle clients' buckets (full again, so no different from a new
// one) are swept once per refill period; a table at its cap, full of
// clients that are all busy, loses random ones (which start afresh).
func (l *limiter) get(key string, t time.Time) *bucket {
	if t.Sub(l.lastSweep) >= time.Duration(l.burst/l.rate*float64(time.Second)) || len(l.buckets) >= l.max {
		l.sweep(t)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: t}
		l.buckets[key] = b
	}
	l.fill(b, t)
	return b
}

func (l *limiter) sweep(t time.Time) {
	l.lastSweep = t
	for k, b := range l.buckets {
		if l.fill(b, t); b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets { // random order
		if len(l.buckets) < l.max-l.max/8 {
			break
		}
		delete(l.buckets, k)
	}
}

// allow takes a token from key's bucket. When there is none it returns
// false and how long until there is one.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	b := l.get(key, t)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// refund gives back the token of a request that turned out not to count
// (a sign-in that succeeded).
func (l *limiter) refund(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[key]; b != nil {
		l.fill(b, l.now())
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// size is the number of clients tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// limits are a server's three budgets.
type limits struct {
	upload, login, api *limiter
}

func newLimits(rl RateLimits, now func() time.Time) limits {
	pick := func(v, def float64) float64 {
		if v == 0 {
			return def
		}
		return v
	}
	return limits{
		upload: newLimiter(pick(rl.Upload, DefaultRateUpload), rl.MaxClients, now),
		login:  newLimiter(pick(rl.Login, DefaultRateLogin), rl.MaxClients, now),
		api:    newLimiter(pick(rl.API, DefaultRateAPI), rl.MaxClients, now),
	}
}

// ParseCIDRs reads trusted proxy addresses for Config.TrustedProxies:
// CIDR prefixes (10.0.0.0/8, fd00::/8) or single addresses.
func ParseCIDRs(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			p, err := netip.ParsePrefix(f)
			if err != nil {
				a, aerr := netip.ParseAddr(f)
				if aerr != nil {
					return nil, fmt.Errorf("trusted proxy %q: want an address or a CIDR prefix", f)
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// trusted reports whether a is one of the trusted proxies.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address of the request's client: the peer, or, when
// the peer is a trusted proxy, the right-most address of X-Forwarded-For
// that is not a trusted proxy (the left part of the header is whatever
// the client chose to send, so only what trusted proxies appended counts).
func (s *Server) clientIP(r *http.Request) netip.Addr {
	a := parseHostAddr(r.RemoteAddr)
	if !a.IsValid() || len(s.cfg.TrustedProxies) == 0 || !s.trusted(a) {
		return a
	}
	hops := r.Header.Values("X-Forwarded-For")
	var list []string
	for _, h := range hops {
		list = append(list, strings.Split(h, ",")...)
	}
	for i := len(list) - 1; i >= 0; i-- {
		h := parseHostAddr(strings.TrimSpace(list[i]))
		if !h.IsValid() {
			return a // garbled: trust no further than the last good hop
		}
		a = h
		if !s.trusted(a) {
			return a
		}
	}
	return a
}

// parseHostAddr reads "1.2.3.4", "1.2.3.4:5", "::1" or "[::1]:5".
func parseHostAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// ipKey is the rate limit key of a client address: IPv6 clients by their
// /64, since one host usually has all of it.
func ipKey(a netip.Addr) string {
	if !a.IsValid() {
		return "ip:unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// clientKey names the request's client for the budgets: its token when it
// has a valid one (a bearer token or a page session), else its address.
func (s *Server) clientKey(r *http.Request) string {
	if a := bearerOf(r); a != nil && a.tok != nil {
		return "token:" + strconv.FormatInt(a.tok.ID, 10)
	}
	if sess := sessionOf(r); sess != nil {
		return "token:" + strconv.FormatInt(sess.TokenID, 10)
	}
	return ipKey(s.clientIP(r))
}

// rateLimit charges each request to its client's budget: uploads to the
// upload budget, the sign-in form to none here (loginPost charges failed
// sign-ins), health checks and static files to none, the rest to the API
// budget.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var l *limiter
		p := r.URL.Path
		switch {
		case r.Method == http.MethodPost && (p == "/api/"+APIVersion+"/dumps" || p == "/upload"):
			l = s.limits.upload
		case r.Method == http.MethodPost && p == "/login",
			strings.HasPrefix(p, "/static/"), p == "/api/"+APIVersion+"/health":
		default:
			l = s.limits.api
		}
		if ok, retry := l.allow(s.clientKey(r)); !ok {
			s.tooMany(w, r, retry)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tooMany answers 429 with the seconds to wait.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, retry time.Duration) {
	secs := max(int(math.Ceil(retry.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	msg := fmt.Sprintf("too many requests; retry in %d s", secs)
	if strings.HasPrefix(r.URL.Path, "/api/") {
		apiError(w, http.StatusTooManyRequests, msg)
		return
	}
	s.errorPage(w, r, http.StatusTooManyRequests, "Too many requests from you; try again in "+strconv.Itoa(secs)+" seconds.")
}

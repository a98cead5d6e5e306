package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLimiter(t *testing.T) {
	clk := newClock()
	l := newLimiter(60, 0, clk.Now) // one a second, sixty at once
	type step struct {
		advance time.Duration
		key     string
		ok      bool
		retry   time.Duration
	}
	var steps []step
	for range 60 {
		steps = append(steps, step{0, "a", true, 0})
	}
	steps = append(steps,
		step{0, "a", false, time.Second},
		step{0, "b", true, 0}, // another client has its own budget
		step{250 * time.Millisecond, "a", false, 750 * time.Millisecond},
		step{750 * time.Millisecond, "a", true, 0},
		step{0, "a", false, time.Second},
		step{10 * time.Second, "a", true, 0}, // ten refilled
	)
	for range 9 {
		steps = append(steps, step{0, "a", true, 0})
	}
	steps = append(steps, step{0, "a", false, time.Second})
	for i, s := range steps {
		clk.Add(s.advance)
		ok, retry := l.allow(s.key)
		if ok != s.ok || retry != s.retry {
			t.Fatalf("step %d (%+v): %v, retry %v", i, s, ok, retry)
		}
	}
	// A refund gives one back, never more than the burst.
	l.refund("a")
	if ok, _ := l.allow("a"); !ok {
		t.Error("no token after a refund")
	}
	clk.Add(time.Hour)
	l.refund("a")
	for i := range 61 {
		if ok, _ := l.allow("a"); ok != (i < 60) {
			t.Fatalf("after an hour and a refund, request %d: %v", i, ok)
		}
	}
	// A fraction of a request per minute: one now, the next in two minutes.
	slow := newLimiter(0.5, 0, clk.Now)
	if ok, _ := slow.allow("x"); !ok {
		t.Error("slow limiter refused the first request")
	}
	if ok, retry := slow.allow("x"); ok || retry != 2*time.Minute {
		t.Errorf("slow limiter: %v, retry %v; want refused for 2m", ok, retry)
	}
	// No limit.
	var none *limiter
	for range 1000 {
		if ok, _ := none.allow("a"); !ok {
			t.Fatal("nil limiter refused")
		}
	}
	none.refund("a")
	if newLimiter(0, 0, nil) != nil || newLimiter(-1, 0, nil) != nil {
		t.Error("a rate of 0 or less is not unlimited")
	}
}

// TestLimiterMemory checks that the table forgets idle clients and never
// grows past its cap, even with every client busy.
func TestLimiterMemory(t *testing.T) {
	clk := newClock()
	l := newLimiter(60, 100, clk.Now)
	for i := range 10_000 {
		l.allow(fmt.Sprint("busy", i))
		if n := l.size(); n > 100 {
			t.Fatalf("%d clients tracked after %d, cap 100", n, i+1)
		}
	}
	// A minute later every bucket is full again: idle, so forgotten at
	// the next sweep.
	clk.Add(time.Minute)
	l.allow("new")
	if n := l.size(); n != 1 {
		t.Errorf("%d clients tracked after a minute idle, want 1", n)
	}
	// The next sweep, a minute later, keeps clients still short of
	// tokens and forgets "new", full again.
	clk.Add(30 * time.Second)
	for range 60 {
		l.allow("heavy")
	}
	clk.Add(29*time.Second + 500*time.Millisecond)
	l.allow("light")
	if n := l.size(); n != 3 {
		t.Errorf("%d clients tracked before the sweep, want new, heavy and light", n)
	}
	clk.Add(500 * time.Millisecond)
	l.allow("other")
	l.mu.Lock()
	_, hasNew := l.buckets["new"]
	l.mu.Unlock()
	if n := l.size(); n != 3 || hasNew {
		t.Errorf("%d clients tracked after the sweep (new among them: %v), want heavy, light and other", n, hasNew)
	}
}

func TestClientIP(t *testing.T) {
	proxies, err := ParseCIDRs([]string{"10.0.0.0/8, 192.168.1.1", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCIDRs([]string{"10.0.0.0/33"}); err == nil {
		t.Error("10.0.0.0/33 accepted")
	}
	if _, err := ParseCIDRs([]string{"proxy.example"}); err == nil {
		t.Error("a host name accepted")
	}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: the header is ignored", nil, "10.1.2.3:5000", []string{"1.2.3.4"}, "ip:10.1.2.3"},
		{"direct client", proxies, "203.0.113.9:5000", nil, "ip:203.0.113.9"},
		{"untrusted peer's header ignored", proxies, "203.0.113.9:5000", []string{"1.2.3.4"}, "ip:203.0.113.9"},
		{"trusted proxy", proxies, "10.1.2.3:5000", []string{"1.2.3.4"}, "ip:1.2.3.4"},
		{"spoofed left part ignored", proxies, "10.1.2.3:5000", []string{"6.6.6.6, 1.2.3.4"}, "ip:1.2.3.4"},
		{"two proxies", proxies, "10.1.2.3:5000", []string{"1.2.3.4, 192.168.1.1"}, "ip:1.2.3.4"},
		{"header lines", proxies, "10.1.2.3:5000", []string{"6.6.6.6", "1.2.3.4", "10.9.9.9"}, "ip:1.2.3.4"},
		{"garbled hop", proxies, "10.1.2.3:5000", []string{"1.2.3.4, junk"}, "ip:10.1.2.3"},
		{"only proxies", proxies, "10.1.2.3:5000", []string{"10.0.0.7"}, "ip:10.0.0.7"},
		{"hop with a port", proxies, "10.1.2.3:5000", []string{"[2001:db8::7]:443"}, "ip:2001:db8::/64"},
		{"IPv6 by its /64", nil, "[2001:db8:1:2:3:4:5:6]:5000", nil, "ip:2001:db8:1:2::/64"},
		{"IPv6 proxy", proxies, "[fd00::1]:5000", []string{"198.51.100.1"}, "ip:198.51.100.1"},
		{"IPv4-mapped", nil, "[::ffff:198.51.100.1]:5000", nil, "ip:198.51.100.1"},
		{"no address", nil, "@", nil, "ip:unknown"},
	} {
		s := &Server{cfg: Config{TrustedProxies: tc.trusted}}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, h := range tc.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := ipKey(s.clientIP(r)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestRateLimitHTTP checks the budgets through the handler: 429 with
// Retry-After, as JSON for the API and a page for pages, per client, with
// health checks and static files free.
func TestRateLimitHTTP(t *testing.T) {
	clk := newClock()
	e := newEnv(t, func(c *Config) {
		c.RateLimits = RateLimits{API: 3, Upload: 2}
		c.clock = clk.Now
	})
	for i := range 3 {
		if resp, _ := e.do("GET", "/api/v1/crashes", "", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	resp, body := e.do("GET", "/api/v1/crashes", "", nil, nil)
	var msg struct{ Error string }
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "20" ||
		json.Unmarshal(body, &msg) != nil || !strings.Contains(msg.Error, "retry in 20 s") {
		t.Errorf("4th API request: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = e.do("GET", "/crashes", "", nil, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "20" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("try again in 20 seconds")) {
		t.Errorf("page over the limit: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/api/v1/health", "/static/style.css"} {
		if resp, _ := e.do("GET", p, "", nil, nil); resp.StatusCode != 200 {
			t.Errorf("%s over the limit: %d", p, resp.StatusCode)
		}
	}
	// A token is its own client, whatever its address.
	if resp, _ := e.do("GET", "/api/v1/crashes", e.read, nil, nil); resp.StatusCode != 200 {
		t.Errorf("read token from the same address: %d", resp.StatusCode)
	}
	// An invalid token is no identity: the address's budget.
	if resp, _ := e.do("GET", "/api/v1/crashes", "bct_nope", nil, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("invalid token from the limited address: %d", resp.StatusCode)
	}
	clk.Add(20 * time.Second)
	if resp, _ := e.do("GET", "/api/v1/crashes", "", nil, nil); resp.StatusCode != 200 {
		t.Errorf("after 20 s: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/api/v1/crashes", "", nil, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after 20 s, the second request: %d", resp.StatusCode)
	}

	// Uploads have their own budget, per token.
	for i := range 3 {
		status, _ := e.uploadRaw(e.upload, fleettest.Crash(fleettest.Kinds[0], i), "a.dmp", "pc")
		if want := []int{201, 201, 429}[i]; status != want {
			t.Errorf("upload %d: %d, want %d", i, status, want)
		}
	}
	resp, _ = e.do("POST", "/api/v1/dumps", e.upload, bytes.NewReader(fleettest.Crash(fleettest.Kinds[0], 3)), nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" {
		t.Errorf("upload over the limit: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if status, _ := e.uploadRaw(e.admin, fleettest.Crash(fleettest.Kinds[0], 4), "a.dmp", "pc"); status != 201 {
		t.Errorf("upload with another token: %d", status)
	}
	// Reading with the upload token is another budget.
	if resp, _ := e.do("GET", "/api/v1/uploads", e.upload, nil, nil); resp.StatusCode != 200 {
		t.Errorf("reading with the limited upload token: %d", resp.StatusCode)
	}
}

// TestSignInLimit checks that failed sign-ins are limited per address,
// that successful ones are not counted, that the upload form's token
// counts as a sign-in, and that the address is the one trusted proxies
// name.
func TestSignInLimit(t *testing.T) {
	clk := newClock()
	e := newEnv(t, func(c *Config) {
		c.RateLimits = RateLimits{Login: 3}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.clock = clk.Now
	})
	signIn := func(b *browser, token, from string) int {
		req := must(http.NewRequest("POST", e.ts.URL+"/login", strings.NewReader(url.Values{"csrf": {b.csrf}, "token": {token}}.Encode())))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if from != "" {
			req.Header.Set("X-Forwarded-For", from)
		}
		resp, _ := b.send(req)
		return resp.StatusCode
	}
	b := newBrowser(t, e)
	for i := range 5 {
		if st := signIn(b, e.read, ""); st != http.StatusSeeOther {
			t.Fatalf("good sign-in %d: %d", i, st)
		}
	}
	for i := range 3 {
		if st := signIn(b, "bct_wrong", ""); st != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i, st)
		}
	}
	if st := signIn(b, "bct_wrong", ""); st != http.StatusTooManyRequests {
		t.Errorf("4th wrong token: %d", st)
	}
	// The address is shut out for now, even with a good token…
	if st := signIn(b, e.read, ""); st != http.StatusTooManyRequests {
		t.Errorf("good token from a shut-out address: %d", st)
	}
	// …and so is the upload form's token.
	resp, _ := b.uploadForm(b.csrf, e.upload, fleettest.Crash(fleettest.Kinds[0], 0))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("upload form from a shut-out address: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Other clients behind the trusted proxy have their own budgets; what
	// a client adds to the header itself does not count.
	if st := signIn(b, "bct_wrong", "198.51.100.7"); st != http.StatusUnauthorized {
		t.Errorf("another client's wrong token: %d", st)
	}
	for range 2 {
		signIn(b, "bct_wrong", "198.51.100.7")
	}
	if st := signIn(b, "bct_wrong", "198.51.100.7"); st != http.StatusTooManyRequests {
		t.Errorf("that client's 4th wrong token: %d", st)
	}
	if st := signIn(b, "bct_wrong", "198.51.100.7, 198.51.100.8"); st != http.StatusUnauthorized {
		t.Errorf("a third client: %d", st)
	}
	if st := signIn(b, "bct_wrong", "198.51.100.8, 198.51.100.7"); st != http.StatusTooManyRequests {
		t.Errorf("the shut-out client naming another in front: %d", st)
	}
	// One failure is forgiven every 20 s.
	clk.Add(20 * time.Second)
	if st := signIn(b, "bct_wrong", ""); st != http.StatusUnauthorized {
		t.Errorf("after 20 s: %d", st)
	}
	if st := signIn(b, e.read, ""); st != http.StatusTooManyRequests {
		t.Errorf("after 20 s and a failure: %d", st)
	}
	// Wrong upload tokens in the upload form count too.
	clk.Add(time.Minute)
	for i := range 4 {
		resp, _ := b.uploadForm(b.csrf, "bct_wrong", fleettest.Crash(fleettest.Kinds[0], 1))
		if want := []int{401, 401, 401, 429}[i]; resp.StatusCode != want {
			t.Errorf("upload form with a wrong token, %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
}

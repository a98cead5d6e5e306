package server

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/report"
	"github.com/bugcheck/bugcheck/server/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one template set per page, each with the shared layout.
type pages struct {
	t map[string]*template.Template
}

var funcs = template.FuncMap{
	"bucketURL":    func(id string) string { return "/buckets/" + url.PathEscape(id) },
	"bucketAPIURL": func(id string) string { return "/api/" + APIVersion + "/buckets/" + url.PathEscape(id) },
	"crashURL":     func(sha string) string { return "/crashes/" + url.PathEscape(sha) },
	"machineURL":   func(name string) string { return "/machines/" + url.PathEscape(name) },
	"machineAPIURL": func(name string) string {
		return "/api/" + APIVersion + "/machines/" + url.PathEscape(name) + "/timeline"
	},
	"filterURL": func(key, value string) string { return "/crashes?" + url.Values{key: {value}}.Encode() },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}

func newPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		p.t[n[len("templates/"):]] = t
	}
	return p, nil
}

// page is what every page's layout needs.
type page struct {
	Title   string
	Query   string // the search box
	CSRF    string
	Refresh bool // the script reloads the page (upload in progress)
	Data    any

	User *store.Session // who is signed in, for the layout; set by render
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := s.pages.t[name]
	if !ok {
		http.Error(w, "no such page template", http.StatusInternalServerError)
		return
	}
	if p.User = sessionOf(r); p.User != nil && p.CSRF == "" {
		p.CSRF = csrfToken(w, r) // the layout's sign-out form
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		s.log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error.html", page{Title: http.StatusText(status), Data: msg})
}

// pageAuth lets a page through when anonymous reading is on or the
// request has a session (any role reads); otherwise it sends the browser
// to sign in, or refuses when the store keeps no sessions.
func (s *Server) pageAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case s.cfg.AnonymousRead || sessionOf(r) != nil:
			h(w, r)
		case s.sessions() == nil:
			s.errorPage(w, r, http.StatusUnauthorized, "This server does not allow anonymous reading; use the API with a token.")
		default:
			signIn(w, r)
		}
	}
}

func (s *Server) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.pageAuth(s.dashboard))
	mux.HandleFunc("GET /crashes", s.pageAuth(s.crashesPage))
	mux.HandleFunc("GET /crashes/{sha}", s.pageAuth(s.crashPage))
	mux.HandleFunc("GET /crashes/{sha}/dump", s.dumpAuth(s.serveDump))
	mux.HandleFunc("GET /buckets/{id...}", s.pageAuth(s.bucketPage))
	mux.HandleFunc("GET /machines/{name}", s.pageAuth(s.machinePage))
	mux.HandleFunc("GET /uploads/{id}", s.pageAuth(s.uploadPage))
	mux.HandleFunc("GET /uploads/{id}/file", s.dumpAuth(s.serveUpload))
	mux.HandleFunc("GET /upload", s.uploadForm)
	mux.HandleFunc("POST /upload", s.uploadPost)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.loginPost)
	mux.HandleFunc("POST /logout", s.logoutPost)
	mux.HandleFunc("GET /admin", s.adminAuth(s.adminGet))
	mux.HandleFunc("POST /admin/tokens", s.adminAuth(s.adminNewToken))
	mux.HandleFunc("POST /admin/tokens/{id}/delete", s.adminAuth(s.adminDeleteToken))
	mux.HandleFunc("POST /admin/reanalyze", s.adminAuth(s.adminReanalyze))
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "There is no page here.")
	})
}

// chart is a bar chart of crashes per day, drawn as SVG by the template.
type chart struct {
	Width, Height int
	Bars          []bar
	Max           int
	First, Last   string
}

type bar struct {
	X, Y, W, H float64
	Date       string
	Count      int
}

// chartOf draws days (sorted, gaps filled with zero) over at most the last
// maxDays days of the data.
func chartOf(days []store.Day, maxDays int) *chart {
	if len(days) == 0 {
		return nil
	}
	counts := map[string]int{}
	for _, d := range days {
		counts[d.Date] = d.Count
	}
	first, err1 := time.Parse(time.DateOnly, days[0].Date)
	last, err2 := time.Parse(time.DateOnly, days[len(days)-1].Date)
	if err1 != nil || err2 != nil || last.Before(first) {
		return nil
	}
	if min := last.AddDate(0, 0, -(maxDays - 1)); first.Before(min) {
		first = min
	}
	c := &chart{Width: 720, Height: 160}
	var all []store.Day
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		k := d.Format(time.DateOnly)
		all = append(all, store.Day{Date: k, Count: counts[k]})
		c.Max = max(c.Max, counts[k])
	}
	c.First, c.Last = all[0].Date, all[len(all)-1].Date
	w := float64(c.Width) / float64(len(all))
	for i, d := range all {
		h := 0.0
		if c.Max > 0 {
			h = float64(c.Height-20) * float64(d.Count) / float64(c.Max)
		}
		c.Bars = append(c.Bars, bar{X: float64(i) * w, Y: float64(c.Height) - h, W: max(w-1, 1), H: h, Date: d.Date, Count: d.Count})
	}
	return c
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d struct {
		Total      int
		Queue      store.QueueStats
		Chart      *chart
		Buckets    []store.Bucket
		NewBuckets []store.Bucket
		Drivers    []store.Count
		Machines   []store.Count
		Logs       []store.MachineLog
		Recent     []store.Crash
	}
	days, err := s.cfg.Store.PerDay(ctx, store.Filter{})
	if err == nil {
		d.Chart = chartOf(days, 90)
		d.Queue, err = s.cfg.Store.Queue(ctx)
	}
	if err == nil {
		d.Buckets, err = s.cfg.Store.Buckets(ctx, store.Filter{Limit: 10}, time.Time{})
	}
	if err == nil {
		d.NewBuckets, err = s.cfg.Store.Buckets(ctx, store.Filter{Limit: 10}, time.Now().AddDate(0, 0, -7))
	}
	if err == nil {
		d.Drivers, err = s.cfg.Store.Top(ctx, store.ByDriver, store.Filter{}, 10)
	}
	if err == nil {
		d.Machines, err = s.cfg.Store.Top(ctx, store.ByMachine, store.Filter{}, 10)
	}
	if err == nil {
		d.Recent, d.Total, err = s.cfg.Store.Crashes(ctx, store.Filter{Limit: 10})
	}
	if err == nil {
		d.Logs, err = s.machineLogs(ctx, 10)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "dashboard.html", page{Title: "Crashes", Data: d})
}

func (s *Server) crashesPage(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	list, total, err := s.cfg.Store.Crashes(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pageURL := func(off int) string {
		q := r.URL.Query()
		q.Set("offset", strconv.Itoa(off))
		return "/crashes?" + q.Encode()
	}
	var d struct {
		Crashes    []store.Crash
		Total      int
		From, To   int
		Prev, Next string
		Filter     store.Filter
	}
	d.Crashes, d.Total, d.Filter = list, total, f
	d.From, d.To = f.Offset+1, f.Offset+len(list)
	if f.Offset > 0 {
		d.Prev = pageURL(max(f.Offset-f.Limit, 0))
	}
	if f.Offset+len(list) < total {
		d.Next = pageURL(f.Offset + f.Limit)
	}
	s.render(w, r, http.StatusOK, "crashes.html", page{Title: "Crashes", Query: f.Query, Data: d})
}

func (s *Server) crashPage(w http.ResponseWriter, r *http.Request) {
	c, err := s.cfg.Store.Crash(r.Context(), r.PathValue("sha"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var rep analyze.Report
	if err := json.Unmarshal(c.Report, &rep); err != nil {
		s.fail(w, r, fmt.Errorf("crash %s: stored report: %w", c.SHA256, err))
		return
	}
	// The machine's System log may have arrived after the dump: its
	// evidence is matched now, as analyze --events would show it.
	if ev, err := s.crashEvidence(r.Context(), c); err != nil {
		s.log.Warn("matching a crash to its machine's event log", "crash", c.SHA256, "err", err)
	} else if ev != nil {
		rep.Events = ev
	}
	var text bytes.Buffer
	if err := report.Text(&text, &rep, report.TextOptions{}); err != nil {
		s.fail(w, r, err)
		return
	}
	d := struct {
		Crash       *store.Crash
		Report      *analyze.Report
		Text        string
		CanDownload bool
	}{c, &rep, text.String(), s.mayDownload(r)}
	s.render(w, r, http.StatusOK, "crash.html", page{Title: c.Member + " — " + c.Bucket, Data: d})
}

func (s *Server) bucketPage(w http.ResponseWriter, r *http.Request) {
	b, err := s.bucketDetail(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := struct {
		*bucketDetail
		Chart       *chart
		Explanation string
		Playbook    []analyze.Step
	}{bucketDetail: b, Chart: chartOf(b.Days, 180)}
	if len(b.Samples) > 0 {
		// The newest crash's report speaks for the bucket.
		if c, err := s.cfg.Store.Crash(r.Context(), b.Samples[0].SHA256); err == nil {
			var rep analyze.Report
			if json.Unmarshal(c.Report, &rep) == nil {
				d.Explanation, d.Playbook = rep.Explanation, rep.Playbook
			}
		}
	}
	s.render(w, r, http.StatusOK, "bucket.html", page{Title: "Bucket " + b.ID, Data: d})
}

func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var u *store.Upload
	if err == nil {
		u, err = s.cfg.Store.Upload(r.Context(), id)
	}
	var list []store.Crash
	if err == nil {
		list, _, err = s.cfg.Store.Crashes(r.Context(), store.Filter{UploadID: id, Limit: 1000})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := struct {
		Upload      *store.Upload
		Crashes     []store.Crash
		CanDownload bool
	}{u, list, s.mayDownload(r)}
	s.render(w, r, http.StatusOK, "upload_status.html", page{Title: "Upload " + u.Name, Refresh: u.Status == store.UploadQueued, Data: d})
}

// mayDownload reports whether the page request may download dumps: its
// session's role, or, without a session, anonymous reading, allows
// Config.DumpRole.
func (s *Server) mayDownload(r *http.Request) bool {
	if sess := sessionOf(r); sess != nil {
		return sess.Role.Allows(s.cfg.DumpRole)
	}
	return s.cfg.AnonymousRead && store.RoleRead.Allows(s.cfg.DumpRole)
}

// dumpAuth guards the pages' downloads of dumps and uploads: without a
// session that may, a browser is sent to sign in (or refused when it
// already has one).
func (s *Server) dumpAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case s.mayDownload(r):
			h(w, r)
		case sessionOf(r) == nil && s.sessions() != nil:
			signIn(w, r)
		default:
			s.errorPage(w, r, http.StatusForbidden, "Downloading dumps and uploads needs a sign-in with the "+string(s.cfg.DumpRole)+" role or higher: they hold the memory of the machines that crashed, or their event logs.")
		}
	}
}

// sessionUploads reports whether the request's session may upload.
func sessionUploads(r *http.Request) bool {
	sess := sessionOf(r)
	return sess != nil && sess.Role.Allows(store.RoleUpload)
}

// uploadForm is open to all: without an upload session it asks for a
// token, so machines' owners can upload without signing in.
func (s *Server) uploadForm(w http.ResponseWriter, r *http.Request) {
	d := struct{ NeedToken bool }{!sessionUploads(r)}
	s.render(w, r, http.StatusOK, "upload.html", page{Title: "Upload a dump", CSRF: csrfToken(w, r), Data: d})
}

// uploadPost takes the upload form: the CSRF field and, without a session
// that may upload, an upload token must come before the file, as the form
// orders them.
func (s *Server) uploadPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload+1<<20)
	var u *store.Upload
	checked := false // the form's token, once
	err := s.eachFile(r, func(fields map[string]string, p *multipart.Part) error {
		if !csrfOK(r, fields["csrf"]) {
			return errorf(http.StatusForbidden, "the form has expired or came from another site; reload the upload page")
		}
		if !sessionUploads(r) && !checked {
			// A pasted token is a sign-in: failures count against the
			// address's sign-in budget.
			ip := ipKey(s.clientIP(r))
			if ok, retry := s.limits.login.allow(ip); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(retry.Seconds())), 1)))
				return errorf(http.StatusTooManyRequests, "too many wrong tokens from your address; try again later")
			}
			role, err := s.tokenRole(r.Context(), fields["token"])
			if err != nil || !role.Allows(store.RoleUpload) {
				return errorf(http.StatusUnauthorized, "an upload token is required")
			}
			s.limits.login.refund(ip)
			checked = true
		}
		if u != nil {
			return nil // one file per form
		}
		var err error
		u, _, err = s.ingest(r.Context(), p, p.FileName(), fields["machine"])
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/uploads/"+strconv.FormatInt(u.ID, 10), http.StatusSeeOther)
}

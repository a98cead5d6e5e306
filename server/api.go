package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/server/store"
)

// APIVersion is the version in the API's paths (/api/v1/...).
const APIVersion = "v1"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, need store.Role, h http.HandlerFunc) {
		method, p, _ := strings.Cut(pattern, " ")
		s.apiRoutes = append(s.apiRoutes, pattern)
		mux.HandleFunc(method+" /api/"+APIVersion+p, func(w http.ResponseWriter, r *http.Request) {
			if s.authorize(w, r, need) {
				h(w, r)
			}
		})
	}
	api("POST /dumps", store.RoleUpload, s.apiUpload)
	api("GET /uploads", store.RoleRead, s.apiUploads)
	api("GET /uploads/{id}", store.RoleRead, s.apiUploadByID)
	api("GET /uploads/{id}/file", s.cfg.DumpRole, s.serveUpload)
	api("GET /crashes", store.RoleRead, s.apiCrashes)
	api("GET /crashes/{sha}", store.RoleRead, s.apiCrash)
	api("GET /crashes/{sha}/dump", s.cfg.DumpRole, s.serveDump)
	api("GET /buckets", store.RoleRead, s.apiBuckets)
	api("GET /buckets/{id...}", store.RoleRead, s.apiBucket)
	api("GET /drivers", store.RoleRead, s.apiTop(store.ByDriver, "drivers"))
	api("GET /machines", store.RoleRead, s.apiTop(store.ByMachine, "machines"))
	api("GET /machines/{name}/timeline", store.RoleRead, s.apiMachineTimeline)
	api("GET /stats", store.RoleRead, s.apiStats)
	api("POST /reanalyze", store.RoleAdmin, s.apiReanalyze)
	api("GET /tokens", store.RoleAdmin, s.apiTokens)
	api("POST /tokens", store.RoleAdmin, s.apiNewToken)
	api("DELETE /tokens/{id}", store.RoleAdmin, s.apiDeleteToken)
	mux.HandleFunc("GET /api/"+APIVersion+"/health", s.apiHealth)
	s.apiRoutes = append(s.apiRoutes, "GET /health")
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "no such API endpoint")
	})
	s.pageRoutes(mux)
	return secureHeaders(http.NewCrossOriginProtection().Handler(s.withSession(s.rateLimit(mux))))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// fail answers with err: its own status for an httpError, 404 for a
// missing row, else 500 (logged, not shown).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "internal error"
	var he *httpError
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		apiError(w, status, msg)
		return
	}
	s.errorPage(w, r, status, msg)
}

// uploadResponse is an upload and whether this request created it.
type uploadResponse struct {
	*store.Upload
	Created bool   `json:"created"`
	URL     string `json:"url"`
}

func newUploadResponse(u *store.Upload, created bool) uploadResponse {
	return uploadResponse{u, created, "/api/" + APIVersion + "/uploads/" + strconv.FormatInt(u.ID, 10)}
}

// apiUpload takes a dump or archive as the raw body, or as the "file"
// parts of a multipart form.
func (s *Server) apiUpload(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > s.cfg.MaxUpload+1<<20 {
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("upload larger than %d bytes", s.cfg.MaxUpload))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload+1<<20) // room for multipart framing
	machine := r.Header.Get("X-Bugcheck-Machine")
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		var out []uploadResponse
		err := s.eachFile(r, func(fields map[string]string, p *multipart.Part) error {
			m := machine
			if v := fields["machine"]; v != "" {
				m = v
			}
			u, created, err := s.ingest(r.Context(), p, p.FileName(), m)
			if err != nil {
				return err
			}
			out = append(out, newUploadResponse(u, created))
			return nil
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		status := http.StatusOK
		for _, u := range out {
			if u.Created {
				status = http.StatusCreated
			}
		}
		writeJSON(w, status, map[string]any{"uploads": out})
		return
	}
	name := r.Header.Get("X-Bugcheck-Filename")
	if name == "" {
		if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
			name = params["filename"]
		}
	}
	u, created, err := s.ingest(r.Context(), r.Body, name, machine)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp := newUploadResponse(u, created)
	w.Header().Set("Location", resp.URL)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, resp)
}

// eachFile streams a multipart form: short fields are collected, and fn
// is called for each "file" part with the fields that came before it.
func (s *Server) eachFile(r *http.Request, fn func(map[string]string, *multipart.Part) error) error {
	const maxFields, maxField, maxFiles = 20, 4096, 100
	mr, err := r.MultipartReader()
	if err != nil {
		return errorf(http.StatusBadRequest, "reading the form: %v", err)
	}
	fields := map[string]string{}
	files := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errorf(http.StatusBadRequest, "reading the form: %v", err)
		}
		if p.FileName() == "" {
			if len(fields) >= maxFields {
				return errorf(http.StatusBadRequest, "too many form fields")
			}
			b, err := io.ReadAll(io.LimitReader(p, maxField+1))
			if err != nil || len(b) > maxField {
				return errorf(http.StatusBadRequest, "form field %q too long or unreadable", p.FormName())
			}
			fields[p.FormName()] = string(b)
			continue
		}
		if p.FormName() != "file" {
			continue
		}
		if files++; files > maxFiles {
			return errorf(http.StatusBadRequest, "more than %d files in one request", maxFiles)
		}
		if err := fn(fields, p); err != nil {
			return err
		}
	}
	if files == 0 {
		return errorf(http.StatusBadRequest, `no "file" part in the form`)
	}
	return nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusNotFound, "not found")
	}
	return id, nil
}

func (s *Server) apiUploadByID(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		var u *store.Upload
		if u, err = s.cfg.Store.Upload(r.Context(), id); err == nil {
			writeJSON(w, http.StatusOK, u)
			return
		}
	}
	s.fail(w, r, err)
}

func (s *Server) apiUploads(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if sha := r.URL.Query().Get("sha256"); sha != "" {
		u, err := s.cfg.Store.UploadBySHA(r.Context(), sha)
		var list []store.Upload
		if err == nil {
			list = append(list, *u)
		} else if !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"uploads": list})
		return
	}
	list, err := s.cfg.Store.Uploads(r.Context(), f.Limit, f.Offset)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"uploads": orEmpty(list)})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// parseFilter reads the crash filter of a query string.
func parseFilter(r *http.Request) (store.Filter, error) {
	q := r.URL.Query()
	f := store.Filter{Bucket: q.Get("bucket"), Driver: q.Get("driver"), Machine: q.Get("machine"), Code: q.Get("code"), Query: q.Get("q")}
	var err error
	if f.Since, err = parseTime(q.Get("since"), false); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q.Get("until"), true); err != nil {
		return f, err
	}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"limit", &f.Limit, 1000}, {"offset", &f.Offset, 1 << 30}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > p.max {
				return f, errorf(http.StatusBadRequest, "%s must be a number from 0 to %d", p.name, p.max)
			}
			*p.dst = n
		}
	}
	return f, nil
}

// parseTime takes RFC 3339 or a date; a date as an upper bound means its
// whole day.
func parseTime(v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "bad time %q: want YYYY-MM-DD or RFC 3339", v)
	}
	if end {
		t = t.Add(24*time.Hour - time.Millisecond)
	}
	return t, nil
}

func (s *Server) apiCrashes(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, total, err := s.cfg.Store.Crashes(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": total, "crashes": orEmpty(list)})
}

// apiCrash answers with the crash's report: the JSON `bugcheck analyze
// --json` writes for the same dump.
func (s *Server) apiCrash(w http.ResponseWriter, r *http.Request) {
	c, err := s.cfg.Store.Crash(r.Context(), r.PathValue("sha"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(c.Report)
}

func (s *Server) apiBuckets(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	newSince, err := parseTime(r.URL.Query().Get("new_since"), false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.cfg.Store.Buckets(r.Context(), f, newSince)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"buckets": orEmpty(list)})
}

// bucketDetail is everything the bucket page shows.
type bucketDetail struct {
	store.Bucket
	Days     []store.Day   `json:"per_day"`
	Machines []store.Count `json:"machines"`
	Drivers  []store.Count `json:"drivers"`
	Versions []store.Count `json:"driver_versions"`
	Samples  []store.Crash `json:"sample_crashes"`
}

func (s *Server) bucketDetail(r *http.Request, id string) (*bucketDetail, error) {
	ctx := r.Context()
	f := store.Filter{Bucket: id}
	bs, err := s.cfg.Store.Buckets(ctx, f, time.Time{})
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, store.ErrNotFound
	}
	d := &bucketDetail{Bucket: bs[0]}
	if d.Days, err = s.cfg.Store.PerDay(ctx, f); err != nil {
		return nil, err
	}
	if d.Machines, err = s.cfg.Store.Top(ctx, store.ByMachine, f, 20); err != nil {
		return nil, err
	}
	if d.Drivers, err = s.cfg.Store.Top(ctx, store.ByDriver, f, 10); err != nil {
		return nil, err
	}
	if d.Versions, err = s.cfg.Store.Top(ctx, store.ByDriverVersion, f, 10); err != nil {
		return nil, err
	}
	f.Limit = 10
	if d.Samples, _, err = s.cfg.Store.Crashes(ctx, f); err != nil {
		return nil, err
	}
	d.Days, d.Machines, d.Drivers, d.Versions, d.Samples = orEmpty(d.Days), orEmpty(d.Machines), orEmpty(d.Drivers), orEmpty(d.Versions), orEmpty(d.Samples)
	return d, nil
}

func (s *Server) apiBucket(w http.ResponseWriter, r *http.Request) {
	d, err := s.bucketDetail(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) apiTop(d store.Dimension, name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := parseFilter(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		limit := f.Limit
		if limit == 0 {
			limit = 100
		}
		list, err := s.cfg.Store.Top(r.Context(), d, f, limit)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{name: orEmpty(list)})
	}
}

func (s *Server) apiStats(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	days, err := s.cfg.Store.PerDay(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := s.cfg.Store.Queue(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	total := 0
	for _, d := range days {
		total += d.Count
	}
	writeJSON(w, http.StatusOK, map[string]any{"crashes": total, "per_day": orEmpty(days), "queue": q})
}

func (s *Server) apiReanalyze(w http.ResponseWriter, r *http.Request) {
	n, err := s.cfg.Store.RequeueAll(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for range s.cfg.Workers {
		s.notify()
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Store.Tokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": orEmpty(list)})
}

func (s *Server) apiNewToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string     `json:"name"`
		Role store.Role `json:"role"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "want {\"name\": ..., \"role\": \"read|upload|admin\"}")
		return
	}
	if !req.Role.Valid() {
		apiError(w, http.StatusBadRequest, "role must be read, upload or admin")
		return
	}
	secret, t, err := NewToken(r.Context(), s.cfg.Store, cleanLabel(req.Name), req.Role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": secret, "id": t.ID, "name": t.Name, "role": t.Role})
}

func (s *Server) apiDeleteToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.cfg.Store.DeleteToken(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiHealth(w http.ResponseWriter, r *http.Request) {
	q, err := s.cfg.Store.Queue(r.Context())
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "api": APIVersion, "queue": q})
}

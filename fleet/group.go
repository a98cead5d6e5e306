package fleet

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/bugcode"
)

// Filter selects crashes. The zero Filter selects everything.
type Filter struct {
	Since, Until time.Time // crash time within [Since, Until]; a crash with no time fails either bound
	Drivers      []string  // culprit module names, case-insensitive, with path.Match wildcards
	Codes        []uint32  // bug check codes; 0x7E also matches its _M twin 0x1000007E
}

// Match reports whether the report passes the filter.
func (f *Filter) Match(r *analyze.Report) bool {
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t, ok := CrashTime(r)
		if !ok || (!f.Since.IsZero() && t.Before(f.Since)) || (!f.Until.IsZero() && t.After(f.Until)) {
			return false
		}
	}
	if len(f.Drivers) > 0 {
		mod := strings.ToLower(r.Culprit.Module)
		if !slices.ContainsFunc(f.Drivers, func(d string) bool {
			ok, err := path.Match(strings.ToLower(d), mod)
			return err == nil && ok && mod != ""
		}) {
			return false
		}
	}
	if len(f.Codes) > 0 {
		code, ok := parseHex32(r.BugCheck.Code)
		if !ok || !slices.ContainsFunc(f.Codes, func(c uint32) bool { return bugcode.Base(c) == bugcode.Base(code) }) {
			return false
		}
	}
	return true
}

func parseHex32(s string) (uint32, bool) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
	return uint32(v), err == nil
}

// CrashTime returns the report's crash time, if the dump records one.
func CrashTime(r *analyze.Report) (time.Time, bool) {
	if r.CrashTime == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, r.CrashTime)
	return t, err == nil
}

// Machine names the machine a result came from. Small memory dumps do not
// carry the computer's name, so it is the folder the dump was found in,
// less a last Minidump element (pc042/Minidump/a.dmp is pc042); for a
// member of an archive, the folder inside the archive, or without one the
// archive's own folder (pc042/WER-1.cab is pc042 too).
func Machine(r *Result) string {
	if r.Machine != "" {
		return r.Machine
	}
	return r.Dir
}

// DriverVersion names the culprit's version: the file version from its
// image when known, else its image timestamp.
func DriverVersion(r *analyze.Report) string {
	c := r.Culprit
	switch {
	case c.Module == "":
		return ""
	case c.FileVersion != "":
		return c.FileVersion
	case c.Version != "":
		return "timestamp " + c.Version
	}
	return ""
}

// Count is a name and how often it occurred.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Bucket is every crash with one bucket ID.
type Bucket struct {
	ID        string    `json:"bucket"`
	Count     int       `json:"crashes"`
	Code      string    `json:"bugcheck_code"`
	Name      string    `json:"bugcheck_name"`
	Summary   string    `json:"summary"`
	First     time.Time `json:"first_seen,omitzero"`
	Last      time.Time `json:"last_seen,omitzero"`
	Machines  []string  `json:"machines"`
	Drivers   []Count   `json:"top_drivers"`
	Versions  []Count   `json:"top_driver_versions"`
	Example   string    `json:"example_dump"`
	NoTime    int       `json:"crashes_without_time,omitempty"`
	machineOf map[string]bool
	drivers   map[string]int
	versions  map[string]int
}

// Day is the number of crashes on one UTC day.
type Day struct {
	Date  string `json:"date"` // YYYY-MM-DD
	Count int    `json:"crashes"`
}

// Grouper folds analysed crashes into buckets. Its memory grows with the
// number of buckets and machines, not with the number of dumps.
type Grouper struct {
	Filter  Filter
	Top     int // drivers and versions kept per bucket; 0 means 5
	buckets map[string]*Bucket
	days    map[string]int
	skipped int
}

// NewGrouper returns a Grouper applying f.
func NewGrouper(f Filter) *Grouper {
	return &Grouper{Filter: f, buckets: map[string]*Bucket{}, days: map[string]int{}}
}

// Add counts an analysed result; failures, duplicates and crashes the
// filter rejects are left out. It reports whether the result was counted.
func (g *Grouper) Add(res *Result) bool {
	r := res.Report
	if res.Status != StatusOK || r == nil {
		return false
	}
	if !g.Filter.Match(r) {
		g.skipped++
		return false
	}
	b := g.buckets[r.Bucket]
	if b == nil {
		b = &Bucket{ID: r.Bucket, Code: r.BugCheck.Code, Name: r.BugCheck.Name, Summary: r.Summary, Example: res.Name,
			machineOf: map[string]bool{}, drivers: map[string]int{}, versions: map[string]int{}}
		g.buckets[r.Bucket] = b
	}
	b.Count++
	if t, ok := CrashTime(r); ok {
		if b.First.IsZero() || t.Before(b.First) {
			b.First = t
		}
		if t.After(b.Last) {
			b.Last = t
		}
		g.days[t.UTC().Format(time.DateOnly)]++
	} else {
		b.NoTime++
	}
	b.machineOf[Machine(res)] = true
	if m := r.Culprit.Module; m != "" {
		b.drivers[m]++
		if v := DriverVersion(r); v != "" {
			b.versions[m+" "+v]++
		}
	}
	return true
}

// Skipped returns the number of analysed crashes the filter rejected.
func (g *Grouper) Skipped() int { return g.skipped }

// Buckets returns the buckets by impact: most machines first, then most
// crashes, then the most recent, then by ID.
func (g *Grouper) Buckets() []Bucket {
	top := g.Top
	if top <= 0 {
		top = 5
	}
	out := make([]Bucket, 0, len(g.buckets))
	for _, b := range g.buckets {
		c := *b
		c.Machines = make([]string, 0, len(b.machineOf))
		for m := range b.machineOf {
			c.Machines = append(c.Machines, m)
		}
		slices.Sort(c.Machines)
		c.Drivers = topCounts(b.drivers, top)
		c.Versions = topCounts(b.versions, top)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Bucket) int {
		return cmp.Or(
			cmp.Compare(len(b.Machines), len(a.Machines)),
			cmp.Compare(b.Count, a.Count),
			b.Last.Compare(a.Last),
			cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Days returns the crashes per UTC day, oldest first, with the days
// between that had none.
func (g *Grouper) Days() []Day {
	if len(g.days) == 0 {
		return nil
	}
	var first, last time.Time
	for d := range g.days {
		t, _ := time.Parse(time.DateOnly, d)
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	// A stray clock (a dump dated 1601) must not make a chart of a million
	// empty days: list only the days with crashes when the span is long.
	if last.Sub(first) > 3*366*24*time.Hour {
		out := make([]Day, 0, len(g.days))
		for d, n := range g.days {
			out = append(out, Day{d, n})
		}
		slices.SortFunc(out, func(a, b Day) int { return cmp.Compare(a.Date, b.Date) })
		return out
	}
	var out []Day
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		d := t.Format(time.DateOnly)
		out = append(out, Day{d, g.days[d]})
	}
	return out
}

func topCounts(m map[string]int, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// String is a one-line description, for logs.
func (b Bucket) String() string {
	return fmt.Sprintf("%s: %d crashes on %d machines", b.ID, b.Count, len(b.Machines))
}

package crashlog

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/evtx"
	"github.com/bugcheck/bugcheck/kdump"
)

// ReadFile reads every event of an .evtx file. Corruption the reader
// skipped comes back as warnings; err is set only when the file cannot be
// read as an event log at all.
func ReadFile(path string) ([]Event, []*evtx.Warning, error) {
	f, err := evtx.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	var out []Event
	it := f.Records()
	for it.Next() {
		out = append(out, FromEVTX(it.Event(), name))
	}
	return out, f.Warnings, it.Err()
}

// ReadTimeline reads several logs (a System log and its archives) into one
// timeline. Files that cannot be read are reported in err, joined; the
// events of the others still count.
func ReadTimeline(paths []string, opt Options) (*Timeline, []*evtx.Warning, error) {
	var all []Event
	var warns []*evtx.Warning
	var errs []error
	for _, p := range paths {
		evs, w, err := ReadFile(p)
		all = append(all, evs...)
		warns = append(warns, w...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return Build(all, opt), warns, errors.Join(errs...)
}

// Dump is what correlation needs to know of an analysed crash dump.
type Dump struct {
	Path   string    // file path or name (C:\Windows\Minidump\040612-50390-01.dmp)
	Time   time.Time // crash time from the dump header; zero when not recorded
	Code   uint32    // bug check code
	Params [4]uint64 // bug check parameters
}

// DumpFromHeader makes a Dump from a dump file's header.
func DumpFromHeader(path string, h *kdump.Header) Dump {
	return Dump{Path: path, Time: h.SystemTime, Code: h.BugCheckCode, Params: h.BugCheckParameters}
}

// Match is the log evidence found for one dump.
type Match struct {
	Dump  Dump   `json:"dump"`
	Crash *Crash `json:"crash,omitempty"` // nil when the log has no crash for this dump
	// How says why they match: "dump file name", "report id",
	// "code, parameters and time", "code and time".
	How string `json:"how,omitempty"`
	// Note explains a missing or doubtful match.
	Note string `json:"note,omitempty"`
}

// Correlation is the result of matching dumps to a timeline.
type Correlation struct {
	Matches []Match  `json:"matches"`
	NoDump  []*Crash `json:"crashes_without_dump"` // crashes none of the dumps belongs to
}

// CorrelateOptions tune matching.
type CorrelateOptions struct {
	// Tolerance is how far a dump's crash time may lie outside the window
	// the log gives for the crash (between the last sign of life and the
	// reboot). Clocks drift and 6008's time is the last heartbeat, not the
	// crash. Default 10 minutes.
	Tolerance time.Duration
}

// Correlate matches each dump to the crash the log recorded for it: by the
// dump file name the WER 1001 event gives (minidumps are named after the
// report id), else by bug check code and time. It also lists the crashes
// no dump belongs to: power losses and bug checks whose dump was not
// written or not supplied.
func Correlate(t *Timeline, dumps []Dump, opt CorrelateOptions) *Correlation {
	if opt.Tolerance <= 0 {
		opt.Tolerance = 10 * time.Minute
	}
	res := &Correlation{Matches: []Match{}, NoDump: []*Crash{}}
	used := map[*Crash]bool{}
	matches := make([]Match, len(dumps))
	// Exact names first, so a name match is never stolen by a time match.
	for i, d := range dumps {
		matches[i].Dump = d
		if c, how := byName(t, d, used); c != nil {
			matches[i].Crash, matches[i].How = c, how
			used[c] = true
		}
	}
	for i, d := range dumps {
		if matches[i].Crash != nil {
			continue
		}
		c, how, note := byCodeAndTime(t, d, used, opt.Tolerance)
		matches[i].Crash, matches[i].How, matches[i].Note = c, how, note
		if c != nil {
			used[c] = true
		}
	}
	res.Matches = matches
	for _, c := range t.Crashes {
		if !used[c] {
			res.NoDump = append(res.NoDump, c)
		}
	}
	return res
}

// base returns the file name of a Windows or Unix path.
func base(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func byName(t *Timeline, d Dump, used map[*Crash]bool) (*Crash, string) {
	name := strings.ToLower(base(d.Path))
	if name == "" {
		return nil, ""
	}
	for _, c := range t.Crashes {
		if used[c] || c.DumpPath == "" {
			continue
		}
		// MEMORY.DMP is overwritten by every crash: its name proves nothing.
		dn := strings.ToLower(base(c.DumpPath))
		if dn == name && dn != "memory.dmp" && (!c.BugCheck || c.Code == d.Code) {
			return c, "dump file name"
		}
		if c.ReportID != "" && strings.HasPrefix(name, strings.ToLower(c.ReportID)) && (!c.BugCheck || c.Code == d.Code) {
			return c, "report id"
		}
	}
	return nil, ""
}

func byCodeAndTime(t *Timeline, d Dump, used map[*Crash]bool, tol time.Duration) (*Crash, string, string) {
	type cand struct {
		c      *Crash
		dist   time.Duration
		params bool
	}
	var cs []cand
	near := ""
	for _, c := range t.Crashes {
		if d.Time.IsZero() {
			continue
		}
		from := c.LastAlive
		if from.IsZero() {
			from = c.Reboot.Add(-24 * time.Hour)
		}
		if !within(d.Time, from.Add(-tol), c.Reboot.Add(tol)) {
			continue
		}
		if !c.BugCheck {
			if near == "" {
				near = fmt.Sprintf("the log has a stop at %s without a bug check code", c.Time.UTC().Format(time.RFC3339))
			}
			continue
		}
		if c.Code != d.Code {
			near = fmt.Sprintf("the log has a crash at %s, but with bug check 0x%08X, not 0x%08X", c.Time.UTC().Format(time.RFC3339), c.Code, d.Code)
			continue
		}
		if used[c] {
			near = fmt.Sprintf("the crash the log has at %s already belongs to another dump", c.Time.UTC().Format(time.RFC3339))
			continue
		}
		dist := d.Time.Sub(c.Time)
		if dist < 0 {
			dist = -dist
		}
		cs = append(cs, cand{c, dist, c.Params == d.Params})
	}
	if len(cs) == 0 {
		if near == "" {
			near = "no crash in the log around the dump's crash time"
			if d.Time.IsZero() {
				near = "the dump records no crash time and its file name matches no bug check report"
			} else if t.Events > 0 && (d.Time.Before(t.First) || d.Time.After(t.Last)) {
				near = fmt.Sprintf("the dump's crash time %s is outside the log (%s to %s)", d.Time.UTC().Format(time.RFC3339),
					t.First.UTC().Format(time.RFC3339), t.Last.UTC().Format(time.RFC3339))
			}
		}
		return nil, "", near
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].params != cs[j].params {
			return cs[i].params
		}
		return cs[i].dist < cs[j].dist
	})
	if cs[0].params {
		return cs[0].c, "code, parameters and time", ""
	}
	return cs[0].c, "code and time", "the bug check parameters differ from the log's"
}

package server

// Machines' System event logs: .evtx uploads are read into the store's
// events (store.EventStore, optional), and each machine's crash timeline
// is rebuilt from them with package crashlog and matched to the dumps the
// machine sent, as `bugcheck events` and `bugcheck analyze --events` do.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/crashlog"
	"github.com/bugcheck/bugcheck/evtx"
	"github.com/bugcheck/bugcheck/server/store"
)

// Bounds of a machine's timeline: the newest events and dumps it is built
// from.
const (
	maxTimelineEvents = 200_000
	maxTimelineDumps  = 500
)

// events returns the store's event log support, or nil.
func (s *Server) events() store.EventStore {
	es, _ := s.cfg.Store.(store.EventStore)
	return es
}

// runEventJob reads an event log upload into the machine's stored events.
func (s *Server) runEventJob(ctx context.Context, j *store.Job, u *store.Upload) {
	es := s.events()
	if es == nil {
		if err := s.cfg.Store.CompleteJob(ctx, j, nil, store.UploadFailed, "this server's store does not keep event logs"); err != nil {
			s.log.Error("storing an analysis", "upload", j.UploadID, "err", err)
		}
		return
	}
	machine, events, errText, err := s.readEventLog(ctx, u)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if j.Attempts < maxAttempts {
			s.log.Warn("reading an event log failed; will retry", "upload", j.UploadID, "attempt", j.Attempts, "err", err)
			if rerr := s.cfg.Store.RetryJob(ctx, j, err.Error(), time.Duration(1<<j.Attempts)*time.Second); rerr != nil {
				s.log.Error("requeueing a job", "upload", j.UploadID, "err", rerr)
			}
			return
		}
		errText, events = err.Error(), nil
	}
	status := store.UploadDone
	if len(events) == 0 {
		status = store.UploadFailed
		if errText == "" {
			errText = "the event log holds no readable event"
		}
	}
	if status == store.UploadFailed {
		// A log that failed stores none of its events.
		machine, events = u.Machine, nil
	}
	if err := es.CompleteEventJob(ctx, j, machine, events, status, errText); err != nil {
		s.log.Error("storing an event log", "upload", j.UploadID, "err", err)
		return
	}
	s.log.Info("read event log", "upload", j.UploadID, "machine", machine, "events", len(events), "status", status)
}

// readEventLog reads every event of an uploaded log. The machine is the
// one the upload named, else the computer most of the log's events name.
// note reports damage that was skipped, or why nothing was read; err is
// returned only for trouble worth a retry.
func (s *Server) readEventLog(ctx context.Context, u *store.Upload) (machine string, events []store.LogEvent, note string, err error) {
	rd, err := s.cfg.Blobs.Open(ctx, u.BlobKey())
	if err != nil {
		return "", nil, "", transientError{err}
	}
	defer rd.Close()
	var warns []*evtx.Warning
	func() {
		defer func() {
			if p := recover(); p != nil {
				events, note = nil, fmt.Sprintf("internal error reading the event log: %v", p)
			}
		}()
		f, ferr := evtx.NewFile(rd, rd.Size(), u.Name)
		if ferr != nil {
			note = "not a readable event log: " + errText(ferr)
			return
		}
		it := f.Records()
		for it.Next() {
			if len(events)%1024 == 0 && ctx.Err() != nil {
				err = ctx.Err()
				return
			}
			events = append(events, logEvent(crashlog.FromEVTX(it.Event(), u.Name)))
		}
		if it.Err() != nil {
			err = transientError{it.Err()}
		}
		warns = f.Warnings
	}()
	if err != nil {
		return "", nil, "", err
	}
	if len(warns) > 0 && note == "" {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%d damaged chunks or records skipped", len(warns))
		for i, w := range warns[:min(len(warns), 3)] {
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(&sb, "%soffset %#x: %s", sep, w.Offset, w.Msg)
		}
		note = sb.String()
	}
	machine = u.Machine
	if machine == "" {
		machine = commonComputer(events)
	}
	if machine == "" && len(events) > 0 {
		return "", nil, "the event log names no computer: upload it with a machine name", nil
	}
	for i := range events {
		events[i].Machine, events[i].UploadID = machine, u.ID
	}
	return machine, events, note, nil
}

// commonComputer is the computer name most events carry.
func commonComputer(events []store.LogEvent) string {
	n := map[string]int{}
	best := ""
	for _, e := range events {
		c := cleanLabel(e.Computer)
		if c == "" {
			continue
		}
		n[c]++
		if n[c] > n[best] || (n[c] == n[best] && c < best) {
			best = c
		}
	}
	return best
}

func logEvent(e crashlog.Event) store.LogEvent {
	return store.LogEvent{File: e.File, RecordID: e.RecordID, Time: e.Time.UTC(), Provider: e.Provider, Source: e.Source,
		EventID: e.EventID, Level: e.Level, Computer: e.Computer, Data: e.Data}
}

func crashlogEvent(e store.LogEvent) crashlog.Event {
	return crashlog.Event{File: e.File, RecordID: e.RecordID, Time: e.Time, Provider: e.Provider, Source: e.Source,
		EventID: e.EventID, Level: e.Level, Computer: e.Computer, Data: e.Data}
}

// machineLog is a machine's timeline with its dumps matched to it.
type machineLog struct {
	Machine  string
	Timeline *crashlog.Timeline // nil when no log of the machine is stored
	Dumps    []store.Crash      // the machine's dumps, newest received first
	Corr     *crashlog.Correlation
}

// machineLog builds the timeline of machine from its stored events and
// matches its dumps to it. It returns store.ErrNotFound when the server
// knows neither a log nor a dump of the machine.
func (s *Server) machineLog(ctx context.Context, machine string) (*machineLog, error) {
	ml := &machineLog{Machine: machine}
	var err error
	if ml.Dumps, _, err = s.cfg.Store.Crashes(ctx, store.Filter{Machine: machine, Limit: maxTimelineDumps}); err != nil {
		return nil, err
	}
	if es := s.events(); es != nil {
		evs, err := es.MachineEvents(ctx, machine, maxTimelineEvents)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			ce := make([]crashlog.Event, len(evs))
			for i, e := range evs {
				ce[i] = crashlogEvent(e)
			}
			ml.Timeline = crashlog.Build(ce, crashlog.Options{})
		}
	}
	if ml.Timeline == nil && len(ml.Dumps) == 0 {
		return nil, store.ErrNotFound
	}
	if ml.Timeline != nil {
		dumps := make([]crashlog.Dump, len(ml.Dumps))
		for i := range ml.Dumps {
			if dumps[i], err = s.dumpOf(ctx, &ml.Dumps[i]); err != nil {
				return nil, err
			}
		}
		ml.Corr = crashlog.Correlate(ml.Timeline, dumps, crashlog.CorrelateOptions{})
	}
	return ml, nil
}

// dumpOf is what correlation needs of a stored crash: the parameters come
// from its report.
func (s *Server) dumpOf(ctx context.Context, c *store.Crash) (crashlog.Dump, error) {
	d := crashlog.Dump{Path: c.Member, Time: c.CrashTime}
	code, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(c.Code), "0x"), 16, 32)
	if err == nil {
		d.Code = uint32(code)
	}
	full, err := s.cfg.Store.Crash(ctx, c.SHA256)
	if err != nil {
		return d, err
	}
	var rep struct {
		BugCheck struct {
			Parameters []string `json:"parameters"`
		} `json:"bugcheck"`
	}
	if json.Unmarshal(full.Report, &rep) == nil {
		for i, p := range rep.BugCheck.Parameters {
			if i < len(d.Params) {
				d.Params[i], _ = strconv.ParseUint(strings.TrimPrefix(strings.ToLower(p), "0x"), 16, 64)
			}
		}
	}
	return d, nil
}

// evidence is the log's evidence for the dump sha, as `bugcheck analyze
// --events` reports it; nil when no log of the machine is stored.
func (ml *machineLog) evidence(sha string) *analyze.EventEvidence {
	if ml.Corr == nil {
		return nil
	}
	for i, m := range ml.Corr.Matches {
		if ml.Dumps[i].SHA256 == sha {
			return crashlog.Evidence(m, ml.Timeline.Crashes, ml.Corr.NoDump)
		}
	}
	return nil
}

// crashEvidence is the log evidence of a stored crash, or nil.
func (s *Server) crashEvidence(ctx context.Context, c *store.Crash) (*analyze.EventEvidence, error) {
	if s.events() == nil || c.Machine == "" {
		return nil, nil
	}
	ml, err := s.machineLog(ctx, c.Machine)
	if err != nil {
		return nil, err
	}
	if ml.Corr != nil && !ml.has(c.SHA256) {
		// Older than the newest dumps the timeline is matched with:
		// match it on its own.
		d, err := s.dumpOf(ctx, c)
		if err != nil {
			return nil, err
		}
		ml.Dumps = append(ml.Dumps, *c)
		dumps := make([]crashlog.Dump, 0, len(ml.Corr.Matches)+1)
		for _, m := range ml.Corr.Matches {
			dumps = append(dumps, m.Dump)
		}
		ml.Corr = crashlog.Correlate(ml.Timeline, append(dumps, d), crashlog.CorrelateOptions{})
	}
	return ml.evidence(c.SHA256), nil
}

func (ml *machineLog) has(sha string) bool {
	for _, d := range ml.Dumps {
		if d.SHA256 == sha {
			return true
		}
	}
	return false
}

// Timeline is the JSON of GET /machines/{name}/timeline.
type Timeline struct {
	Machine string `json:"machine"`
	// EventLog is false when no System log of the machine is stored (or
	// the store keeps none); the timeline then lists only its dumps.
	EventLog bool            `json:"event_log"`
	Events   int             `json:"events"`
	First    time.Time       `json:"first_event,omitzero"`
	Last     time.Time       `json:"last_event,omitzero"`
	Entries  []TimelineEntry `json:"timeline"`
	Crashes  []TimelineCrash `json:"crashes"`
	Dumps    []TimelineDump  `json:"dumps"`
}

// TimelineEntry is one line of the timeline: crashlog's entry, and for a
// crash the dump that belongs to it.
type TimelineEntry struct {
	crashlog.Entry
	Dump string `json:"dump_sha256,omitempty"`
}

// TimelineCrash is a crash the log recorded, with the dump matched to it
// and the log's hardware verdict.
type TimelineCrash struct {
	Crash    *crashlog.Crash  `json:"crash"`
	Dump     *TimelineDump    `json:"dump,omitempty"` // nil: no dump of it was uploaded
	Hardware crashlog.Verdict `json:"hardware"`
}

// TimelineDump is an uploaded dump of the machine and the log's crash it
// belongs to.
type TimelineDump struct {
	SHA256    string    `json:"sha256"`
	File      string    `json:"file"`
	CrashTime time.Time `json:"crash_time,omitzero"`
	Code      string    `json:"bugcheck_code"`
	CodeName  string    `json:"bugcheck_name"`
	Bucket    string    `json:"bucket"`
	Driver    string    `json:"driver,omitempty"`
	Matched   bool      `json:"matched"`        // the log recorded this crash
	How       string    `json:"how,omitempty"`  // how it was matched
	Note      string    `json:"note,omitempty"` // why it was not, or a doubt
	LogCrash  time.Time `json:"log_crash,omitzero"`
}

// timeline turns a machineLog into its JSON shape.
func (ml *machineLog) timeline() *Timeline {
	t := &Timeline{Machine: ml.Machine, Entries: []TimelineEntry{}, Crashes: []TimelineCrash{}, Dumps: make([]TimelineDump, 0, len(ml.Dumps))}
	dumpOf := map[*crashlog.Crash]*TimelineDump{} // points into t.Dumps, which never grows past its capacity
	for i, c := range ml.Dumps {
		d := TimelineDump{SHA256: c.SHA256, File: c.Member, CrashTime: c.CrashTime, Code: c.Code, CodeName: c.CodeName, Bucket: c.Bucket, Driver: c.Driver}
		if ml.Corr != nil {
			m := ml.Corr.Matches[i]
			d.Matched, d.How, d.Note = m.Crash != nil, m.How, m.Note
			if m.Crash != nil {
				d.LogCrash = m.Crash.Time
			}
		}
		t.Dumps = append(t.Dumps, d)
		if ml.Corr != nil && ml.Corr.Matches[i].Crash != nil {
			dumpOf[ml.Corr.Matches[i].Crash] = &t.Dumps[len(t.Dumps)-1]
		}
	}
	tl := ml.Timeline
	if tl == nil {
		return t
	}
	t.EventLog, t.Events, t.First, t.Last = true, tl.Events, tl.First, tl.Last
	for _, en := range tl.Entries {
		te := TimelineEntry{Entry: en}
		if d := dumpOf[en.Crash]; en.Crash != nil && d != nil {
			te.Dump = d.SHA256
		}
		t.Entries = append(t.Entries, te)
	}
	for _, c := range tl.Crashes {
		t.Crashes = append(t.Crashes, TimelineCrash{Crash: c, Dump: dumpOf[c], Hardware: crashlog.HardwareVerdict(c, tl.Crashes)})
	}
	return t
}

func (s *Server) apiMachineTimeline(w http.ResponseWriter, r *http.Request) {
	ml, err := s.machineLog(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ml.timeline())
}

func (s *Server) machinePage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ml, err := s.machineLog(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := struct {
		*Timeline
		Stored    bool // the store keeps event logs
		All       bool // routine entries shown too
		Hidden    int  // routine entries not shown
		Shown     []TimelineEntry
		NoDump    []TimelineCrash
		Unmatched []TimelineDump
	}{Timeline: ml.timeline(), Stored: s.events() != nil, All: r.URL.Query().Get("all") != ""}
	// Like `bugcheck events` without --all, the page leaves out daily
	// uptime reports and user-mode service installations.
	for _, en := range d.Entries {
		if !d.All && (en.Kind == crashlog.KindUptime || en.Kind == crashlog.KindService) {
			d.Hidden++
			continue
		}
		d.Shown = append(d.Shown, en)
	}
	for _, c := range d.Crashes {
		if c.Dump == nil {
			d.NoDump = append(d.NoDump, c)
		}
	}
	if d.EventLog {
		for _, dm := range d.Dumps {
			if !dm.Matched {
				d.Unmatched = append(d.Unmatched, dm)
			}
		}
	}
	s.render(w, r, http.StatusOK, "machine.html", page{Title: "Machine " + name, Data: d})
}

// machineLogs lists machines with stored logs, for the dashboard; nil
// when the store keeps none.
func (s *Server) machineLogs(ctx context.Context, limit int) ([]store.MachineLog, error) {
	es := s.events()
	if es == nil {
		return nil, nil
	}
	return es.EventMachines(ctx, limit)
}

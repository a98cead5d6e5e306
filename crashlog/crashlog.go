// Package crashlog turns Windows System-log events into crash evidence: a
// timeline of boots, clean and unexpected shutdowns, bug checks (with code,
// parameters, dump path and report id, or why no dump was written),
// hardware (WHEA) and storage errors, and driver installations, and it
// matches crashes to the dumps bugcheck analysed.
//
// The events it understands:
//   - WER-SystemErrorReporting 1001 (source BugCheck): the bug check code and
//     parameters, the dump file and the report id, logged after the reboot;
//   - Kernel-Power 41: the system rebooted without shutting down cleanly,
//     with the bug check code if there was one (0: power loss or hard reset);
//   - EventLog 6008 (the previous shutdown was unexpected, and when), 6005 and
//     6006 (event log started and stopped), 6009 (OS version at boot), 6013
//     (uptime), Kernel-General 12 and 13 (OS start and stop);
//   - WHEA-Logger 1, 17, 18, 19, 20, 46, 47: corrected or fatal hardware errors;
//   - volmgr 45, 46, 49, 161 (dump creation failed) and 162 (dump written);
//   - errors and warnings of disk, Ntfs, stornvme, storahci and other storage
//     drivers;
//   - UserPnp 20001, 20003 and Service Control Manager 7045: drivers and
//     services installed or updated.
//
// Events come from evtx files (FromEVTX, ReadFiles) or are built directly.
package crashlog

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/evtx"
)

// Event is the part of an event record crash evidence needs.
type Event struct {
	File     string // log file the event came from
	RecordID uint64
	Time     time.Time // TimeCreated, UTC
	Provider string    // provider name, e.g. Microsoft-Windows-Kernel-Power
	Source   string    // classic event source name, when the provider has one (BugCheck)
	EventID  uint16
	Level    uint8             // 1 critical, 2 error, 3 warning, 4 information (0: unknown)
	Computer string            // machine name
	Data     map[string]string // EventData/UserData fields; unnamed ones are Data[0], Data[1]...
}

// Ref names the event behind an entry.
func (e *Event) Ref() EventRef {
	return EventRef{File: e.File, RecordID: e.RecordID, Provider: e.Provider, EventID: e.EventID}
}

// EventRef points to an event record.
type EventRef struct {
	File     string `json:"file,omitempty"`
	RecordID uint64 `json:"record_id"`
	Provider string `json:"provider"`
	EventID  uint16 `json:"event_id"`
}

func (r EventRef) String() string {
	return fmt.Sprintf("%s %d, record %d", shortProvider(r.Provider), r.EventID, r.RecordID)
}

// shortProvider drops the Microsoft-Windows- prefix for display.
func shortProvider(p string) string {
	return strings.TrimPrefix(p, "Microsoft-Windows-")
}

// FromEVTX converts an evtx event; file names its log.
func FromEVTX(e *evtx.Event, file string) Event {
	ev := Event{
		File:     file,
		RecordID: e.RecordID,
		Time:     e.TimeCreated,
		Provider: e.Provider,
		Source:   e.EventSourceName,
		EventID:  e.EventID,
		Level:    e.Level,
		Computer: e.Computer,
		Data:     make(map[string]string, len(e.Data)),
	}
	if ev.Time.IsZero() {
		ev.Time = e.Written
	}
	for _, f := range e.Data {
		if _, dup := ev.Data[f.Name]; !dup {
			ev.Data[f.Name] = f.Value.String()
		}
	}
	return ev
}

// Kind classifies timeline entries.
type Kind string

// Entry kinds.
const (
	KindBoot     Kind = "boot"     // the OS started (event log service started, OS version)
	KindShutdown Kind = "shutdown" // clean shutdown (event log service stopped)
	KindUptime   Kind = "uptime"   // daily uptime report
	KindCrash    Kind = "crash"    // bug check, power loss or other unexpected stop
	KindHardware Kind = "hardware" // WHEA hardware error
	KindStorage  Kind = "storage"  // disk, file system or storage controller error
	KindDump     Kind = "dump"     // dump written or dump creation failed
	KindDriver   Kind = "driver"   // driver installed or updated
	KindService  Kind = "service"  // user-mode service installed
	KindError    Kind = "error"    // another error logged before a crash (Crash.Errors only)
)

// Entry is one line of the timeline.
type Entry struct {
	Time    time.Time `json:"time"`
	Kind    Kind      `json:"kind"`
	Summary string    `json:"summary"`
	Event   EventRef  `json:"event"`
	Level   uint8     `json:"level,omitempty"`

	// Set for some kinds.
	Fatal     bool   `json:"fatal,omitempty"`       // hardware: fatal (not corrected)
	Component string `json:"component,omitempty"`   // hardware: component or error source; storage: device
	Failed    bool   `json:"dump_failed,omitempty"` // dump: creation failed
	Driver    string `json:"driver,omitempty"`      // driver: service or driver name
	Path      string `json:"path,omitempty"`        // driver: image path or INF
	OS        string `json:"os,omitempty"`          // boot: OS version
	Uptime    string `json:"uptime,omitempty"`      // uptime: as Go duration
	Crash     *Crash `json:"-"`                     // crash: the crash
}

// Crash is one unexpected stop of the machine, from the events logged
// around the following boot.
type Crash struct {
	// Time is the best estimate of when the machine stopped: the previous
	// shutdown time EventLog 6008 gives, else the reboot time.
	Time time.Time `json:"time"`
	// LastAlive is the last moment the log shows the machine running (6008's
	// previous shutdown time, or the last event before the reboot).
	LastAlive time.Time `json:"last_alive,omitempty"`
	// Reboot is when the machine was up again (Kernel-Power 41, 6008).
	Reboot time.Time `json:"reboot"`

	BugCheck  bool      `json:"bugcheck"` // a bug check code is known
	Code      uint32    `json:"-"`        // JSON: "code", hex string
	Params    [4]uint64 `json:"-"`        // JSON: "parameters", hex strings
	DumpPath  string    `json:"dump_path,omitempty"`
	ReportID  string    `json:"report_id,omitempty"`
	PowerLoss bool      `json:"power_loss,omitempty"` // Kernel-Power 41 without a bug check: power lost, hard reset, or a hang
	// NoDump is set when the log says no dump was written; NoDumpReason says why.
	NoDump       bool   `json:"no_dump,omitempty"`
	NoDumpReason string `json:"no_dump_reason,omitempty"`
	DumpWritten  bool   `json:"dump_written,omitempty"` // volmgr 162 or a 1001 naming a dump
	// Note flags gaps in the evidence, such as a bug check without its
	// WER 1001 report.
	Note string `json:"note,omitempty"`
	// Kernel-Power 41 details.
	SleepInProgress      string `json:"sleep_in_progress,omitempty"`
	PowerButtonTimestamp string `json:"power_button_timestamp,omitempty"`

	Evidence []EventRef `json:"evidence"`
	// What happened before: hardware and storage errors (including fatal
	// WHEA records logged right after the reboot), dump failures, driver
	// changes and other errors.
	HardwareErrors []Entry `json:"hardware_errors"`
	StorageErrors  []Entry `json:"storage_errors"`
	DumpEvents     []Entry `json:"dump_events"`
	DriverChanges  []Entry `json:"driver_changes"`
	Errors         []Entry `json:"errors_before"`

	has41, has6008, has1001 bool
	lastSeen                time.Time
}

// MarshalJSON writes the code and parameters as 0x-prefixed hex strings,
// like the analyze report does.
func (c *Crash) MarshalJSON() ([]byte, error) {
	type plain Crash
	var params []string
	code := ""
	if c.BugCheck {
		code = fmt.Sprintf("%#x", c.Code)
		for _, p := range c.Params {
			params = append(params, fmt.Sprintf("%#x", p))
		}
	}
	return json.Marshal(struct {
		*plain
		Code    string   `json:"code,omitempty"`
		Params  []string `json:"parameters,omitempty"`
		Summary string   `json:"summary"`
	}{(*plain)(c), code, params, c.Summary()})
}

// Summary is a one-line description.
func (c *Crash) Summary() string {
	var sb strings.Builder
	switch {
	case c.BugCheck:
		fmt.Fprintf(&sb, "bug check 0x%08X (%#x, %#x, %#x, %#x)", c.Code, c.Params[0], c.Params[1], c.Params[2], c.Params[3])
	case c.PowerLoss:
		sb.WriteString("no bug check (Kernel-Power 41, code 0): power loss, hard reset or a hang; no dump")
		return sb.String()
	default:
		sb.WriteString("unexpected shutdown (no bug check recorded)")
	}
	if c.DumpPath != "" {
		fmt.Fprintf(&sb, "; dump %s", c.DumpPath)
	}
	if c.ReportID != "" {
		fmt.Fprintf(&sb, "; report %s", c.ReportID)
	}
	if c.NoDump {
		fmt.Fprintf(&sb, "; no dump written: %s", c.NoDumpReason)
	}
	return sb.String()
}

// Options tune how events are grouped.
type Options struct {
	// GroupWindow joins the events one reboot logs (41, 6008, 1001, volmgr)
	// into one crash. Default 10 minutes.
	GroupWindow time.Duration
	// ErrorWindow is how far before a crash errors count as its
	// background. Default 24 hours.
	ErrorWindow time.Duration
	// DriverWindow is how far before a crash driver changes are listed.
	// Default 7 days.
	DriverWindow time.Duration
}

func (o *Options) defaults() {
	if o.GroupWindow <= 0 {
		o.GroupWindow = 10 * time.Minute
	}
	if o.ErrorWindow <= 0 {
		o.ErrorWindow = 24 * time.Hour
	}
	if o.DriverWindow <= 0 {
		o.DriverWindow = 7 * 24 * time.Hour
	}
}

// Timeline is the crash evidence of one or more System logs.
type Timeline struct {
	Entries []Entry   `json:"timeline"`
	Crashes []*Crash  `json:"crashes"`
	Events  int       `json:"events"` // events read
	First   time.Time `json:"first,omitempty"`
	Last    time.Time `json:"last,omitempty"`
}

// provider names, compared case-insensitively and without the
// Microsoft-Windows- prefix.
func provIs(e *Event, names ...string) bool {
	p := strings.ToLower(shortProvider(e.Provider))
	for _, n := range names {
		if p == strings.ToLower(n) {
			return true
		}
	}
	return false
}

func isBugCheck1001(e *Event) bool {
	return e.EventID == 1001 && (provIs(e, "WER-SystemErrorReporting", "BugCheck", "Save Dump") || strings.EqualFold(e.Source, "BugCheck"))
}

func isKP41(e *Event) bool { return e.EventID == 41 && provIs(e, "Kernel-Power") }

func isEventLog(e *Event, id uint16) bool {
	return e.EventID == id && provIs(e, "EventLog")
}

var storageProviders = []string{"disk", "Ntfs", "stornvme", "storahci", "iaStorA", "iaStorAC", "iaStorV", "nvme", "atapi", "storport", "volsnap", "partmgr", "Microsoft-Windows-StorPort", "Microsoft-Windows-Ntfs", "Microsoft-Windows-Disk"}

// Build makes the timeline from events of any order.
func Build(events []Event, opt Options) *Timeline {
	opt.defaults()
	evs := make([]*Event, len(events))
	for i := range events {
		evs[i] = &events[i]
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].Time.Equal(evs[j].Time) {
			return evs[i].Time.Before(evs[j].Time)
		}
		return evs[i].RecordID < evs[j].RecordID
	})
	t := &Timeline{Events: len(evs), Crashes: []*Crash{}, Entries: []Entry{}}
	if len(evs) > 0 {
		t.First, t.Last = evs[0].Time, evs[len(evs)-1].Time
	}

	// First pass: crashes from the reboot events.
	for _, e := range evs {
		if isKP41(e) || isEventLog(e, 6008) || isBugCheck1001(e) {
			t.crashFor(e, opt).add(e)
		}
	}
	for _, c := range t.Crashes {
		c.lastSeen = lastBefore(evs, c.Reboot, opt.GroupWindow)
		c.finish()
	}

	// Second pass: the other entries, and what each crash was preceded by.
	boot := -1 // index of the current boot's entry
	for _, e := range evs {
		en, ok := classify(e)
		if !ok {
			if (e.Level == 1 || e.Level == 2) && !isRebootEvent(e) {
				t.attachError(e, opt)
			}
			continue
		}
		if en.Kind == KindBoot {
			// 6005, 6009 and Kernel-General 12 of one boot make one entry.
			if boot >= 0 && en.Time.Sub(t.Entries[boot].Time) <= 5*time.Minute {
				if b := &t.Entries[boot]; en.OS != "" && (b.OS == "" || en.Event.EventID == 6009) {
					b.OS, b.Summary = en.OS, en.OS
				}
				continue
			}
			t.Entries = append(t.Entries, en)
			boot = len(t.Entries) - 1
			continue
		}
		boot = -1
		if en.Kind == KindShutdown {
			// 6006 and Kernel-General 13 of one shutdown make one entry.
			if n := len(t.Entries); n > 0 && t.Entries[n-1].Kind == KindShutdown && en.Time.Sub(t.Entries[n-1].Time) <= 5*time.Minute {
				continue
			}
		}
		t.Entries = append(t.Entries, en)
		t.attach(en, opt)
	}
	for _, c := range t.Crashes {
		t.Entries = append(t.Entries, Entry{Time: c.Time, Kind: KindCrash, Summary: c.Summary(), Event: c.Evidence[0], Level: 1, Crash: c})
	}
	sort.SliceStable(t.Entries, func(i, j int) bool { return t.Entries[i].Time.Before(t.Entries[j].Time) })
	return t
}

// lastBefore returns the time of the last event before the boot that
// preceded reboot: the boot starts at the earliest boot event (6005, 6009,
// Kernel-General 12) within window before the reboot.
func lastBefore(evs []*Event, reboot time.Time, window time.Duration) time.Time {
	start := reboot
	i := sort.Search(len(evs), func(i int) bool { return !evs[i].Time.Before(reboot.Add(-window)) })
	for j := i; j < len(evs) && !evs[j].Time.After(reboot); j++ {
		if isRebootEvent(evs[j]) && evs[j].Time.Before(start) {
			start = evs[j].Time
		}
	}
	k := sort.Search(len(evs), func(i int) bool { return !evs[i].Time.Before(start) })
	if k == 0 {
		return time.Time{}
	}
	return evs[k-1].Time
}

func isRebootEvent(e *Event) bool {
	if isKP41(e) || isEventLog(e, 6008) || isBugCheck1001(e) || isEventLog(e, 6005) || isEventLog(e, 6009) {
		return true
	}
	return provIs(e, "Kernel-General") && e.EventID == 12
}

// crashFor returns the crash a reboot event belongs to, creating it when
// none is close enough.
func (t *Timeline) crashFor(e *Event, opt Options) *Crash {
	for i := len(t.Crashes) - 1; i >= 0; i-- {
		c := t.Crashes[i]
		d := e.Time.Sub(c.Reboot)
		if d < 0 {
			d = -d
		}
		switch {
		case isKP41(e) && c.has41, isEventLog(e, 6008) && c.has6008, isBugCheck1001(e) && c.has1001:
			continue
		}
		if d <= opt.GroupWindow {
			return c
		}
		// WER can report the bug check well after the boot (at logon): a
		// 1001 joins the latest crash of the same code within an hour.
		if isBugCheck1001(e) && d <= time.Hour && e.Time.After(c.Reboot) {
			if code, _, ok := parse1001(e); ok && (!c.BugCheck || c.Code == code) {
				return c
			}
		}
		break
	}
	c := &Crash{Reboot: e.Time}
	t.Crashes = append(t.Crashes, c)
	return c
}

// add records a reboot event in the crash.
func (c *Crash) add(e *Event) {
	c.Evidence = append(c.Evidence, e.Ref())
	if e.Time.Before(c.Reboot) {
		c.Reboot = e.Time
	}
	switch {
	case isKP41(e):
		c.has41 = true
		code := uint32(parseNum(e.Data["BugcheckCode"]))
		c.SleepInProgress = e.Data["SleepInProgress"]
		c.PowerButtonTimestamp = e.Data["PowerButtonTimestamp"]
		if code != 0 && !c.has1001 {
			c.BugCheck, c.Code = true, code
			for i := range c.Params {
				c.Params[i] = parseNum(e.Data[fmt.Sprintf("BugcheckParameter%d", i+1)])
			}
		}
	case isEventLog(e, 6008):
		c.has6008 = true
		if t, ok := prevShutdown(e); ok {
			c.LastAlive = t
		}
	case isBugCheck1001(e):
		c.has1001 = true
		if code, params, ok := parse1001(e); ok {
			c.BugCheck, c.Code, c.Params = true, code, params
		}
		c.DumpPath = strings.TrimSpace(e.Data["param2"])
		c.ReportID = strings.TrimSpace(e.Data["param3"])
		if c.DumpPath != "" {
			c.DumpWritten = true
		} else {
			c.NoDump, c.NoDumpReason = true, "the bug check report (WER 1001) names no dump file"
		}
	}
}

// finish fills what depends on all the crash's events.
func (c *Crash) finish() {
	if c.LastAlive.IsZero() {
		c.LastAlive = c.lastSeen
	}
	c.Time = c.Reboot
	if c.has6008 && !c.LastAlive.IsZero() {
		c.Time = c.LastAlive
	}
	if c.BugCheck && !c.has1001 {
		c.Note = "no bug check report (WER 1001) in the log: the dump may not have been written, or the log was cleared or rolled over"
	}
	if c.has41 && !c.BugCheck {
		c.PowerLoss = true
		c.NoDump, c.NoDumpReason = true, "no bug check happened (Kernel-Power 41 with code 0), so Windows wrote no dump"
	}
}

// parse1001 reads "0x0000007e (0xffffffffc0000005, 0x..., 0x..., 0x...)" from
// param1 of a BugCheck 1001 event.
func parse1001(e *Event) (uint32, [4]uint64, bool) {
	var params [4]uint64
	s := strings.TrimSpace(e.Data["param1"])
	code, rest, _ := strings.Cut(s, "(")
	code = strings.TrimSpace(code)
	if !strings.HasPrefix(strings.ToLower(code), "0x") {
		return 0, params, false
	}
	v, err := strconv.ParseUint(code[2:], 16, 32)
	if err != nil {
		return 0, params, false
	}
	rest = strings.TrimSuffix(strings.TrimSpace(rest), ")")
	for i, p := range strings.Split(rest, ",") {
		if i < 4 {
			params[i] = parseNum(p)
		}
	}
	return uint32(v), params, true
}

// parseNum reads decimal or 0x hex; 0 when it is neither.
func parseNum(s string) uint64 {
	s = strings.TrimSpace(s)
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, _ := strconv.ParseUint(h, 16, 64)
		return v
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// prevShutdown reads the time of the unexpected shutdown from a 6008 event:
// its binary data holds it as two SYSTEMTIMEs, local then UTC. (The text
// fields are the local time in the writer's locale format.)
func prevShutdown(e *Event) (time.Time, bool) {
	b, err := hex.DecodeString(e.Data["Binary"])
	if err != nil || len(b) < 32 {
		return time.Time{}, false
	}
	st := b[16:32]
	u := func(i int) int { return int(st[2*i]) | int(st[2*i+1])<<8 }
	y, mo, d := u(0), u(1), u(3)
	if y < 1601 || mo < 1 || mo > 12 || d < 1 || d > 31 || u(4) > 23 || u(5) > 59 || u(6) > 59 || u(7) > 999 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, u(4), u(5), u(6), u(7)*1e6, time.UTC), true
}

// classify turns the events the timeline shows (other than the crash
// events themselves) into entries.
func classify(e *Event) (Entry, bool) {
	en := Entry{Time: e.Time, Event: e.Ref(), Level: e.Level}
	d := e.Data
	switch {
	case isEventLog(e, 6005):
		en.Kind, en.Summary = KindBoot, "event log service started"
	case isEventLog(e, 6009):
		en.Kind = KindBoot
		en.OS = osVersion(d)
		en.Summary = en.OS
	case provIs(e, "Kernel-General") && e.EventID == 12:
		en.Kind, en.Summary = KindBoot, "operating system started"
		if d["MajorVersion"] != "" {
			en.OS = fmt.Sprintf("Windows %s.%s build %s", d["MajorVersion"], d["MinorVersion"], d["BuildVersion"])
			if q := d["QfeVersion"]; q != "" && q != "0" {
				en.OS += "." + q
			}
			en.Summary = en.OS
		}
	case isEventLog(e, 6006):
		en.Kind, en.Summary = KindShutdown, "clean shutdown (event log service stopped)"
	case provIs(e, "Kernel-General") && e.EventID == 13:
		en.Kind, en.Summary = KindShutdown, "clean shutdown (operating system stopped)"
	case isEventLog(e, 6013):
		en.Kind = KindUptime
		secs := parseNum(d["Data[4]"])
		up := time.Duration(secs) * time.Second
		en.Uptime = up.String()
		en.Summary = "up for " + humanDuration(up)
	case provIs(e, "WHEA-Logger"):
		en.Kind = KindHardware
		en.Fatal = wheaFatal(e)
		en.Component = wheaComponent(e)
		kind := "corrected"
		if en.Fatal {
			kind = "fatal"
		}
		en.Summary = fmt.Sprintf("%s hardware error (WHEA %d)", kind, e.EventID)
		if en.Component != "" {
			en.Summary += ": " + en.Component
		}
	case provIs(e, "volmgr") && (e.EventID == 45 || e.EventID == 46 || e.EventID == 49 || e.EventID == 161 || e.EventID == 162):
		// The level decides when the log has it: 162 is informational
		// ("dump file generation succeeded"), the others are errors.
		en.Kind, en.Failed = KindDump, e.EventID != 162
		if e.Level != 0 {
			en.Failed = e.Level <= 3
		}
		en.Summary = "dump file written (volmgr 162)"
		if en.Failed {
			en.Summary = "dump not written: " + volmgrReason(e.EventID)
		}
	case provIs(e, storageProviders...) && e.Level >= 1 && e.Level <= 3:
		en.Kind = KindStorage
		en.Component = firstNonEmpty(d["Data[0]"], d["DeviceName"], d["DriveName"], d["VolumeName"])
		sev := "error"
		if e.Level == 3 {
			sev = "warning"
		}
		en.Summary = fmt.Sprintf("%s %s %d", shortProvider(e.Provider), sev, e.EventID)
		if m := storageMeaning(e); m != "" {
			en.Summary += ": " + m
		}
		if en.Component != "" {
			en.Summary += " (" + en.Component + ")"
		}
	case provIs(e, "UserPnp") && e.EventID == 20001:
		en.Kind = KindDriver
		en.Driver, en.Path = d["DriverName"], d["DriverName"]
		if i := strings.LastIndexAny(en.Driver, `\/`); i >= 0 {
			en.Driver = en.Driver[i+1:]
		}
		en.Summary = fmt.Sprintf("driver installed for a device: %s %s by %s (%s)", en.Driver, d["DriverVersion"], firstNonEmpty(d["DriverProvider"], "?"), d["DeviceInstanceID"])
	case provIs(e, "UserPnp") && e.EventID == 20003:
		en.Kind = KindDriver
		en.Driver, en.Path = d["ServiceName"], d["DriverFileName"]
		en.Summary = fmt.Sprintf("driver service added: %s (%s)", en.Driver, en.Path)
	case provIs(e, "Service Control Manager") && e.EventID == 7045:
		en.Kind = KindDriver
		if strings.Contains(strings.ToLower(d["ServiceType"]), "user mode") {
			en.Kind = KindService
		}
		en.Driver, en.Path = d["ServiceName"], d["ImagePath"]
		en.Summary = fmt.Sprintf("service installed: %s, %s, %s (%s)", en.Driver, firstNonEmpty(d["ServiceType"], "?"), firstNonEmpty(d["StartType"], "?"), en.Path)
	default:
		return en, false
	}
	return en, true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// osVersion renders 6009's "6.01." "7601" "Service Pack 1" "Multiprocessor Free".
func osVersion(d map[string]string) string {
	v := strings.TrimSuffix(strings.TrimSpace(d["Data[0]"]), ".")
	s := "Windows " + v
	if b := strings.TrimSpace(d["Data[1]"]); b != "" {
		s += " build " + b
	}
	if sp := strings.TrimSpace(d["Data[2]"]); sp != "" {
		s += " " + sp
	}
	if k := strings.TrimSpace(d["Data[3]"]); k != "" {
		s += " (" + k + ")"
	}
	return s
}

func humanDuration(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	h := int(d/time.Hour) % 24
	m := int(d/time.Minute) % 60
	if days > 0 {
		return fmt.Sprintf("%dd %dh %dm", days, h, m)
	}
	return fmt.Sprintf("%dh %dm", h, m)
}

// wheaFatal says whether a WHEA event reports an uncorrected error: the
// level when the log has it (fatal ones are errors, corrected ones
// warnings), else the event ID.
func wheaFatal(e *Event) bool {
	switch e.Level {
	case 1, 2:
		return true
	case 3, 4:
		return false
	}
	switch e.EventID {
	case 1, 18, 20, 46:
		return true
	}
	return false
}

// wheaComponent describes where a WHEA error came from, from the fields
// the WHEA events carry.
func wheaComponent(e *Event) string {
	d := e.Data
	var parts []string
	switch e.EventID {
	case 17, 20:
		parts = append(parts, "PCI Express")
	case 18, 19:
		parts = append(parts, "processor (machine check)")
	case 46, 47:
		parts = append(parts, "memory")
	}
	if s := firstNonEmpty(d["ErrorSource"]); s != "" {
		parts = append(parts, "error source "+s)
	}
	if s := firstNonEmpty(d["ProcessorAPICID"], d["ApicId"]); s != "" {
		parts = append(parts, "APIC ID "+s)
	}
	if s := firstNonEmpty(d["MCABank"], d["BankNumber"]); s != "" {
		parts = append(parts, "MCA bank "+s)
	}
	if d["Bus"] != "" || d["Device"] != "" {
		parts = append(parts, fmt.Sprintf("bus:device:function %s:%s:%s", d["Bus"], d["Device"], d["Function"]))
	}
	if s := firstNonEmpty(d["VendorID"]); s != "" {
		parts = append(parts, "vendor "+s+" device "+d["DeviceID"])
	}
	return strings.Join(parts, ", ")
}

func volmgrReason(id uint16) string {
	switch id {
	case 45:
		return "the crash dump driver could not be loaded (volmgr 45)"
	case 46:
		return "crash dump initialization failed (volmgr 46): no usable page file or dump volume"
	case 49:
		return "the page file for crash dumps could not be configured (volmgr 49): page file missing or too small on the boot volume"
	case 161:
		return "dump file creation failed during dump creation (volmgr 161)"
	case 162:
		return "dump file generation reported an error (volmgr 162)"
	}
	return fmt.Sprintf("volmgr %d", id)
}

// storageMeaning names the well-known storage events.
func storageMeaning(e *Event) string {
	switch {
	case provIs(e, "disk") && e.EventID == 7:
		return "bad block"
	case provIs(e, "disk") && e.EventID == 11:
		return "controller error"
	case provIs(e, "disk") && e.EventID == 51:
		return "error during a paging operation"
	case provIs(e, "disk") && e.EventID == 153:
		return "I/O retried"
	case provIs(e, "disk", "stornvme", "storahci", "StorPort") && e.EventID == 129:
		return "reset to device (I/O timed out)"
	case provIs(e, "Ntfs") && e.EventID == 55:
		return "file system corruption"
	case provIs(e, "Ntfs") && (e.EventID == 130 || e.EventID == 137 || e.EventID == 140):
		return "file system error"
	}
	return ""
}

// attach adds a classified entry to the crash it precedes (or, for fatal
// hardware and dump events, the crash whose reboot logged it).
func (t *Timeline) attach(en Entry, opt Options) {
	for _, c := range t.Crashes {
		switch en.Kind {
		case KindHardware:
			// Fatal errors are logged at the next boot (from the BERT record).
			if within(en.Time, c.Time.Add(-opt.ErrorWindow), c.Reboot.Add(opt.GroupWindow)) {
				c.HardwareErrors = append(c.HardwareErrors, en)
			}
		case KindStorage:
			if within(en.Time, c.Time.Add(-opt.ErrorWindow), c.Time) {
				c.StorageErrors = append(c.StorageErrors, en)
			}
		case KindDump:
			if within(en.Time, c.Reboot.Add(-opt.GroupWindow), c.Reboot.Add(2*opt.GroupWindow)) {
				c.DumpEvents = append(c.DumpEvents, en)
				if en.Failed {
					c.NoDump, c.DumpWritten = true, false
					c.NoDumpReason = strings.TrimPrefix(en.Summary, "dump not written: ")
				} else if !c.NoDump {
					c.DumpWritten = true
				}
			}
		case KindDriver:
			if within(en.Time, c.Time.Add(-opt.DriverWindow), c.Time) {
				c.DriverChanges = append(c.DriverChanges, en)
			}
		}
	}
}

// maxErrors bounds the unclassified errors listed before each crash.
const maxErrors = 10

func (t *Timeline) attachError(e *Event, opt Options) {
	for _, c := range t.Crashes {
		if !within(e.Time, c.Time.Add(-opt.ErrorWindow), c.Time) {
			continue
		}
		en := Entry{Time: e.Time, Kind: KindError, Event: e.Ref(), Level: e.Level,
			Summary: fmt.Sprintf("%s %d", shortProvider(e.Provider), e.EventID)}
		if s := firstNonEmpty(e.Data["param1"], e.Data["Data[0]"]); s != "" {
			en.Summary += ": " + s
		}
		c.Errors = append(c.Errors, en)
		if len(c.Errors) > maxErrors {
			c.Errors = c.Errors[1:] // keep the latest
		}
	}
}

func within(t, from, to time.Time) bool {
	return !t.Before(from) && !t.After(to)
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/server/store"
)

// crashDump is the minidump Windows wrote for the corpus log's bug check
// 0x10001: named after the WER report id, with the log's crash time.
func crashDump(t *testing.T) []byte {
	t.Helper()
	d := sample.Triage()
	d.BugCheck, d.Params = 0x10001, [4]uint64{}
	d.Time = time.Date(2012, 4, 6, 13, 59, 10, 0, time.UTC)
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// timelineJSON is what the tests read of GET /machines/{name}/timeline.
type timelineJSON struct {
	Machine  string `json:"machine"`
	EventLog bool   `json:"event_log"`
	Events   int    `json:"events"`
	Entries  []struct {
		Kind    string `json:"kind"`
		Summary string `json:"summary"`
		Dump    string `json:"dump_sha256"`
		Event   struct {
			RecordID uint64 `json:"record_id"`
			Provider string `json:"provider"`
			EventID  int    `json:"event_id"`
		} `json:"event"`
	} `json:"timeline"`
	Crashes []struct {
		Crash struct {
			Code         string   `json:"code"`
			Params       []string `json:"parameters"`
			ReportID     string   `json:"report_id"`
			DumpPath     string   `json:"dump_path"`
			PowerLoss    bool     `json:"power_loss"`
			NoDump       bool     `json:"no_dump"`
			NoDumpReason string   `json:"no_dump_reason"`
			Time         time.Time
		} `json:"crash"`
		Dump *struct {
			SHA256 string `json:"sha256"`
			File   string `json:"file"`
			How    string `json:"how"`
		} `json:"dump"`
		Hardware struct {
			Suspect bool `json:"suspect_hardware"`
		} `json:"hardware"`
	} `json:"crashes"`
	Dumps []struct {
		SHA256  string `json:"sha256"`
		Matched bool   `json:"matched"`
		How     string `json:"how"`
	} `json:"dumps"`
}

// TestEventLogTimeline uploads a machine's triage dump, then its real System
// log, and checks the machine's timeline (API and page), the crash page's
// log evidence, and that uploading the log again, or a newer export of it,
// changes nothing.
func TestEventLogTimeline(t *testing.T) {
	logBytes, err := os.ReadFile(corpus.Path(t, "evtx", "crash-sequence-system.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	dump := crashDump(t)
	if st, _ := e.uploadRaw(e.upload, dump, "040612-50390-01.dmp", "PC01"); st != 201 {
		t.Fatalf("dump upload: %d", st)
	}
	st, u := e.uploadRaw(e.upload, logBytes, "System.evtx", "PC01")
	if st != 201 || u.Kind != "evtx" {
		t.Fatalf("log upload: %d %+v", st, u)
	}
	e.waitIdle()
	var up store.Upload
	if e.getJSON(u.URL, &up); up.Status != store.UploadDone || up.Error != "" || up.Machine != "PC01" {
		t.Errorf("log upload after analysis: %+v", up)
	}

	check := func(t *testing.T) {
		var tl timelineJSON
		if st := e.getJSON("/api/v1/machines/PC01/timeline", &tl); st != 200 {
			t.Fatalf("timeline: %d", st)
		}
		if tl.Machine != "PC01" || !tl.EventLog || tl.Events != 1601 || len(tl.Crashes) != 2 || len(tl.Dumps) != 1 {
			t.Fatalf("timeline: machine %q, log %v, %d events, %d crashes, %d dumps; want PC01, true, 1601, 2, 1",
				tl.Machine, tl.EventLog, tl.Events, len(tl.Crashes), len(tl.Dumps))
		}
		bc, pl := tl.Crashes[0], tl.Crashes[1]
		if bc.Crash.Code != "0x10001" || bc.Crash.ReportID != "040612-50390-01" || bc.Crash.DumpPath != `C:\Windows\MEMORY.DMP` ||
			len(bc.Crash.Params) != 4 || bc.Crash.Params[0] != "0x0" || bc.Dump == nil || bc.Dump.SHA256 != sha(dump) || bc.Dump.How != "report id" ||
			bc.Dump.File != "040612-50390-01.dmp" || bc.Hardware.Suspect || !bc.Crash.Time.Truncate(time.Second).Equal(time.Date(2012, 4, 6, 13, 59, 13, 0, time.UTC)) {
			t.Errorf("bug check crash: %+v, dump %+v", bc.Crash, bc.Dump)
		}
		if !pl.Crash.PowerLoss || pl.Crash.Code != "" || !pl.Crash.NoDump || !strings.Contains(pl.Crash.NoDumpReason, "no bug check") || pl.Dump != nil {
			t.Errorf("power loss crash: %+v, dump %+v", pl.Crash, pl.Dump)
		}
		if d := tl.Dumps[0]; !d.Matched || d.How != "report id" || d.SHA256 != sha(dump) {
			t.Errorf("dump: %+v", d)
		}
		kinds := map[string]int{}
		linked := 0
		for _, en := range tl.Entries {
			kinds[en.Kind]++
			if en.Dump != "" {
				linked++
				if en.Kind != "crash" || en.Event.Provider != "Microsoft-Windows-Kernel-Power" || en.Event.RecordID != 13392 || en.Dump != sha(dump) {
					t.Errorf("entry linked to the dump: %+v", en)
				}
			}
		}
		// As `bugcheck events` prints the same log: 5 boots, 3 clean
		// shutdowns, 2 crashes, 5 driver installs, 1 storage error.
		if kinds["crash"] != 2 || kinds["boot"] != 5 || kinds["shutdown"] != 3 || kinds["driver"] != 5 || kinds["storage"] != 1 || linked != 1 {
			t.Errorf("timeline entries by kind %v, %d linked to a dump", kinds, linked)
		}
	}
	check(t)

	// The same bytes again are the same upload; a newer export of the same
	// log (other bytes, the same records) merges without duplicates.
	if st, again := e.uploadRaw(e.upload, logBytes, "System.evtx", "PC01"); st != 200 || again.ID != u.ID || again.Created {
		t.Errorf("re-upload: %d %+v", st, again)
	}
	newer := bytes.Clone(logBytes)
	newer[0x200] ^= 0xff // unused space in the 4 KiB file header block
	if st, n := e.uploadRaw(e.upload, newer, "System-newer.evtx", "PC01"); st != 201 || n.ID == u.ID {
		t.Errorf("newer log: %d %+v", st, n)
	}
	e.waitIdle()
	check(t)
	logs, err := e.data.Store.(store.EventStore).EventMachines(context.Background(), 10)
	if err != nil || len(logs) != 1 || logs[0].Machine != "PC01" || logs[0].Events != 1601 {
		t.Errorf("stored logs %+v, %v", logs, err)
	}

	// The machine page, without JavaScript: both crashes, the dump linked.
	resp, page := e.do("GET", "/machines/PC01", "", nil, nil)
	for _, want := range []string{`<h1 id="machine">PC01</h1>`, "<strong id=\"events\">1601</strong>", "bug check 0x00010001", "report 040612-50390-01",
		"power loss", "none uploaded", `href="/crashes/` + sha(dump) + `">040612-50390-01.dmp</a> (report id)`, "Kernel-Power 41, record 13534",
		"service installed: Mnemosyne", "no sign of a hardware fault", "daily uptime reports and service installations are not shown"} {
		if resp.StatusCode != 200 || !strings.Contains(string(page), want) {
			t.Errorf("machine page %d: missing %q", resp.StatusCode, want)
		}
	}

	// The crash page shows the log's evidence as analyze --events does.
	resp, page = e.do("GET", "/crashes/"+sha(dump), "", nil, nil)
	for _, want := range []string{`href="/machines/PC01"`, "EVENT LOG", "This crash in the log: 2012-04-06", "bug check 0x00010001",
		"Kernel-Power 41, record 13392", "record 13423", "Crashes in the log without a dump here:", "power loss", "recorded this crash (report id)"} {
		if resp.StatusCode != 200 || !strings.Contains(string(page), want) {
			t.Errorf("crash page %d: missing %q", resp.StatusCode, want)
		}
	}

	// The dashboard and the log's upload page link the machine.
	for _, p := range []string{"/", u.URL[len("/api/v1"):]} {
		if resp, b := e.do("GET", p, "", nil, nil); resp.StatusCode != 200 || !strings.Contains(string(b), `href="/machines/PC01"`) {
			t.Errorf("%s (%d) does not link the machine page", p, resp.StatusCode)
		}
	}
	if st := e.getJSON("/api/v1/machines/NOSUCH/timeline", nil); st != 404 {
		t.Errorf("unknown machine: %d", st)
	}
	if resp, _ := e.do("GET", "/machines/NOSUCH", "", nil, nil); resp.StatusCode != 404 {
		t.Errorf("unknown machine page: %d", resp.StatusCode)
	}
}

// TestEventLogMachineName takes the machine from the log when the upload
// names none, and checks that a machine without a log still has a page.
func TestEventLogMachineName(t *testing.T) {
	logBytes, err := os.ReadFile(corpus.Path(t, "evtx", "crash-sequence-system.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	e.uploadRaw(e.upload, logBytes, "System.evtx", "")
	d := sample.Triage()
	d.Time = time.Date(2013, 1, 2, 3, 4, 5, 0, time.UTC)
	pc02, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	e.uploadRaw(e.upload, pc02, "010213-1-01.dmp", "PC02")
	e.waitIdle()
	logs, err := e.data.Store.(store.EventStore).EventMachines(context.Background(), 10)
	if err != nil || len(logs) != 1 || logs[0].Events != 1601 || logs[0].Machine == "" {
		t.Fatalf("stored logs %+v, %v", logs, err)
	}
	var tl timelineJSON
	if st := e.getJSON("/api/v1/machines/"+logs[0].Machine+"/timeline", &tl); st != 200 || len(tl.Crashes) != 2 || len(tl.Dumps) != 0 {
		t.Errorf("timeline of %s: %d, %d crashes, %d dumps", logs[0].Machine, st, len(tl.Crashes), len(tl.Dumps))
	}
	if st := e.getJSON("/api/v1/machines/PC02/timeline", &tl); st != 200 || tl.EventLog || len(tl.Dumps) != 1 || len(tl.Crashes) != 0 {
		t.Errorf("timeline of a machine without a log: %d %+v", st, tl)
	}
	if resp, b := e.do("GET", "/machines/PC02", "", nil, nil); resp.StatusCode != 200 || !strings.Contains(string(b), "No System event log of this machine") {
		t.Errorf("machine page without a log: %d", resp.StatusCode)
	}

	// A form with another machine's log (other bytes, same records) and
	// dump: the same timeline, kept apart from the first machine's.
	other := bytes.Clone(logBytes)
	other[0x300] ^= 0xff
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("machine", "PC04")
	for _, f := range []struct {
		name string
		data []byte
	}{{"System.evtx", other}, {"040612-50390-01.dmp", crashDump(t)}} {
		w, _ := mw.CreateFormFile("file", f.name)
		w.Write(f.data)
	}
	mw.Close()
	resp, b := e.do("POST", "/api/v1/dumps", e.upload, &body, map[string]string{"Content-Type": mw.FormDataContentType()})
	var out struct{ Uploads []uploadResponse }
	if json.Unmarshal(b, &out); resp.StatusCode != 201 || len(out.Uploads) != 2 || out.Uploads[0].Kind != "evtx" || out.Uploads[0].Machine != "PC04" {
		t.Fatalf("form upload: %d %s", resp.StatusCode, b)
	}
	e.waitIdle()
	tl = timelineJSON{}
	if st := e.getJSON("/api/v1/machines/PC04/timeline", &tl); st != 200 || tl.Events != 1601 || len(tl.Crashes) != 2 || len(tl.Dumps) != 1 ||
		!tl.Dumps[0].Matched || tl.Crashes[0].Dump == nil {
		t.Errorf("timeline of PC04: %d %+v", st, tl.Dumps)
	}
	if logs, _ := e.data.Store.(store.EventStore).EventMachines(context.Background(), 10); len(logs) != 2 {
		t.Errorf("machines with logs: %+v", logs)
	}
}

// junkLog is an event log header (valid signature) followed by a chunk
// signature and garbage.
func junkLog() []byte {
	b := make([]byte, 4096+65536)
	copy(b, "ElfFile\x00")
	b[42] = 1 // one chunk
	copy(b[4096:], "ElfChnk\x00")
	for i := 4096 + 8; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// TestJunkEventLog checks that logs with nothing readable are refused at
// upload, or stored as failed with the reason, never with some events.
func TestJunkEventLog(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxUpload = 1 << 20 })
	for _, tc := range []struct {
		name   string
		data   []byte
		status int
		msg    string
	}{
		{"header only", append([]byte("ElfFile\x00"), make([]byte, 8192)...), 422, "holds no chunk of records"},
		{"signature only", []byte("ElfFile\x00"), 422, "not a readable event log"},
		{"too large", append(append([]byte("ElfFile\x00"), make([]byte, 1<<20)...), 1), 413, "larger than"},
	} {
		resp, b := e.do("POST", "/api/v1/dumps", e.upload, bytes.NewReader(tc.data), nil)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, resp.StatusCode, b, tc.status, tc.msg)
		}
	}
	if ups, _ := e.data.Store.Uploads(context.Background(), 100, 0); len(ups) != 0 {
		t.Errorf("%d uploads stored from rejected requests", len(ups))
	}

	st, u := e.uploadRaw(e.upload, junkLog(), "System.evtx", "JUNK")
	if st != 201 {
		t.Fatalf("junk log with a chunk: %d", st)
	}
	e.waitIdle()
	var up store.Upload
	if e.getJSON(u.URL, &up); up.Status != store.UploadFailed || up.Error == "" {
		t.Errorf("junk log after analysis: %+v", up)
	}
	if logs, err := e.data.Store.(store.EventStore).EventMachines(context.Background(), 10); err != nil || len(logs) != 0 {
		t.Errorf("events stored from a junk log: %+v %v", logs, err)
	}
	if st := e.getJSON("/api/v1/machines/JUNK/timeline", nil); st != 404 {
		t.Errorf("timeline of the junk log's machine: %d", st)
	}

	// A damaged real log keeps what could be read and says what was not.
	damaged, err := os.ReadFile(corpus.Path(t, "evtx", "sample_with_a_bad_chunk_magic.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, nil)
	st, u = e2.uploadRaw(e2.upload, damaged, "System.evtx", "DAMAGED")
	e2.waitIdle()
	if e2.getJSON(u.URL, &up); st != 201 || up.Status != store.UploadDone || !strings.HasPrefix(up.Error, "8 damaged chunks or records skipped: offset 0x1000: chunk 0") {
		t.Errorf("damaged log: %d %+v", st, up)
	}
	var tl timelineJSON
	if st := e2.getJSON("/api/v1/machines/DAMAGED/timeline", &tl); st != 200 || tl.Events != 298 {
		t.Errorf("timeline of the damaged log: %d, %d events, want 298", st, tl.Events)
	}
}

// plainStore hides the SQLite store's EventStore, as a store without event
// log support would be.
type plainStore struct{ store.Store }

// TestNoEventStore checks that a server whose store keeps no event logs
// refuses them and still shows machines' dumps.
func TestNoEventStore(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Store = plainStore{c.Store} })
	resp, b := e.do("POST", "/api/v1/dumps", e.upload, bytes.NewReader(junkLog()), nil)
	if resp.StatusCode != 422 || !strings.Contains(string(b), "does not keep event logs") {
		t.Errorf("log upload: %d %s", resp.StatusCode, b)
	}
	e.uploadRaw(e.upload, crashDump(t), "040612-50390-01.dmp", "PC03")
	e.waitIdle()
	var tl timelineJSON
	if st := e.getJSON("/api/v1/machines/PC03/timeline", &tl); st != 200 || tl.EventLog || len(tl.Dumps) != 1 {
		t.Errorf("timeline: %d %+v", st, tl)
	}
	if resp, b := e.do("GET", "/machines/PC03", "", nil, nil); resp.StatusCode != 200 || !strings.Contains(string(b), "does not keep event logs") {
		t.Errorf("machine page: %d", resp.StatusCode)
	}
	if resp, b := e.do("GET", "/crashes/"+tl.Dumps[0].SHA256, "", nil, nil); resp.StatusCode != 200 || strings.Contains(string(b), "EVENT LOG") {
		t.Errorf("crash page: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/", "", nil, nil); resp.StatusCode != 200 {
		t.Errorf("dashboard: %d", resp.StatusCode)
	}
}

// BenchmarkMachineTimeline measures GET /machines/{name}/timeline for the
// corpus System log (1601 events) and one dump: the timeline is rebuilt
// from the stored events on every request.
func BenchmarkMachineTimeline(b *testing.B) {
	logBytes, err := os.ReadFile(corpus.Path(b, "evtx", "crash-sequence-system.evtx"))
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, nil)
	e.uploadRaw(e.upload, logBytes, "System.evtx", "PC01")
	d := sample.Triage()
	d.BugCheck, d.Time = 0x10001, time.Date(2012, 4, 6, 13, 59, 10, 0, time.UTC)
	dump, err := d.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	e.uploadRaw(e.upload, dump, "040612-50390-01.dmp", "PC01")
	e.waitIdle()
	for b.Loop() {
		if resp, _ := e.do("GET", "/api/v1/machines/PC01/timeline", "", nil, nil); resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}

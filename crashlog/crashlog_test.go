package crashlog

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/kdump"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func records(refs []EventRef) []uint64 {
	var out []uint64
	for _, r := range refs {
		out = append(out, r.RecordID)
	}
	return out
}

// TestCrashSequence reads the real Windows 7 System log with one bug check
// and one power loss.
func TestCrashSequence(t *testing.T) {
	evs, warns, err := ReadFile(corpus.Path(t, "evtx", "crash-sequence-system.evtx"))
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %v", err, warns)
	}
	tl := Build(evs, Options{})
	if tl.Events != 1601 || len(tl.Crashes) != 2 {
		t.Fatalf("%d events, %d crashes; want 1601, 2", tl.Events, len(tl.Crashes))
	}
	c := tl.Crashes[0]
	if !c.BugCheck || c.Code != 0x10001 || c.Params != [4]uint64{} || c.DumpPath != `C:\Windows\MEMORY.DMP` || c.ReportID != "040612-50390-01" ||
		c.NoDump || !c.DumpWritten || c.PowerLoss {
		t.Errorf("crash 1: %s", c.Summary())
	}
	if got := fmt.Sprint(records(c.Evidence)); got != "[13392 13388 13423]" {
		t.Errorf("crash 1 evidence %s, want 41 #13392, 6008 #13388, 1001 #13423", got)
	}
	// 6008's UTC SYSTEMTIME gives the time the machine stopped; 41 the reboot.
	if !c.Time.Equal(ts("2012-04-06T13:59:13.029Z")) || !c.Reboot.Equal(ts("2012-04-06T14:07:06.625Z")) {
		t.Errorf("crash 1 time %v, reboot %v", c.Time, c.Reboot)
	}
	if c.SleepInProgress != "false" || c.PowerButtonTimestamp != "0" {
		t.Errorf("crash 1 Kernel-Power 41 details %q %q", c.SleepInProgress, c.PowerButtonTimestamp)
	}
	// Mnemosyne (a kernel driver) was installed the day before.
	found := false
	for _, d := range c.DriverChanges {
		if d.Driver == "Mnemosyne" && d.Path == `C:\Windows\system32\Mnemosyne_x64.sys` && d.Event.RecordID == 13335 {
			found = true
		}
		if d.Kind != KindDriver {
			t.Errorf("driver changes include %s", d.Summary)
		}
	}
	if !found {
		t.Errorf("crash 1 driver changes lack Mnemosyne: %v", c.DriverChanges)
	}

	c = tl.Crashes[1]
	if c.BugCheck || !c.PowerLoss || !c.NoDump || c.DumpPath != "" || !strings.Contains(c.NoDumpReason, "no bug check") {
		t.Errorf("crash 2: %s", c.Summary())
	}
	if got := fmt.Sprint(records(c.Evidence)); got != "[13534 13530]" {
		t.Errorf("crash 2 evidence %s, want 41 #13534, 6008 #13530", got)
	}
	if !c.Time.Equal(ts("2012-04-06T19:09:23.331Z")) {
		t.Errorf("crash 2 time %v", c.Time)
	}
	for _, e := range c.Errors {
		if e.Event.EventID == 41 || e.Event.EventID == 6008 || e.Event.EventID == 1001 {
			t.Errorf("crash 2 lists the earlier crash's reboot events as errors: %v", e)
		}
	}
	for _, cr := range tl.Crashes {
		if v := HardwareVerdict(cr, tl.Crashes); v.Suspect {
			t.Errorf("hardware suspected without evidence: %v", v)
		}
	}

	kinds := map[Kind]int{}
	var boots []string
	for _, e := range tl.Entries {
		kinds[e.Kind]++
		if e.Kind == KindBoot {
			boots = append(boots, e.Time.Format("2006-01-02 15:04:05")+" "+e.OS)
		}
	}
	if kinds[KindCrash] != 2 || kinds[KindBoot] != 5 || kinds[KindShutdown] != 3 || kinds[KindUptime] == 0 {
		t.Errorf("entry kinds %v", kinds)
	}
	if boots[3] != "2012-04-06 14:06:51 Windows 6.01 build 7601 Service Pack 1 (Multiprocessor Free)" {
		t.Errorf("boot after the crash: %q", boots[3])
	}
}

// ev builds a synthetic event.
func ev(rec uint64, at, provider string, id uint16, level uint8, data ...string) Event {
	e := Event{File: "synthetic", RecordID: rec, Time: ts(at), Provider: provider, EventID: id, Level: level, Data: map[string]string{}}
	for i := 0; i+1 < len(data); i += 2 {
		e.Data[data[i]] = data[i+1]
	}
	return e
}

const (
	wer  = "Microsoft-Windows-WER-SystemErrorReporting"
	kp   = "Microsoft-Windows-Kernel-Power"
	whea = "Microsoft-Windows-WHEA-Logger"
)

// kp41 is a Kernel-Power 41 with a decimal code, as Windows writes it.
func kp41(rec uint64, at string, code uint32, p1 uint64) Event {
	return ev(rec, at, kp, 41, 1, "BugcheckCode", fmt.Sprint(code), "BugcheckParameter1", fmt.Sprintf("0x%016x", p1),
		"BugcheckParameter2", "0x0000000000000002", "BugcheckParameter3", "0x0", "BugcheckParameter4", "0x0", "SleepInProgress", "0", "PowerButtonTimestamp", "0")
}

func bc1001(rec uint64, at string, code uint32, p1 uint64, dump, report string) Event {
	return ev(rec, at, wer, 1001, 2, "param1", fmt.Sprintf("0x%08x (0x%016x, 0x0000000000000002, 0x0000000000000000, 0x0000000000000000)", code, p1),
		"param2", dump, "param3", report)
}

// ev6008 has the binary data Windows writes: local and UTC SYSTEMTIMEs.
func ev6008(rec uint64, at string, prev time.Time) Event {
	st := func(t time.Time) string {
		var b []byte
		for _, v := range []int{t.Year(), int(t.Month()), int(t.Weekday()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond() / 1e6} {
			b = append(b, byte(v), byte(v>>8))
		}
		return fmt.Sprintf("%X", b)
	}
	return ev(rec, at, "EventLog", 6008, 2, "Data[0]", prev.Format("3:04:05 PM"), "Data[1]", prev.Format("1/2/2006"), "Binary", st(prev.Add(-time.Hour))+st(prev))
}

func TestSynthetic(t *testing.T) {
	events := []Event{
		// Crash A: repeated corrected machine checks, then 0x124.
		ev(1, "2026-01-10T08:00:00Z", "EventLog", 6009, 4, "Data[0]", "10.00.", "Data[1]", "19045", "Data[3]", "Multiprocessor Free"),
		ev(2, "2026-01-10T08:00:00Z", "EventLog", 6005, 4),
		ev(3, "2026-01-10T09:00:00Z", whea, 19, 3, "ErrorSource", "2", "ProcessorAPICID", "4", "MCABank", "5"),
		ev(4, "2026-01-10T09:10:00Z", whea, 19, 3, "ErrorSource", "2", "ProcessorAPICID", "4", "MCABank", "5"),
		ev(5, "2026-01-10T09:20:00Z", whea, 19, 3, "ErrorSource", "2", "ProcessorAPICID", "4", "MCABank", "5"),
		ev(6, "2026-01-10T09:25:00Z", "Service Control Manager", 7045, 4, "ServiceName", "acmefilt", "ImagePath", `\SystemRoot\System32\drivers\acmefilt.sys`, "ServiceType", "kernel mode driver", "StartType", "boot start"),
		ev(7, "2026-01-10T09:26:00Z", "Service Control Manager", 7045, 4, "ServiceName", "AcmeUpdater", "ImagePath", `C:\acme\upd.exe`, "ServiceType", "user mode service", "StartType", "auto start"),
		kp41(8, "2026-01-10T09:35:00Z", 0x124, 0),
		ev6008(9, "2026-01-10T09:35:30Z", ts("2026-01-10T09:30:00Z")),
		ev(10, "2026-01-10T09:35:20Z", whea, 18, 2, "ErrorSource", "3", "ProcessorAPICID", "4", "MCABank", "5"),
		bc1001(11, "2026-01-10T09:36:10Z", 0x124, 0, `C:\Windows\Minidump\011026-8000-01.dmp`, "011026-8000-01"),
		// Crash B: 0x50 at a non-canonical address; volmgr says the dump failed.
		kp41(20, "2026-01-11T12:00:10Z", 0x50, 0x7fff12345678abcd),
		ev(21, "2026-01-11T12:00:20Z", "volmgr", 161, 2),
		bc1001(22, "2026-01-11T12:40:00Z", 0x50, 0x7fff12345678abcd, "", "011126-9000-01"), // WER reported at logon, 40 minutes on
		// Crash C: storage errors, then 0x7a with its minidump.
		ev(30, "2026-01-12T07:00:00Z", "disk", 153, 3, "Data[0]", `\Device\Harddisk0\DR0`),
		ev(31, "2026-01-12T07:05:00Z", "stornvme", 129, 3, "Data[0]", `\Device\RaidPort0`),
		kp41(32, "2026-01-12T07:20:00Z", 0x7a, 0),
		bc1001(33, "2026-01-12T07:21:00Z", 0x7a, 0, `C:\Windows\Minidump\011226-7000-01.dmp`, "011226-7000-01"),
		ev(34, "2026-01-12T07:20:05Z", "volmgr", 162, 4),
		// Crash D: power loss.
		kp41(40, "2026-01-13T18:00:00Z", 0, 0),
		ev(41, "2026-01-13T18:00:05Z", "EventLog", 6006, 4),
	}
	tl := Build(events, Options{})
	if len(tl.Crashes) != 4 {
		for _, c := range tl.Crashes {
			t.Log(c.Summary(), records(c.Evidence))
		}
		t.Fatalf("%d crashes, want 4", len(tl.Crashes))
	}
	a, b, c, d := tl.Crashes[0], tl.Crashes[1], tl.Crashes[2], tl.Crashes[3]

	if a.Code != 0x124 || !a.Time.Equal(ts("2026-01-10T09:30:00Z")) || a.ReportID != "011026-8000-01" {
		t.Errorf("crash A: %s at %v", a.Summary(), a.Time)
	}
	if got := fmt.Sprint(records(a.Evidence)); got != "[8 9 11]" {
		t.Errorf("crash A evidence %s", got)
	}
	if len(a.HardwareErrors) != 4 || !a.HardwareErrors[3].Fatal || a.HardwareErrors[0].Fatal ||
		a.HardwareErrors[0].Component != "processor (machine check), error source 2, APIC ID 4, MCA bank 5" {
		t.Errorf("crash A hardware errors %+v", a.HardwareErrors)
	}
	if len(a.DriverChanges) != 1 || a.DriverChanges[0].Driver != "acmefilt" || a.DriverChanges[0].Path != `\SystemRoot\System32\drivers\acmefilt.sys` {
		t.Errorf("crash A driver changes %+v", a.DriverChanges)
	}
	if v := HardwareVerdict(a, tl.Crashes); !v.Suspect || v.Confidence != "high" || len(v.Reasons) < 3 || len(v.Evidence) != 4 {
		t.Errorf("crash A verdict %+v", v)
	}

	if b.Code != 0x50 || b.Params[0] != 0x7fff12345678abcd || !b.NoDump || !strings.Contains(b.NoDumpReason, "volmgr 161") || b.DumpWritten {
		t.Errorf("crash B: %s (no dump %v: %s)", b.Summary(), b.NoDump, b.NoDumpReason)
	}
	if got := fmt.Sprint(records(b.Evidence)); got != "[20 22]" {
		t.Errorf("crash B evidence %s (the late 1001 must join it)", got)
	}
	if v := HardwareVerdict(b, tl.Crashes); !v.Suspect || v.Confidence != "medium" || !strings.Contains(v.Reasons[0], "non-canonical") {
		t.Errorf("crash B verdict %+v", v)
	}

	if a.Note != "" {
		t.Errorf("crash A note %q", a.Note)
	}
	if c.Code != 0x7a || !c.DumpWritten || c.NoDump || len(c.DumpEvents) != 1 || len(c.StorageErrors) != 2 || !strings.Contains(c.StorageErrors[1].Summary, "reset to device") {
		t.Errorf("crash C: %s, storage %+v", c.Summary(), c.StorageErrors)
	}
	if v := HardwareVerdict(c, tl.Crashes); !v.Suspect || v.Confidence != "medium" {
		t.Errorf("crash C verdict %+v", v)
	}

	if !d.PowerLoss || d.BugCheck || !d.NoDump {
		t.Errorf("crash D: %s", d.Summary())
	}
	if v := HardwareVerdict(d, tl.Crashes); v.Suspect {
		t.Errorf("crash D verdict %+v", v)
	}
	if tl.Entries[0].Kind != KindBoot || tl.Entries[0].OS != "Windows 10.00 build 19045 (Multiprocessor Free)" {
		t.Errorf("first entry %+v", tl.Entries[0])
	}
}

// dumpOf writes a triage dump with our own writer, reads it back and
// analyses it, the way `bugcheck analyze --events` will.
func dumpOf(t *testing.T, path string, at time.Time, code uint32, params [4]uint64) Dump {
	t.Helper()
	tr := sample.Triage()
	tr.Time, tr.BugCheck, tr.Params = at, code, params
	b, err := tr.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := kdump.NewFile(bytes.NewReader(b), int64(len(b)), path)
	if err != nil {
		t.Fatal(err)
	}
	r := analyze.Analyze(f, analyze.Options{})
	if r.CrashTime != at.UTC().Format(time.RFC3339) || r.BugCheck.Code != fmt.Sprintf("%#x", code) {
		t.Fatalf("analysed dump: time %s code %s", r.CrashTime, r.BugCheck.Code)
	}
	return DumpFromHeader(path, f.Header)
}

func TestCorrelate(t *testing.T) {
	events := []Event{
		kp41(1, "2026-01-10T09:35:00Z", 0x124, 0),
		ev6008(2, "2026-01-10T09:35:30Z", ts("2026-01-10T09:30:00Z")),
		bc1001(3, "2026-01-10T09:36:10Z", 0x124, 0, `C:\Windows\Minidump\011026-8000-01.dmp`, "011026-8000-01"),
		kp41(10, "2026-01-11T12:00:10Z", 0x50, 0xffffc80a19e07000),
		bc1001(11, "2026-01-11T12:01:00Z", 0x50, 0xffffc80a19e07000, `C:\Windows\MEMORY.DMP`, "011126-9000-01"),
		kp41(20, "2026-01-12T07:20:00Z", 0xd1, 0),
		kp41(30, "2026-01-13T18:00:00Z", 0, 0),
	}
	tl := Build(events, Options{})
	if len(tl.Crashes) != 4 {
		t.Fatalf("%d crashes", len(tl.Crashes))
	}
	if c := tl.Crashes[2]; c.Code != 0xd1 || !strings.Contains(c.Note, "no bug check report (WER 1001)") || c.NoDump {
		t.Errorf("0xd1 crash without 1001: note %q, no dump %v", c.Note, c.NoDump)
	}
	dumps := []Dump{
		// A minidump copied off the machine, renamed by the report id.
		dumpOf(t, "/cases/4711/011026-8000-01-PC42.dmp", ts("2026-01-10T09:29:58Z"), 0x124, [4]uint64{}),
		// MEMORY.DMP: its name proves nothing, code, parameters and time do.
		dumpOf(t, `D:\dumps\MEMORY.DMP`, ts("2026-01-11T11:58:00Z"), 0x50, [4]uint64{0xffffc80a19e07000, 2, 0, 0}),
		// Same time as the 0xd1 crash but another code: no match.
		dumpOf(t, "other.dmp", ts("2026-01-12T07:19:00Z"), 0x3b, [4]uint64{}),
		// Years before the log.
		dumpOf(t, "old.dmp", ts("2020-01-01T00:00:00Z"), 0x50, [4]uint64{}),
	}
	res := Correlate(tl, dumps, CorrelateOptions{})
	want := []struct {
		crash int // index in tl.Crashes, -1 none
		how   string
		note  string
	}{
		{0, "report id", ""},
		{1, "code, parameters and time", ""},
		{-1, "", "bug check 0x000000D1, not 0x0000003B"},
		{-1, "", "outside the log"},
	}
	for i, w := range want {
		m := res.Matches[i]
		var got *Crash
		if w.crash >= 0 {
			got = tl.Crashes[w.crash]
		}
		if m.Crash != got || m.How != w.how || !strings.Contains(m.Note, w.note) {
			t.Errorf("dump %s: matched %v by %q (%s), want crash %d by %q (%s)", m.Dump.Path, m.Crash != nil, m.How, m.Note, w.crash, w.how, w.note)
		}
	}
	if len(res.NoDump) != 2 || res.NoDump[0] != tl.Crashes[2] || res.NoDump[1] != tl.Crashes[3] || !res.NoDump[1].PowerLoss {
		t.Errorf("crashes without dump: %v", res.NoDump)
	}

	// Exact minidump path from the 1001 event.
	res = Correlate(tl, []Dump{{Path: `C:\Windows\Minidump\011026-8000-01.dmp`, Code: 0x124}}, CorrelateOptions{})
	if res.Matches[0].Crash != tl.Crashes[0] || res.Matches[0].How != "dump file name" {
		t.Errorf("by path: %+v", res.Matches[0])
	}
	// A dump whose parameters differ still matches by code and time, with a note.
	res = Correlate(tl, []Dump{{Path: "x.dmp", Time: ts("2026-01-11T11:59:00Z"), Code: 0x50, Params: [4]uint64{1, 2, 3, 4}}}, CorrelateOptions{})
	if res.Matches[0].Crash != tl.Crashes[1] || res.Matches[0].How != "code and time" || res.Matches[0].Note == "" {
		t.Errorf("parameters differ: %+v", res.Matches[0])
	}
}

// TestCorrelateCorpus matches a dump of the real crash by code and time:
// MEMORY.DMP is not matched by name.
func TestCorrelateCorpus(t *testing.T) {
	tl, warns, err := ReadTimeline([]string{corpus.Path(t, "evtx", "crash-sequence-system.evtx"), "/nonexistent/System.evtx"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/System.evtx") || len(warns) != 0 || tl.Events != 1601 {
		t.Fatalf("ReadTimeline: %d events, %v, %v", tl.Events, warns, err)
	}
	res := Correlate(tl, []Dump{
		{Path: `C:\Windows\MEMORY.DMP`, Time: ts("2012-04-06T14:01:40Z"), Code: 0x10001},
		{Path: `C:\Windows\MEMORY.DMP`, Time: ts("2012-04-06T14:01:40Z"), Code: 0x50},
	}, CorrelateOptions{})
	if m := res.Matches[0]; m.Crash != tl.Crashes[0] || m.How != "code, parameters and time" {
		t.Errorf("0x10001 dump: %+v", m)
	}
	if m := res.Matches[1]; m.Crash != nil || !strings.Contains(m.Note, "0x00010001") {
		t.Errorf("0x50 dump: %+v", m)
	}
	if len(res.NoDump) != 1 || !res.NoDump[0].PowerLoss {
		t.Errorf("no dump: %+v", res.NoDump)
	}
}

// FuzzBuild feeds arbitrary field text to the event parsers (1001's
// parameter string, 6008's binary data, 41's numbers).
func FuzzBuild(f *testing.F) {
	f.Add("0x00010001 (0x0000000000000000, 0x0, 0x0, 0x0)", "DC0704000500060009003B000D001D00DC070400050006000D003B000D001D00", "65537", int64(0))
	f.Add("", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, param1, binary, code string, dt int64) {
		base := ts("2026-01-10T09:35:00Z")
		evs := []Event{
			{RecordID: 1, Time: base, Provider: kp, EventID: 41, Data: map[string]string{"BugcheckCode": code, "BugcheckParameter1": param1}},
			{RecordID: 2, Time: base.Add(time.Duration(dt)), Provider: "EventLog", EventID: 6008, Data: map[string]string{"Binary": binary}},
			{RecordID: 3, Time: base.Add(time.Duration(dt) * 2), Provider: wer, EventID: 1001, Data: map[string]string{"param1": param1, "param2": code}},
		}
		tl := Build(evs, Options{})
		for _, c := range tl.Crashes {
			_ = c.Summary()
			_ = HardwareVerdict(c, tl.Crashes)
		}
		_ = Correlate(tl, []Dump{{Path: code, Time: base, Code: 0x10001}}, CorrelateOptions{})
	})
}

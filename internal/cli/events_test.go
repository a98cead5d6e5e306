package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

func TestEventsText(t *testing.T) {
	log := corpus.Path(t, "evtx", "crash-sequence-system.evtx")
	code, out, errs := run("events", log)
	if code != ExitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{
		"crash-sequence-system.evtx: 1601 events",
		"2012-04-06 13:59:13  CRASH     bug check 0x00010001 (0x0, 0x0, 0x0, 0x0); dump C:\\Windows\\MEMORY.DMP; report 040612-50390-01  [Kernel-Power 41, record 13392]",
		"2012-04-06 14:06:51  boot      Windows 6.01 build 7601 Service Pack 1 (Multiprocessor Free)",
		"Crashes: 2",
		"evidence: Kernel-Power 41, record 13392; EventLog 6008, record 13388; WER-SystemErrorReporting 1001, record 13423",
		"2. 2012-04-06 19:09:23 UTC  stopped without a bug check (Kernel-Power 41, code 0)",
		"service installed: Mnemosyne, kernel mode driver",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "uptime") || strings.Contains(out, "PsExec") {
		t.Error("routine entries (uptime, user-mode services) shown without --all")
	}
	if _, all, _ := run("events", "--all", log); !strings.Contains(all, "uptime") || !strings.Contains(all, "PsExec") {
		t.Error("--all does not show uptime and service entries")
	}
}

func TestEventsJSON(t *testing.T) {
	log := corpus.Path(t, "evtx", "crash-sequence-system.evtx")
	code, out, errs := run("events", "--json", log)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Files []struct {
			File   string
			Events int
		}
		Timeline []struct {
			Kind    string
			Summary string
			Event   struct {
				RecordID uint64 `json:"record_id"`
			}
		}
		Crashes []struct {
			Code       string
			Parameters []string
			DumpPath   string `json:"dump_path"`
			ReportID   string `json:"report_id"`
			PowerLoss  bool   `json:"power_loss"`
			NoDump     bool   `json:"no_dump"`
			Time       string
			Evidence   []struct {
				RecordID uint64 `json:"record_id"`
				EventID  uint16 `json:"event_id"`
			}
			Hardware struct {
				Suspect bool `json:"suspect_hardware"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Files) != 1 || r.Files[0].Events != 1601 || len(r.Crashes) != 2 {
		t.Fatalf("files %+v, %d crashes", r.Files, len(r.Crashes))
	}
	c := r.Crashes[0]
	if c.Code != "0x10001" || len(c.Parameters) != 4 || c.Parameters[0] != "0x0" || c.DumpPath != `C:\Windows\MEMORY.DMP` ||
		c.ReportID != "040612-50390-01" || c.PowerLoss || c.NoDump || c.Time != "2012-04-06T13:59:13.029Z" ||
		len(c.Evidence) != 3 || c.Evidence[2].RecordID != 13423 || c.Evidence[2].EventID != 1001 || c.Hardware.Suspect {
		t.Errorf("crash 1: %+v", c)
	}
	c = r.Crashes[1]
	if c.Code != "" || !c.PowerLoss || !c.NoDump || len(c.Evidence) != 2 || c.Evidence[0].RecordID != 13534 {
		t.Errorf("crash 2: %+v", c)
	}
	crashes := 0
	for _, e := range r.Timeline {
		if e.Kind == "crash" {
			crashes++
		}
		if e.Kind == "uptime" {
			t.Error("uptime entries in JSON without --all")
		}
	}
	if crashes != 2 {
		t.Errorf("%d crash entries in the timeline", crashes)
	}
}

func TestEventsExitCodes(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.evtx")
	os.WriteFile(junk, []byte("this is not an event log, just some text"), 0o644)
	code, out, errs := run("events", junk)
	if code != ExitFailed || !strings.Contains(errs, "junk.evtx: offset 0x0: not a Windows event log") || !strings.Contains(out, "Crashes: 0") {
		t.Errorf("junk: exit %d, stderr %q", code, errs)
	}
	if code, _, _ := run("events"); code != ExitUsage {
		t.Errorf("no args: exit %d", code)
	}
	if code, _, errs := run("events", filepath.Join(dir, "missing.evtx")); code != ExitFailed || !strings.Contains(errs, "missing.evtx") {
		t.Errorf("missing: exit %d %q", code, errs)
	}
	// Damaged records are warnings, not failures.
	damaged := corpus.Path(t, "evtx", "sample-with-zero-data-size-event.evtx")
	code, out, errs = run("events", damaged)
	if code != ExitOK || !strings.Contains(errs, "warning: sample-with-zero-data-size-event.evtx: offset 0x1820: record 3: bad size 0") ||
		!strings.Contains(out, "449 events, 2 damaged chunk(s) or record(s) skipped") {
		t.Errorf("damaged: exit %d, stderr %q, out %q", code, errs, out[:min(len(out), 200)])
	}
}

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/sample"
)

// TestAnalyzeWithEvents matches a minidump named after the WER report id
// of the real crash in the corpus System log, and lists the log's other
// crash (a power loss) as one without a dump.
func TestAnalyzeWithEvents(t *testing.T) {
	log := corpus.Path(t, "evtx", "crash-sequence-system.evtx")
	d := sample.Triage()
	d.BugCheck, d.Params = 0x10001, [4]uint64{}
	d.Time = time.Date(2012, 4, 6, 13, 59, 10, 0, time.UTC)
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "040612-50390-01.dmp")
	if err := os.WriteFile(dump, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("analyze", "--events", log, dump)
	for _, want := range []string{"EVENT LOG", "This crash in the log: 2012-04-06", "bug check 0x00010001", "Kernel-Power 41, record 13392", "record 13423",
		"Crashes in the log without a dump here:", "power loss"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, missing %q\n%s%s", code, want, out, errOut)
		}
	}
	_, out, _ = run("analyze", "--json", "--events", log, dump)
	var r struct {
		Events struct {
			Matched   bool
			How       string
			Events    []string
			Unmatched []string `json:"crashes_without_dump"`
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || !r.Events.Matched || len(r.Events.Events) < 3 || len(r.Events.Unmatched) != 1 {
		t.Errorf("json events %+v %v", r.Events, err)
	}
	if code, _, errOut := run("analyze", "--events", "nosuch.evtx", dump); code != 1 || !strings.Contains(errOut, "nosuch.evtx") {
		t.Errorf("missing log: exit %d %s", code, errOut)
	}
	if code, _, _ := run("analyze", "--events", log, "--format", "csv", dump); code != 2 {
		t.Errorf("--events with csv: exit %d", code)
	}
}

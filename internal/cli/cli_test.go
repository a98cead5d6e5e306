package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/bugcode"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/sample"
)

var update = flag.Bool("update", false, "rewrite golden files and the shipped sample dump")

const samplePath = "../../samples/page-fault-0x50.dmp"

// TestMain keeps a developer's own symbol path from reaching symbol
// servers during tests and changing golden output.
func TestMain(m *testing.M) {
	os.Unsetenv("_NT_SYMBOL_PATH")
	os.Exit(m.Run())
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestShippedSample keeps the sample dump in the repository identical to
// what the generator writes.
func TestShippedSample(t *testing.T) {
	want := sample.Bytes()
	if *update {
		if err := os.WriteFile(samplePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the generator's output: run go test ./internal/cli -update", samplePath)
	}
}

func TestGoldenReports(t *testing.T) {
	cases := []struct {
		golden string
		args   []string
	}{
		{"sample.txt", []string{"analyze", samplePath}},
		{"sample.json", []string{"analyze", "--json", samplePath}},
		{"sample-modules.txt", []string{"modules", samplePath}},
		{"sample-header.txt", []string{"header", samplePath}},
		{"sample.md", []string{"analyze", "--format", "markdown", samplePath}},
		{"explain-0x50.txt", []string{"explain", "0x50"}},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			code, out, errs := run(c.args...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			path := filepath.Join("testdata", c.golden)
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (run with -update after checking the change):\n%s", path, out)
			}
		})
	}
}

func TestCorpusJSON(t *testing.T) {
	path := corpus.Path(t, "dumps", "triage_x64.dmp")
	code, out, errs := run("analyze", "--json", path)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Format   string `json:"format"`
		Arch     string `json:"arch"`
		OS       struct{ Build, Processors int }
		Crash    string  `json:"crash_time"`
		Uptime   float64 `json:"uptime_seconds"`
		BugCheck struct {
			Code       string   `json:"code"`
			Name       string   `json:"name"`
			Parameters []string `json:"parameters"`
		} `json:"bugcheck"`
		Exception struct{ Code string } `json:"exception"`
		Faulting  struct {
			Module, Offset, Instruction string
		} `json:"faulting_ip"`
		Culprit struct{ Module, Reason string } `json:"culprit"`
		Modules []struct {
			Name, Path, Base, Size, Timestamp string
		} `json:"modules"`
		Stack []struct{ Value string } `json:"stack"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Format != "kernel-triage" || r.Arch != "x64" || r.OS.Build != 19041 || r.OS.Processors != 16 ||
		r.Crash != "2021-02-21T01:38:22Z" || r.BugCheck.Code != "0x1000007e" ||
		r.BugCheck.Name != "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M" || len(r.BugCheck.Parameters) != 4 ||
		r.Exception.Code != "0xc0000005" || r.Faulting.Module != "amdppm.sys" || r.Faulting.Offset != "0x334c" ||
		r.Faulting.Instruction == "" || r.Culprit.Module != "amdppm.sys" || r.Culprit.Reason == "" ||
		len(r.Modules) != 151 || r.Modules[0].Name != "ntoskrnl.exe" || r.Modules[0].Timestamp == "" || len(r.Stack) == 0 {
		t.Errorf("unexpected report: %+v", r)
	}
}

func TestExplainInputs(t *testing.T) {
	for _, in := range []string{"0x50", "50", "0x00000050", "page_fault_in_nonpaged_area", "PAGE_FAULT_IN_NONPAGED_AREA"} {
		code, out, errs := run("explain", in)
		if code != ExitOK || !strings.Contains(out, "0x00000050 PAGE_FAULT_IN_NONPAGED_AREA") {
			t.Errorf("explain %s: exit %d %q %q", in, code, out, errs)
		}
	}
	code, out, _ := run("explain", "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M")
	if code != ExitOK || !strings.Contains(out, "0x1000007E") {
		t.Errorf("explain _M name: %q", out)
	}
}

// TestExplainEveryCode runs explain on every documented code, by number
// and by name.
func TestExplainEveryCode(t *testing.T) {
	for _, c := range bugcode.Codes() {
		name := bugcode.Name(c)
		for _, arg := range []string{fmt.Sprintf("%#x", c), name} {
			code, out, errs := run("explain", arg)
			if code != ExitOK || !strings.Contains(out, fmt.Sprintf("0x%08X %s", c, name)) {
				t.Fatalf("explain %s: exit %d, %q %q", arg, code, out, errs)
			}
		}
	}
}

func TestModulesWithImages(t *testing.T) {
	dump := corpus.Path(t, "dumps", "triage_x64.dmp")
	code, out, errs := run("modules", "--offline", "--images", corpus.Path(t, "symstore"), dump)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "amdppm.sys") && !strings.Contains(line, "Processor Device Driver") {
			t.Errorf("amdppm.sys line lacks its description: %q", line)
		}
	}
	if !strings.Contains(out, "Microsoft Corporation") || !strings.Contains(out, "Description") {
		t.Errorf("no version columns:\n%s", out[:min(len(out), 400)])
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.dmp")
	os.WriteFile(junk, []byte("this is not a crash dump at all, just text"), 0o644)

	code, _, errs := run("analyze", junk)
	if code != ExitFailed || !strings.Contains(errs, "junk.dmp") || !strings.Contains(errs, "offset 0x0") {
		t.Errorf("junk: exit %d, stderr %q", code, errs)
	}
	code, out, _ := run("analyze", "--json", samplePath, junk)
	if code != ExitFailed || !strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("mixed: exit %d, stdout starts %q", code, out[:min(len(out), 20)])
	}
	if code, _, _ := run("analyze"); code != ExitUsage {
		t.Errorf("no args: exit %d", code)
	}
	if code, _, _ := run("analyze", "--no-such-flag", samplePath); code != ExitUsage {
		t.Errorf("bad flag: exit %d", code)
	}
	if code, _, _ := run("analyze", "--format", "yaml", samplePath); code != ExitUsage {
		t.Errorf("bad format: exit %d", code)
	}
	if code, _, _ := run("explain", "NOT_A_BUGCHECK"); code != ExitUsage {
		t.Errorf("bad code: exit %d", code)
	}
	if code, _, _ := run("frobnicate"); code != ExitUsage {
		t.Errorf("bad command: exit %d", code)
	}
	if code, _, errs := run("analyze", filepath.Join(dir, "missing.dmp")); code != ExitFailed || !strings.Contains(errs, "missing.dmp") {
		t.Errorf("missing file: exit %d %q", code, errs)
	}
}

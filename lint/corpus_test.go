package lint

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/lint/csrc"
)

// Pinned quality figures; raise them when the checks improve, never lower
// them to make a change pass.
const (
	minCodeQLRecall = 1.00 // on the CodeQL expected hits of the mapped queries (54 of 54)
	minCodeQLAll    = 0.90 // on every CodeQL expected hit, mapped or not (54 of 60)
	minToolsRecall  = 0.95 // on every defect injected into the fail drivers and the KASAN demo (19 of 20)
	maxFPPerKLOC    = 0.00 // false positives per 1,000 lines on the production samples (wds/ minus tools/)
)

func readTSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows
}

type corpusRun struct {
	root    string
	results map[string]FileResult // by corpus-relative path
}

func lintCorpus(t *testing.T) *corpusRun {
	t.Helper()
	if !csrc.HasFrontEnd {
		t.Skip("built without cgo: no C front end")
	}
	dir := corpus.Path(t, "driver-src")
	root := filepath.Dir(dir)
	files, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	run := &corpusRun{root: root, results: map[string]FileResult{}}
	for i, r := range l.Files(files) {
		rel, _ := filepath.Rel(root, files[i])
		run.results[filepath.ToSlash(rel)] = r
	}
	return run
}

func (r *corpusRun) hit(file string, line int, rules map[string]bool) bool {
	return r.hitIn(file, line, line, rules)
}

// hitIn reports a finding of one of the rules on lines from..to.
func (r *corpusRun) hitIn(file string, from, to int, rules map[string]bool) bool {
	for _, f := range r.results[file].Findings {
		if f.Line >= from && f.Line <= to && rules[f.Rule] {
			return true
		}
	}
	return false
}

func TestCorpusQuality(t *testing.T) {
	run := lintCorpus(t)

	// CodeQL recall on the mapped queries.
	mapping := map[string]map[string]bool{}
	for _, row := range readTSV(t, "testdata/codeql-map.tsv") {
		mapping[row[0]] = map[string]bool{}
		for _, id := range strings.Fields(row[1]) {
			mapping[row[0]][id] = true
		}
	}
	exp := readTSV(t, filepath.Join(run.root, "driver-src", "codeql-expected.tsv"))
	found, total, unmapped := 0, 0, 0
	for _, row := range exp[1:] {
		rules, ok := mapping[row[0]]
		if !ok {
			unmapped++
			t.Logf("CodeQL query no rule covers: %s %s:%s", row[0], row[2], row[3])
			continue
		}
		line, _ := strconv.Atoi(row[3])
		total++
		if run.hit("driver-src/"+row[2], line, rules) {
			found++
		} else {
			t.Logf("CodeQL miss: %s %s:%d", row[0], row[2], line)
		}
	}
	codeqlRecall := float64(found) / float64(total)

	// Fail drivers: every injected defect; those no rule covers count as misses.
	tf, tt, uncovered := 0, 0, 0
	for _, row := range readTSV(t, "testdata/expected-tools.tsv") {
		tt++
		if row[2] == "-" {
			uncovered++
			t.Logf("fail-driver defect no rule covers: %s:%s (%s)", row[0], row[1], row[3])
			continue
		}
		a, b, isRange := strings.Cut(row[1], "-")
		from, _ := strconv.Atoi(a)
		to := from
		if isRange {
			to, _ = strconv.Atoi(b)
		}
		if run.hitIn(row[0], from, to, map[string]bool{row[2]: true}) {
			tf++
		} else {
			t.Logf("fail-driver miss: %s:%s %s (%s)", row[0], row[1], row[2], row[3])
		}
	}
	toolsRecall := float64(tf) / float64(tt)

	// Production samples: every finding not confirmed by reading the code
	// (testdata/wds-confirmed.tsv) is a false positive.
	confirmed := map[string]bool{}
	for _, row := range readTSV(t, "testdata/wds-confirmed.tsv") {
		confirmed[row[0]+":"+row[1]+":"+row[2]] = true
	}
	lines, fps, tps := 0, 0, 0
	for rel, r := range run.results {
		if !strings.HasPrefix(rel, "driver-src/wds/") || strings.HasPrefix(rel, "driver-src/wds/tools/") {
			continue
		}
		lines += r.Lines
		for _, f := range r.Findings {
			if confirmed[fmt.Sprintf("%s:%d:%s", rel, f.Line, f.Rule)] {
				tps++
				continue
			}
			fps++
			t.Logf("production false positive: %s:%d %s %s", rel, f.Line, f.Rule, f.Message)
		}
	}
	perK := 1000 * float64(fps) / float64(lines)

	fmt.Printf("lint corpus: CodeQL recall %d/%d = %.1f%% (mapped queries), %d/%d = %.1f%% of all expected hits; fail-driver recall %d/%d = %.1f%% (%d of the misses no rule covers); production samples %d false positives (+%d confirmed defects) in %d lines = %.2f per 1,000 lines\n",
		found, total, 100*codeqlRecall, found, total+unmapped, 100*float64(found)/float64(total+unmapped), tf, tt, 100*toolsRecall, uncovered, fps, tps, lines, perK)
	if all := float64(found) / float64(total+unmapped); all < minCodeQLAll {
		t.Errorf("CodeQL recall over all expected hits %.3f fell below the pinned %.2f", all, minCodeQLAll)
	}
	if codeqlRecall < minCodeQLRecall {
		t.Errorf("CodeQL recall %.3f fell below the pinned %.2f", codeqlRecall, minCodeQLRecall)
	}
	if toolsRecall < minToolsRecall {
		t.Errorf("fail-driver recall %.3f fell below the pinned %.2f", toolsRecall, minToolsRecall)
	}
	if perK > maxFPPerKLOC {
		t.Errorf("%.2f false positives per 1,000 production lines exceeds the pinned %.2f", perK, maxFPPerKLOC)
	}
}

// BenchmarkLintCorpus lints the corpus with the default (Go) front end;
// BenchmarkLintCorpusTreeSitter with tree-sitter's, for comparison.
func BenchmarkLintCorpus(b *testing.B) { benchLintCorpus(b, csrc.DefaultFrontEnd) }

func BenchmarkLintCorpusTreeSitter(b *testing.B) {
	if !csrc.HasTreeSitter {
		b.Skip("built without cgo")
	}
	benchLintCorpus(b, csrc.FrontEndTreeSitter)
}

func benchLintCorpus(b *testing.B, frontEnd string) {
	dir := corpus.Path(b, "driver-src")
	files, err := Expand([]string{dir})
	if err != nil {
		b.Fatal(err)
	}
	srcs := make([][]byte, len(files))
	size := 0
	for i, p := range files {
		srcs[i], _ = os.ReadFile(p)
		size += len(srcs[i])
	}
	l, err := NewWith(frontEnd)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, s := range srcs {
			l.Source(files[j], s)
		}
	}
	b.ReportMetric(float64(len(files)*b.N)/b.Elapsed().Seconds(), "files/s")
}

// Every finding the tree-sitter front end leads to on the corpus, the Go
// front end leads to as well (on this corpus they agree exactly).
func TestCorpusFrontEndsAgree(t *testing.T) {
	if !csrc.HasTreeSitter {
		t.Skip("built without cgo: no tree-sitter front end")
	}
	dir := corpus.Path(t, "driver-src")
	files, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	findings := func(frontEnd string) map[string]bool {
		l, err := NewWith(frontEnd)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out := map[string]bool{}
		for _, r := range l.Files(files) {
			for _, f := range r.Findings {
				out[fmt.Sprintf("%s:%d %s in %s", f.Path, f.Line, f.Rule, f.Function)] = true
			}
		}
		return out
	}
	ts, gp := findings(csrc.FrontEndTreeSitter), findings(csrc.FrontEndGo)
	for k := range ts {
		if !gp[k] {
			t.Errorf("only with tree-sitter: %s", k)
		}
	}
	for k := range gp {
		if !ts[k] {
			t.Logf("only with the Go front end: %s", k)
		}
	}
	if len(ts) < 100 {
		t.Errorf("%d findings with tree-sitter", len(ts))
	}
	t.Logf("%d findings with tree-sitter, %d with the Go front end", len(ts), len(gp))
}

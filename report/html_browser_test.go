package report_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium to drive: $BUGCHECK_CHROMIUM, else the usual
// names on PATH. Outside CI the browser test skips without one; in CI
// (CI=true) a missing browser fails it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BUGCHECK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (install Debian's chromium package or set BUGCHECK_CHROMIUM)")
	}
	t.Skip("no Chromium found; install chromium or set BUGCHECK_CHROMIUM to run the browser test")
	return ""
}

// TestHTMLInBrowser opens the HTML report in headless Chromium: it renders
// its sections in the intended order and clicking a column heading sorts
// the table, and clicking again reverses it.
func TestHTMLInBrowser(t *testing.T) {
	exe := chromium(t)
	dir, want := generate(t, 40)
	page, _ := runFormat(t, dir, "html")
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // Chromium refuses to run as root with its sandbox
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	// The deadline is on the browser's own context: it bounds the whole
	// test, browser included.
	root, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancel := chromedp.NewExecAllocator(root, opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.ToSlash(file)), chromedp.WaitVisible(chromedp.CSS("#crashes"))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	rows := eval(`document.querySelectorAll("#crashes tbody tr").length`)
	summaryAbove := eval(`document.getElementById("summary").getBoundingClientRect().top < document.getElementById("dumps").getBoundingClientRect().top`)
	chartDrawn := eval(`document.querySelector("#chart svg").getBoundingClientRect().width > 100 && document.querySelectorAll("#chart rect.bar").length > 0`)
	if title != "Fleet <test>" || rows != float64(want.Inputs) || summaryAbove != true || chartDrawn != true {
		t.Errorf("title %q, %v rows (want %d), summary above table %v, chart drawn %v", title, rows, want.Inputs, summaryAbove, chartDrawn)
	}

	// column returns the sort keys of a column, top to bottom.
	column := func(n int) []string {
		t.Helper()
		keys, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#crashes tbody tr")).map(r => {
			const c = r.cells[`+itoa(n)+`]; return c.hasAttribute("data-sort") ? c.getAttribute("data-sort") : c.textContent.toLowerCase() })`))
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	// click clicks the heading of column n and waits until the table
	// says it is sorted that way (the click's handler runs after the
	// input event returns).
	click := func(n int, order string) {
		t.Helper()
		th := "#crashes thead th:nth-child(" + itoa(n+1) + ")"
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(th)), chromedp.WaitVisible(chromedp.CSS(th+"[aria-sort="+order+"]"))); err != nil {
			t.Fatalf("sorting column %d %s: %v", n, order, err)
		}
	}
	click(1, "ascending") // Crash Time
	asc := column(1)
	click(1, "descending")
	desc := column(1)
	click(0, "ascending") // Dump File
	names := column(0)
	if len(asc) != want.Inputs || !sort.StringsAreSorted(asc) {
		t.Errorf("after one click crash times are not ascending: %v", asc)
	}
	rev := slices.Clone(desc)
	slices.Reverse(rev)
	if !sort.StringsAreSorted(rev) || desc[0] == asc[0] {
		t.Errorf("after two clicks crash times are not descending: %v", desc)
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("dump names not sorted: %v", names)
	}
}

package report_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bugcheck/bugcheck/internal/browsertest"
)

// TestHTMLInBrowser opens the HTML report in headless Chromium: it renders
// its sections in the intended order and clicking a column heading sorts
// the table, and clicking again reverses it.
func TestHTMLInBrowser(t *testing.T) {
	dir, want := generate(t, 40)
	page, _ := runFormat(t, dir, "html")
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := browsertest.Context(t, 90*time.Second)

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

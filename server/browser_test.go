package server

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/internal/browsertest"
)

// TestBrowser uploads one dump through the API and another through the
// upload form in headless Chromium, then opens the bucket page there and
// checks that both crashes show: count, chart, machines, sample links, and
// the crash page behind a sample link. Last, it signs in as an
// administrator and makes a token on the admin page.
func TestBrowser(t *testing.T) {
	e := newEnv(t, nil)
	k := fleettest.Kinds[1]
	apiDump, formDump := fleettest.Crash(k, 1), fleettest.Crash(k, 3)
	if st, _ := e.uploadRaw(e.upload, apiDump, "api.dmp", "pc-api"); st != 201 {
		t.Fatalf("API upload: %d", st)
	}
	formFile := filepath.Join(t.TempDir(), "form.dmp")
	if err := os.WriteFile(formFile, formDump, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx := browsertest.Context(t, 90*time.Second)

	// The form: token, machine, file; submitting lands on the upload's
	// page, which reloads itself (app.js) until the analysis is done.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/upload"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), e.upload),
		chromedp.SendKeys(chromedp.CSS(`input[name=machine]`), "pc-form"),
		chromedp.SetUploadFiles(chromedp.CSS(`input[name=file]`), []string{formFile}),
		chromedp.Click(chromedp.CSS(`form.upload button`)),
		chromedp.WaitVisible(chromedp.CSS(`#status`)),
	); err != nil {
		t.Fatalf("upload form: %v", err)
	}
	e.waitIdle()
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#status`))); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#status`)))
	if err != nil || status != "done" {
		t.Errorf("upload page status %q, %v", status, err)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/buckets/"+url.PathEscape(k.Bucket)), chromedp.WaitVisible(chromedp.CSS(`#bucket-id`))); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	id := eval(`document.getElementById("bucket-id").textContent`)
	count := eval(`document.getElementById("bucket-count").textContent`)
	bars := eval(`document.querySelectorAll("#trend rect.bar").length`)
	chartWide := eval(`document.querySelector("#trend svg").getBoundingClientRect().width > 100`)
	machines := eval(`Array.from(document.querySelectorAll("#machines td:first-child")).map(td => td.textContent).sort().join(",")`)
	samples := eval(`document.querySelectorAll("#samples tbody a[href^='/crashes/']").length`)
	if id != k.Bucket || count != "2" || bars.(float64) < 1 || chartWide != true || machines != "pc-api,pc-form" || samples != float64(2) {
		t.Errorf("bucket page: id %v, count %v, %v bars (wide %v), machines %v, %v sample links", id, count, bars, chartWide, machines, samples)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#samples tbody a[href^='/crashes/']`)), chromedp.WaitVisible(chromedp.CSS(`#report`))); err != nil {
		t.Fatal(err)
	}
	rep := eval(`document.getElementById("report").textContent`)
	if s, _ := rep.(string); !strings.Contains(s, "PAGE_FAULT_IN_NONPAGED_AREA") || !strings.Contains(s, k.Driver) {
		t.Errorf("crash page report does not name the bug check and %s:\n%.400s", k.Driver, s)
	}

	// Sign in as an administrator; the layout names the token, and the
	// admin page makes a token whose secret it shows once.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form.login input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`form.login input[name=token]`), e.admin),
		chromedp.Click(chromedp.CSS(`form.login button`)),
		chromedp.WaitVisible(chromedp.CSS(`#user`)),
	); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if user := eval(`document.getElementById("user").textContent`); user != "admin token (admin)" {
		t.Errorf("signed in as %v", user)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.newtoken input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`form.newtoken input[name=name]`), "browser pc"),
		chromedp.SetValue(chromedp.CSS(`form.newtoken select[name=role]`), "read"),
		chromedp.Click(chromedp.CSS(`form.newtoken button`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-token`)),
	); err != nil {
		t.Fatalf("admin page: %v", err)
	}
	secret, _ := eval(`document.getElementById("new-token").textContent`).(string)
	rows := eval(`Array.from(document.querySelectorAll("table.tokens tbody tr td:first-child")).map(td => td.textContent).join(",")`)
	if !strings.HasPrefix(secret, TokenPrefix) || rows != "admin token,upload token,read token,browser pc" {
		t.Fatalf("new token %q, token rows %v", secret, rows)
	}
	if resp, _ := e.do("GET", "/api/v1/tokens", secret, nil, nil); resp.StatusCode != 403 {
		t.Errorf("the new read token on an admin endpoint: %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/api/v1/crashes", secret, nil, nil); resp.StatusCode != 200 {
		t.Errorf("the new read token reading crashes: %d", resp.StatusCode)
	}
}

// Package browsertest starts headless Chromium for the project's browser
// tests (the HTML report, the server's pages).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium finds a Chromium to drive: $BUGCHECK_CHROMIUM, else the usual
// names on PATH. Outside CI the test skips without one; in CI (CI=true) a
// missing browser fails it.
func Chromium(t testing.TB) string {
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

// Context starts headless Chromium for a test and returns a browser
// context bounded by timeout; the browser stops when the test ends. Root
// disables the sandbox (Chromium refuses it as root) and everything that
// would reach the network.
func Context(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	exe := Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
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
	root, cancelRoot := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); cancelRoot() })
	return ctx
}

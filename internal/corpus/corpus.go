// Package corpus locates the shared test corpus of real crash dumps, images
// and logs that lives beside the project (../shared/corpus), for tests.
//
// BUGCHECK_CORPUS overrides the location. Outside CI a missing corpus skips
// the test with a message; with CI=true it fails the test, because CI must
// exercise the real artifacts.
package corpus

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// EnvVar names the environment variable that overrides the corpus location.
const EnvVar = "BUGCHECK_CORPUS"

// Root returns the corpus directory and whether it exists.
func Root() (string, bool) {
	dir := os.Getenv(EnvVar)
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		// internal/corpus/corpus.go -> project root -> ../shared/corpus
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
	}
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Path returns the path of a corpus file, skipping (or, in CI, failing) the
// test when the corpus or the file is missing.
func Path(tb testing.TB, rel ...string) string {
	tb.Helper()
	root, ok := Root()
	if !ok {
		missing(tb, "test corpus not found at "+root+" (set "+EnvVar+")")
	}
	p := filepath.Join(append([]string{root}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		missing(tb, "corpus file missing: "+p)
	}
	return p
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + "; CI requires the corpus")
	}
	tb.Skip(msg)
}

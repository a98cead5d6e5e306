package main

import (
	"path/filepath"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"32g": 32 << 30, "512M": 512 << 20, "4096": 4096, "1t": 1 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "g", "-1", "1x", "99999999999999999999g"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
}

// TestRun creates a small dump and runs every measurement on it; the
// stamped pages must read back.
func TestRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "MEMORY.DMP")
	if err := run(path, "64m", 8<<20, 5000); err != nil {
		t.Fatal(err)
	}
	if err := run(filepath.Join(t.TempDir(), "missing.dmp"), "", 1, 1); err == nil {
		t.Error("a missing dump gave no error")
	}
}

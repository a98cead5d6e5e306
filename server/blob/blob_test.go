package blob

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidKey(t *testing.T) {
	h := strings.Repeat("ab", 32)
	tests := []struct {
		key string
		ok  bool
	}{
		{"ab/" + h + ".dmp", true},
		{"ab/" + h + ".dmp.gz", true},
		{"ab/" + h + ".zip", true},
		{"ab/" + h + ".cab", true},
		{"ab/" + h + ".evtx", true},
		{"../" + h + ".dmp", false},
		{"ab/" + h + ".exe", false},
		{"ab/../../etc/passwd", false},
		{"AB/" + strings.ToUpper(h) + ".dmp", false},
		{"ab/" + h + ".dmp/x", false},
		{"ab/" + h[:63] + ".dmp", false},
	}
	for _, tc := range tests {
		if ValidKey(tc.key) != tc.ok {
			t.Errorf("ValidKey(%q) = %v", tc.key, !tc.ok)
		}
	}
}

func TestDir(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.CreateTemp(t.TempDir(), "src")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.WriteString("PAGEDU64 and the rest")
	key := "cd/" + strings.Repeat("cd", 32) + ".dmp"
	if ok, _ := d.Exists(ctx, key); ok {
		t.Fatal("blob exists before Put")
	}
	for range 2 { // a second Put of the same key replaces it
		if err := d.Put(ctx, key, src); err != nil {
			t.Fatal(err)
		}
	}
	r, err := d.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if string(b) != "PAGEDU64 and the rest" || r.Size() != 21 {
		t.Errorf("read back %q (%d bytes)", b, r.Size())
	}
	ents, _ := os.ReadDir(filepath.Join(root, "cd"))
	if len(ents) != 1 {
		t.Errorf("%d files in the blob folder, want 1 (no temporary files left)", len(ents))
	}
	if err := d.Put(ctx, "../x.dmp", src); !errors.Is(err, ErrBadKey) {
		t.Errorf("Put with a bad key: %v", err)
	}
	if _, err := d.Open(ctx, "cd/../../x"); !errors.Is(err, ErrBadKey) {
		t.Errorf("Open with a bad key: %v", err)
	}
}

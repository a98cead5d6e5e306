package cloudblob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	bcblob "github.com/bugcheck/bugcheck/server/blob"
	"github.com/bugcheck/bugcheck/server/blob/cloudblob/s3test"
)

// TestBucket stores, replaces, reads and looks up blobs in a fake S3
// server and in memory and file buckets, and checks that nothing but
// valid keys reaches the bucket and that read copies are removed.
func TestBucket(t *testing.T) {
	tests := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"s3", func(t *testing.T) string { return s3test.Server(t, "dumps") + "&prefix=crash/" }},
		{"mem", func(*testing.T) string { return "mem://" }},
		{"file", func(t *testing.T) string { return "file://" + t.TempDir() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			tmp := t.TempDir()
			b, err := Open(ctx, tc.url(t), tmp)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			content := append([]byte("PAGEDU64"), bytes.Repeat([]byte{0xab}, 70000)...)
			src, err := os.CreateTemp(t.TempDir(), "src")
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			src.Write(content)
			key := "cd/" + strings.Repeat("cd", 32) + ".dmp"
			if ok, err := b.Exists(ctx, key); ok || err != nil {
				t.Fatalf("blob exists before Put: %v, %v", ok, err)
			}
			if _, err := b.Open(ctx, key); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("opening a missing blob: %v", err)
			}
			for range 2 { // a second Put of the same key replaces it
				if err := b.Put(ctx, key, src); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := b.Exists(ctx, key); !ok || err != nil {
				t.Errorf("after Put: exists %v, %v", ok, err)
			}
			r, err := b.Open(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 8)
			if _, err := r.ReadAt(got, 70000); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0xab}, 8)) {
				t.Errorf("ReadAt(70000): %x, %v", got, err)
			}
			all, _ := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
			if r.Size() != 70008 || !bytes.Equal(all, content) {
				t.Errorf("read back %d bytes (size %d), want the 70008 put", len(all), r.Size())
			}
			if err := r.Close(); err != nil {
				t.Error(err)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("%d local copies left after Close", len(ents))
			}
			if n, err := b.SizeOf(ctx, key); n != 70008 || err != nil {
				t.Errorf("SizeOf: %d, %v", n, err)
			}
			for _, rg := range []struct{ off, n, want int64 }{{0, 8, 8}, {69990, -1, 18}, {4, 70004, 70004}} {
				rc, err := b.OpenRange(ctx, key, rg.off, rg.n)
				if err != nil {
					t.Fatalf("OpenRange(%d, %d): %v", rg.off, rg.n, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, content[rg.off:rg.off+rg.want]) {
					t.Errorf("OpenRange(%d, %d): %d bytes, %v; want %d", rg.off, rg.n, len(got), err, rg.want)
				}
			}
			missing := "ef/" + strings.Repeat("ef", 32) + ".dmp"
			if _, err := b.SizeOf(ctx, missing); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("SizeOf of a missing blob: %v", err)
			}
			if _, err := b.OpenRange(ctx, missing, 0, -1); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("OpenRange of a missing blob: %v", err)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("%d local copies made by range reads", len(ents))
			}
			if err := b.Put(ctx, "../x.dmp", src); !errors.Is(err, bcblob.ErrBadKey) {
				t.Errorf("Put with a bad key: %v", err)
			}
			if _, err := b.Open(ctx, "cd/../../x"); !errors.Is(err, bcblob.ErrBadKey) {
				t.Errorf("Open with a bad key: %v", err)
			}
		})
	}
}

// TestMissingBucket checks that a bucket that does not exist is refused
// when opened, not at the first upload.
func TestMissingBucket(t *testing.T) {
	u := s3test.Server(t, "dumps")
	if _, err := Open(context.Background(), strings.Replace(u, "s3://dumps", "s3://nosuch", 1), t.TempDir()); err == nil {
		t.Error("opened a bucket that does not exist")
	}
}

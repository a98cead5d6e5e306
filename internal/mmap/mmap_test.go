package mmap

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadAt(t *testing.T) {
	data := make([]byte, LargeRead+5000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	r, err := Open(writeFile(t, data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != int64(len(data)) {
		t.Errorf("Size = %d", r.Size())
	}
	if mapped := runtime.GOOS == "linux" || runtime.GOOS == "windows" || runtime.GOOS == "darwin"; r.Mapped() != mapped {
		t.Errorf("Mapped = %v on %s", r.Mapped(), runtime.GOOS)
	}
	cases := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{"small", 100, 8, 8, nil},
		{"large through the file", 10, LargeRead + 100, LargeRead + 100, nil},
		{"to the end", int64(len(data)) - 8, 8, 8, nil},
		{"past the end", int64(len(data)) - 4, 8, 4, io.EOF},
		{"large past the end", int64(len(data)) - 4, LargeRead, 4, io.EOF},
		{"at the end", int64(len(data)), 1, 0, io.EOF},
		{"far past the end", 1 << 40, 1, 0, io.EOF},
	}
	for _, c := range cases {
		buf := make([]byte, c.n)
		n, err := r.ReadAt(buf, c.off)
		if n != c.wantN || err != c.wantErr {
			t.Errorf("%s: ReadAt = %d, %v; want %d, %v", c.name, n, err, c.wantN, c.wantErr)
		}
		if !bytes.Equal(buf[:n], data[min(c.off, int64(len(data))):][:n]) {
			t.Errorf("%s: wrong bytes", c.name)
		}
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative offset accepted")
	}
}

func TestEmptyFile(t *testing.T) {
	r, err := Open(writeFile(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.ReadAt(make([]byte, 4), 0); n != 0 || err != io.EOF || r.Mapped() {
		t.Errorf("ReadAt = %d, %v; mapped %v", n, err, r.Mapped())
	}
}

func TestClose(t *testing.T) {
	r, err := Open(writeFile(t, []byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
	if err := r.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v", err)
	}
}

// TestShrunkFile cuts the file under the mapping: reading the lost part must
// be an error, not a crash (SIGBUS on Unix).
func TestShrunkFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows does not let a mapped file shrink")
	}
	path := writeFile(t, make([]byte, 64<<10))
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Mapped() {
		t.Skip("not mapped here")
	}
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 8), 0); err != nil {
		t.Errorf("read of the part still there: %v", err)
	}
	if _, err := r.ReadAt(make([]byte, 8), 32<<10); err == nil {
		t.Error("read of the lost part succeeded")
	}
}

func TestConcurrentReads(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	r, err := Open(writeFile(t, data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			buf := make([]byte, 8)
			for i := range 5000 {
				off := int64((i*4099 + g*31) % (len(data) - 8))
				if _, err := r.ReadAt(buf, off); err != nil || buf[0] != byte(off) {
					t.Errorf("read at %d: %v", off, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

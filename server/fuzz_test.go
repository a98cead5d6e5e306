package server

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/server/store"
)

// FuzzCheck feeds arbitrary uploads to the content check that runs before
// anything is stored: it must not panic or hang, and what it accepts must
// start with the signature of the kind it names.
func FuzzCheck(f *testing.F) {
	d := fleettest.Crash(fleettest.Kinds[0], 0)
	f.Add(d)
	f.Add(d[:0x1000])
	f.Add(gz(d))
	f.Add(fleettest.Cabinet([]fleettest.Member{{Name: `Minidump\a.dmp`, Data: d}}, true))
	f.Add(zipOf(f, zipMember{"a.dmp", d, zip.Deflate}))
	f.Add([]byte("MSCF"))
	f.Add([]byte("PK\x03\x04"))
	f.Add(junkLog())
	f.Add(junkLog()[:4096])
	if root, ok := corpus.Root(); ok {
		if b, err := os.ReadFile(filepath.Join(root, "evtx", "crash-sequence-system.evtx")); err == nil {
			f.Add(b[:4096+65536]) // the header and first chunk
		}
	}
	dir := f.TempDir()
	s := &Server{cfg: Config{Store: logStore{}, MaxInflate: 1 << 20, MaxMembers: 50}}
	f.Fuzz(func(t *testing.T, b []byte) {
		tmp, err := os.CreateTemp(dir, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		tmp.Write(b)
		kind, err := s.check(tmp, int64(len(b)))
		if err != nil {
			return
		}
		magic := map[string]string{"dmp": "PAGEDU", "dmp.gz": "\x1f\x8b", "zip": "PK\x03\x04", "cab": "MSCF", "evtx": "ElfFile\x00"}[kind]
		if magic == "" || len(b) < len(magic) || string(b[:len(magic)])[:2] != magic[:2] {
			t.Errorf("accepted as %q: % x", kind, b[:min(len(b), 8)])
		}
	})
}

// logStore is a store that keeps event logs, for the check only.
type logStore struct {
	store.Store
	store.EventStore
}

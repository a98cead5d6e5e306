package fleet_test

import (
	"archive/zip"
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/bugcheck/bugcheck/fleet"
	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/internal/sample"
)

// FuzzArchive feeds arbitrary bytes to the archive readers as a .zip, a
// .dmp.gz and a .cab: a run must report them, never panic or hang.
func FuzzArchive(f *testing.F) {
	dump := sample.Bytes()
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("Minidump/a.dmp")
	w.Write(dump[:0x3000])
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "b.dmp", Method: zip.Store})
	w.Write(dump[:0x2000])
	zw.Close()
	f.Add(zb.Bytes())
	f.Add(gz(dump[:0x3000]))
	f.Add([]byte("PK\x05\x06"))
	f.Add(fleettest.Cabinet([]fleettest.Member{{Name: `Minidump\a.dmp`, Data: dump[:0x3000]}}, true))
	f.Add(fleettest.Cabinet([]fleettest.Member{{Name: "b.dmp", Data: dump[:0x1000]}}, false))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		z := write(t, filepath.Join(dir, "a.zip"), data)
		g := write(t, filepath.Join(dir, "b.dmp.gz"), data)
		c := write(t, filepath.Join(dir, "c.cab"), data)
		n := 0
		_, err := fleet.Run(context.Background(), []string{z, g, c}, fleet.Options{Jobs: 2, MaxInflate: 1 << 20}, func(r *fleet.Result) error {
			n++
			if r.Status == fleet.StatusFailed && r.Err == nil {
				t.Errorf("%s failed without an error", r.Name)
			}
			return nil
		})
		if err != nil || n == 0 {
			t.Fatalf("run: %v after %d results", err, n)
		}
	})
}

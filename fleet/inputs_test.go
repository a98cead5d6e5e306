package fleet_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/fleet"
	"github.com/bugcheck/bugcheck/fleet/fleettest"
	"github.com/bugcheck/bugcheck/internal/sample"
)

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func write(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInputs(t *testing.T) {
	dir := t.TempDir()
	dump := sample.Bytes()
	other := fleettest.Crash(fleettest.Kinds[1], 1)
	a := write(t, filepath.Join(dir, "a.dmp"), dump)
	write(t, filepath.Join(dir, "b.DMP"), other)
	write(t, filepath.Join(dir, "notes.txt"), []byte("not picked up from a folder"))
	explicitGz := write(t, filepath.Join(dir, "gz", "c.gz"), gz(fleettest.Crash(fleettest.Kinds[2], 2)))
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("x/d.dmp")
	w.Write(fleettest.Crash(fleettest.Kinds[3], 3))
	w, _ = zw.Create("readme.txt")
	w.Write([]byte("skipped"))
	w, _ = zw.Create("e.dmp.gz")
	w.Write(gz(fleettest.Crash(fleettest.Kinds[4], 4)))
	zw.Close()
	zipPath := write(t, filepath.Join(dir, "z", "pack.zip"), zb.Bytes())
	badZip := write(t, filepath.Join(dir, "bad", "broken.zip"), []byte("PK\x03\x04 not really"))
	bomb := write(t, filepath.Join(dir, "bomb", "big.dmp.gz"), gz(make([]byte, 1<<20)))

	cases := []struct {
		name  string
		args  []string
		opt   fleet.Options
		want  []string // name: status
		check func(t *testing.T, res []*fleet.Result)
	}{
		{"file", []string{a}, fleet.Options{}, []string{a + ": ok"}, func(t *testing.T, res []*fleet.Result) {
			r := res[0].Report
			if r.File != "a.dmp" || r.BugCheck.Code != "0x50" || r.Culprit.Module != sample.DriverName || res[0].Size != int64(len(dump)) || res[0].Dir != dir {
				t.Errorf("report %s %s %s, size %d, dir %s", r.File, r.BugCheck.Code, r.Culprit.Module, res[0].Size, res[0].Dir)
			}
		}},
		{"glob", []string{filepath.Join(dir, "*.[dD][mM][pP]")}, fleet.Options{}, []string{a + ": ok", filepath.Join(dir, "b.DMP") + ": ok"}, nil},
		{"explicit gz", []string{explicitGz}, fleet.Options{}, []string{explicitGz + ": ok"}, func(t *testing.T, res []*fleet.Result) {
			if r := res[0].Report; r.File != "c" || r.BugCheck.Code != "0xd1" {
				t.Errorf("gz report names %q, code %s", r.File, r.BugCheck.Code)
			}
		}},
		{"zip", []string{zipPath}, fleet.Options{}, []string{zipPath + "!x/d.dmp: ok", zipPath + "!e.dmp.gz: ok"}, func(t *testing.T, res []*fleet.Result) {
			if res[0].Dir != zipPath+"!x" || res[1].Dir != zipPath || res[0].Machine != zipPath+"!x" || res[1].Machine != filepath.Join(dir, "z") ||
				res[0].Report.BugCheck.Code != "0xe2" ||
				res[1].Report.File != "e.dmp" || res[1].Report.Bucket != "0x124_0_HARDWARE" {
				t.Errorf("zip members: %+v %+v", res[0], res[1])
			}
		}},
		{"missing", []string{filepath.Join(dir, "missing.dmp")}, fleet.Options{}, []string{filepath.Join(dir, "missing.dmp") + ": failed"}, func(t *testing.T, res []*fleet.Result) {
			if !errors.Is(res[0].Err, os.ErrNotExist) {
				t.Errorf("error %v", res[0].Err)
			}
		}},
		{"no match", []string{filepath.Join(dir, "*.nothing")}, fleet.Options{}, []string{filepath.Join(dir, "*.nothing") + ": failed"}, func(t *testing.T, res []*fleet.Result) {
			if !errors.Is(res[0].Err, fleet.ErrNoMatch) {
				t.Errorf("error %v", res[0].Err)
			}
		}},
		{"bad zip", []string{badZip}, fleet.Options{}, []string{badZip + ": failed"}, func(t *testing.T, res []*fleet.Result) {
			if !errors.Is(res[0].Err, zip.ErrFormat) {
				t.Errorf("error %v", res[0].Err)
			}
		}},
		{"too large", []string{bomb}, fleet.Options{MaxInflate: 64 << 10}, []string{bomb + ": failed"}, func(t *testing.T, res []*fleet.Result) {
			if !errors.Is(res[0].Err, fleet.ErrTooLarge) {
				t.Errorf("error %v", res[0].Err)
			}
		}},
		{"junk", []string{filepath.Join(dir, "notes.txt")}, fleet.Options{}, []string{filepath.Join(dir, "notes.txt") + ": failed"}, func(t *testing.T, res []*fleet.Result) {
			if got := fleet.ErrorText(res[0].Err); !strings.HasPrefix(got, "offset 0x0: ") {
				t.Errorf("error text %q", got)
			}
		}},
		{"same file twice", []string{a, a}, fleet.Options{}, []string{a + ": ok", a + ": duplicate"}, nil},
		{"folder", []string{dir}, fleet.Options{MaxInflate: 64 << 10}, []string{
			a + ": ok", filepath.Join(dir, "b.DMP") + ": ok", badZip + ": failed", bomb + ": failed",
			zipPath + "!x/d.dmp: ok", zipPath + "!e.dmp.gz: ok"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, st := collect(t, c.args, c.opt)
			var got []string
			for _, r := range res {
				got = append(got, r.Name+": "+string(r.Status))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if st.Inputs != len(c.want) {
				t.Errorf("stats %+v", st)
			}
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

func TestEmitErrorStops(t *testing.T) {
	dir := t.TempDir()
	if _, err := fleettest.Generate(dir, 40); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	_, err := fleet.Run(context.Background(), []string{dir}, fleet.Options{Jobs: 2}, func(*fleet.Result) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("err %v after %d results", err, n)
	}
}

func TestFilterAndDays(t *testing.T) {
	dir := t.TempDir()
	if _, err := fleettest.Generate(dir, 60); err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return fleettest.Epoch.AddDate(0, 0, d) }
	cases := []struct {
		name   string
		f      fleet.Filter
		expect func(i int) bool // which generated dumps (by number) pass
	}{
		{"all", fleet.Filter{}, func(int) bool { return true }},
		{"driver", fleet.Filter{Drivers: []string{"CONTOSO*.sys"}}, func(i int) bool { return fleettest.KindOf(i).Driver == "contosonet.sys" }},
		{"code", fleet.Filter{Codes: []uint32{0xe2, 0x124}}, func(i int) bool { c := fleettest.KindOf(i).Code; return c == "0xe2" || c == "0x124" }},
		{"since", fleet.Filter{Since: day(10)}, func(i int) bool { return i%fleettest.Days >= 10 }},
		{"until", fleet.Filter{Until: day(2).Add(-time.Second)}, func(i int) bool { return i%fleettest.Days < 2 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := fleet.NewGrouper(c.f)
			res, _ := collect(t, []string{dir}, fleet.Options{})
			for _, r := range res {
				g.Add(r)
			}
			// Count the analysed, distinct dumps the filter should keep.
			want := 0
			for i := range 60 {
				if i%17 != 16 && c.expect(i) {
					want++
				}
			}
			got := 0
			for _, b := range g.Buckets() {
				got += b.Count
			}
			if got != want {
				t.Errorf("%d crashes kept, want %d (skipped %d)", got, want, g.Skipped())
			}
			if c.name == "all" {
				days := g.Days()
				if len(days) != fleettest.Days || days[0].Date != "2026-03-01" || days[len(days)-1].Date != "2026-03-14" {
					t.Errorf("days %v", days)
				}
			}
		})
	}
}

func TestLogProgress(t *testing.T) {
	var b bytes.Buffer
	l := fleet.NewLog(&b, 0)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fleet.SetLogClock(l, func() time.Time { return now })
	l.SetTotal(4)
	now = now.Add(time.Second)
	l.Done(&fleet.Result{Status: fleet.StatusOK})
	l.Done(&fleet.Result{Status: fleet.StatusFailed})
	now = now.Add(time.Second)
	l.Done(&fleet.Result{Status: fleet.StatusOK})
	l.Done(&fleet.Result{Status: fleet.StatusDuplicate})
	l.Close()
	want := `bugcheck: 1 of 4 dumps (25%), 1/s, ETA 3s
bugcheck: 2 of 4 dumps (50%), 1 failed, 2/s, ETA 1s
bugcheck: 3 of 4 dumps (75%), 1 failed, 2/s, ETA 1s
bugcheck: 4 of 4 dumps (100%), 1 failed, 2/s, done in 2s
bugcheck: 4 of 4 dumps (100%), 1 failed, 2/s, done in 2s
`
	if b.String() != want {
		t.Errorf("progress lines:\n%s\nwant\n%s", b.String(), want)
	}
}

func TestCabinet(t *testing.T) {
	dir := t.TempDir()
	d1 := fleettest.Crash(fleettest.Kinds[0], 1)
	d2 := fleettest.Crash(fleettest.Kinds[2], 2)
	for _, mszip := range []bool{false, true} {
		name := "stored.cab"
		if mszip {
			name = "mszip.cab"
		}
		p := write(t, filepath.Join(dir, name), fleettest.Cabinet([]fleettest.Member{
			{Name: "WERInternalMetadata.xml", Data: []byte("<?xml version=\"1.0\"?><WERReportMetadata/>")},
			{Name: `Minidump\Mini031426-01.dmp`, Data: d1},
			{Name: "memory.dmp", Data: d2},
		}, mszip))
		res, st := collect(t, []string{p}, fleet.Options{Jobs: 2})
		if st.Inputs != 2 || st.Analysed != 2 {
			t.Fatalf("%s: %+v", name, st)
		}
		if res[0].Name != p+"!Minidump/Mini031426-01.dmp" || res[0].Dir != p+"!Minidump" || res[0].Report.File != "Mini031426-01.dmp" ||
			res[0].Report.Bucket != fleettest.Kinds[0].Bucket || res[0].Size != int64(len(d1)) || res[0].Machine != dir || res[1].Machine != dir {
			t.Errorf("%s: first member %+v", name, res[0])
		}
		if res[1].Name != p+"!memory.dmp" || res[1].Dir != p || res[1].Report.BugCheck.Code != "0xd1" {
			t.Errorf("%s: second member %+v", name, res[1])
		}
	}
	// Damaged cabinets are reported, not fatal.
	bad := fleettest.Cabinet([]fleettest.Member{{Name: "a.dmp", Data: d1}}, true)
	cut := write(t, filepath.Join(dir, "bad", "cut.cab"), bad[:len(bad)/2])
	for i := len(bad) / 2; i < len(bad)/2+64; i++ {
		bad[i] = 0xff // damage the compressed data, not the tables
	}
	damaged := write(t, filepath.Join(dir, "bad", "damaged.cab"), bad)
	junk := write(t, filepath.Join(dir, "bad", "junk.cab"), []byte("MSCF but nothing else"))
	res, st := collect(t, []string{filepath.Join(dir, "bad")}, fleet.Options{})
	if st.Failed != 3 || res[0].Name != cut || res[1].Name != damaged+"!a.dmp" || res[2].Name != junk ||
		!strings.Contains(res[0].Err.Error(), "header declares") || !strings.Contains(res[1].Err.Error(), "decompressing cabinet data") {
		t.Errorf("damaged cabinets: %+v: %v / %v / %v", st, res[0].Err, res[1].Err, res[2].Err)
	}
}

func TestSymlinkedFolder(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "real", "a.dmp"), sample.Bytes())
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real", link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	res, _ := collect(t, []string{link}, fleet.Options{})
	if len(res) != 1 || res[0].Status != fleet.StatusOK || res[0].Name != filepath.Join(link, "a.dmp") {
		t.Errorf("results %+v", res)
	}
}

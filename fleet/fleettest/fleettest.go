// Package fleettest writes folders of generated crash dumps for the tests
// of fleet runs: several kinds of crash on several machines, damaged files,
// byte-identical copies, and dumps packed in .zip and .gz archives, with
// the facts a test asserts (counts, buckets, machines).
package fleettest

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/sample"
)

// Kind is a kind of crash the generator writes, with the bucket
// analyze.Analyze gives it.
type Kind struct {
	Name   string // short name
	Bucket string // the bucket ID of every crash of this kind
	Code   string // the bug check code as reports write it
	Driver string // the culprit module; empty when no driver is blamed
	mutate func(t *dumpwriter.Triage)
}

// renameDriver swaps the sample's culprit for another third-party driver.
func renameDriver(name string) func(*dumpwriter.Triage) {
	return func(t *dumpwriter.Triage) {
		t.Modules = slices.Clone(t.Modules) // the sample's list is shared
		last := &t.Modules[len(t.Modules)-1]
		last.Path = strings.ReplaceAll(last.Path, "acmefilt", name)
	}
}

// Kinds are the crashes Generate writes, in rotation; the first is the
// most frequent.
var Kinds = []Kind{
	{Name: "acme-0x50", Bucket: "0x50_W_acmefilt.sys!+0x1a40", Code: "0x50", Driver: sample.DriverName, mutate: func(*dumpwriter.Triage) {}},
	{Name: "contoso-0x50", Bucket: "0x50_W_contosonet.sys!+0x1a40", Code: "0x50", Driver: "contosonet.sys", mutate: renameDriver("contosonet")},
	{Name: "acme-0xd1", Bucket: "0xD1_W_acmefilt.sys!+0x1a40", Code: "0xd1", Driver: sample.DriverName, mutate: func(t *dumpwriter.Triage) {
		t.BugCheck = 0xd1
		t.Params = [4]uint64{sample.FaultAddress, 2, 1, sample.FaultIP}
	}},
	{Name: "manual-0xe2", Bucket: "MANUAL_0xE2", Code: "0xe2", mutate: func(t *dumpwriter.Triage) {
		t.BugCheck = 0xe2
		t.Params = [4]uint64{}
	}},
	{Name: "hardware-0x124", Bucket: "0x124_0_HARDWARE", Code: "0x124", mutate: func(t *dumpwriter.Triage) {
		t.BugCheck = 0x124
		t.Params = [4]uint64{0, 0xffffa50c3e5d8028, 0xbe000000, 0x800400}
	}},
}

// Epoch is the crash time of dump 0; dump i crashed i%Days days and i
// seconds later.
var Epoch = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// Days is the number of days the crashes spread over.
const Days = 14

// Crash returns the bytes of dump number i of kind k: unique for each i.
func Crash(k Kind, i int) []byte {
	t := sample.Triage()
	k.mutate(t)
	t.Time = Epoch.AddDate(0, 0, i%Days).Add(time.Duration(i) * time.Second)
	b, err := t.Bytes()
	if err != nil {
		panic("fleettest: " + err.Error()) // fixed descriptions: a programming error
	}
	return b
}

// KindOf returns the kind of dump number i.
func KindOf(i int) Kind {
	// Half of the crashes are the first kind, the rest rotate.
	if i%2 == 0 {
		return Kinds[0]
	}
	return Kinds[1+(i/2)%(len(Kinds)-1)]
}

// Fleet is what Generate wrote and what a run over Dir must find.
type Fleet struct {
	Dir        string
	Inputs     int                        // dumps a run sees, archive members included
	Analysed   int                        // unique, parseable dumps
	Failed     int                        // damaged dumps
	Duplicates int                        // byte-identical copies of other inputs
	Buckets    map[string]int             // bucket -> analysed crashes
	Machines   map[string]map[string]bool // bucket -> machines (the pcNN folders, and copies)
	Failures   map[string]bool            // names of the damaged inputs, as results name them
	Dups       map[string]bool            // names of the copies
	Zipped     int                        // dumps inside .zip archives
	Gzipped    int                        // .dmp.gz files
	Cabbed     int                        // dumps inside .cab files
}

// Generate writes n crash dumps under dir on ten machines (folders pc00 to
// pc09): every 7th dump goes into its machine's crashes.zip (in a Minidump
// folder), every 19th into a cabinet of its own as Windows Error Reporting
// packs it, every 11th is gzipped, every 13th also has a copy in copies/,
// and every 17th is damaged (cut short, or junk). It returns the facts to
// check.
func Generate(dir string, n int) (*Fleet, error) {
	f := &Fleet{Dir: dir, Buckets: map[string]int{}, Machines: map[string]map[string]bool{}, Failures: map[string]bool{}, Dups: map[string]bool{}}
	zips := map[string]*zip.Writer{}
	zipFiles := map[string]*os.File{}
	defer func() {
		for _, zf := range zipFiles {
			zf.Close()
		}
	}()
	if err := os.MkdirAll(filepath.Join(dir, "copies"), 0o755); err != nil {
		return nil, err
	}
	for i := range n {
		k := KindOf(i)
		machine := filepath.Join(dir, fmt.Sprintf("pc%02d", i%10))
		if err := os.MkdirAll(machine, 0o755); err != nil {
			return nil, err
		}
		data := Crash(k, i)
		damaged := i%17 == 16
		if damaged {
			if i%2 == 0 {
				data = data[:0x2000+i] // cut inside the triage block
			} else {
				data = []byte(fmt.Sprintf("not a dump %d", i))
			}
		}
		base := fmt.Sprintf("%03d-%s.dmp", i, k.Name)
		var name string
		switch {
		case i%7 == 6:
			zp := filepath.Join(machine, "crashes.zip")
			zw := zips[zp]
			if zw == nil {
				zf, err := os.Create(zp)
				if err != nil {
					return nil, err
				}
				zipFiles[zp] = zf
				zw = zip.NewWriter(zf)
				zips[zp] = zw
			}
			method := zip.Deflate
			if i%3 == 0 {
				method = zip.Store
			}
			w, err := zw.CreateHeader(&zip.FileHeader{Name: "Minidump/" + base, Method: method})
			if err != nil {
				return nil, err
			}
			if _, err := w.Write(data); err != nil {
				return nil, err
			}
			name = zp + "!Minidump/" + base
			f.Zipped++
		case i%19 == 18:
			// One cabinet per crash, as Windows Error Reporting uploads it.
			cp := filepath.Join(machine, fmt.Sprintf("WER-%03d.cab", i))
			cb := Cabinet([]Member{
				{Name: "WERInternalMetadata.xml", Data: []byte("<?xml version=\"1.0\" encoding=\"UTF-16\"?><WERReportMetadata/>")},
				{Name: `Minidump\` + base, Data: data},
			}, i%2 == 0)
			if err := os.WriteFile(cp, cb, 0o644); err != nil {
				return nil, err
			}
			name = cp + "!Minidump/" + base
			f.Cabbed++
		case i%11 == 10:
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			name = filepath.Join(machine, base+".gz")
			if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
				return nil, err
			}
			f.Gzipped++
		default:
			name = filepath.Join(machine, base)
			if err := os.WriteFile(name, data, 0o644); err != nil {
				return nil, err
			}
		}
		f.Inputs++
		copied := i%13 == 12
		if copied {
			// copies/ sorts before pc00, so the copy is met first and
			// analysed, and the machine's file is its duplicate.
			machine = filepath.Join(dir, "copies")
		}
		if damaged {
			f.Failed++
			f.Failures[name] = true
		} else {
			f.Analysed++
			f.Buckets[k.Bucket]++
			if f.Machines[k.Bucket] == nil {
				f.Machines[k.Bucket] = map[string]bool{}
			}
			f.Machines[k.Bucket][machine] = true
		}
		if copied {
			cp := filepath.Join(dir, "copies", base)
			if err := os.WriteFile(cp, data, 0o644); err != nil {
				return nil, err
			}
			f.Inputs++
			f.Duplicates++
			f.Dups[name] = true
			if damaged {
				// The copy is the first of the two and fails; the
				// original is then its duplicate.
				f.Failures[cp] = true
				delete(f.Failures, name)
			}
		}
	}
	for _, zw := range zips {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

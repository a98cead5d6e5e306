package pdb

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/peimage"
)

// TestMatchesImages checks each corpus PDB's GUID and age against the
// CodeView record of its image.
func TestMatchesImages(t *testing.T) {
	cases := []struct{ image, pdb []string }{
		{[]string{"symstore", "amdppm.sys", "C9C030003b000", "amdppm.sys"}, []string{"symstore", "amdppm.pdb", "1C19FDDB27BB3399D9B45973EFEAFCF31", "amdppm.pdb"}},
		{[]string{"pdb", "SimplePDB.exe"}, []string{"pdb", "SimplePDB.pdb"}},
		{[]string{"pdb", "exceptions-test.exe"}, []string{"pdb", "exceptions-test.pdb"}},
		{[]string{"pdb", "vs2019_cpp_override.exe"}, []string{"pdb", "vs2019_cpp_override.pdb"}},
		{[]string{"pdb", "user32.dll"}, []string{"symstore", "user32.pdb", "15F778B3671D4EFDBDCDE79905308B792", "user32.pdb"}},
	}
	for _, c := range cases {
		img, err := peimage.Open(corpus.Path(t, c.image...))
		if err != nil {
			t.Fatal(err)
		}
		cv, err := img.CodeView()
		img.Close()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Open(corpus.Path(t, c.pdb...))
		if err != nil {
			t.Fatal(err)
		}
		if p.SymbolStoreKey() != cv.SymbolStoreKey() || p.GUID != cv.GUID || p.Age != cv.Age {
			t.Errorf("%s: key %s, image says %s", p.Name, p.SymbolStoreKey(), cv.SymbolStoreKey())
		}
		if len(p.Symbols()) == 0 {
			t.Errorf("%s: no symbols", p.Name)
		}
		p.Close()
	}
}

// TestAmdppmFrames resolves the corpus crash's frames the way independent
// tools do.
func TestAmdppmFrames(t *testing.T) {
	p, err := Open(corpus.Path(t, "symstore", "amdppm.pdb", "1C19FDDB27BB3399D9B45973EFEAFCF31", "amdppm.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Machine != 0x8664 {
		t.Errorf("machine %#x", p.Machine)
	}
	for rva, want := range map[uint32]struct {
		name string
		off  uint32
	}{
		0x334c: {"WriteIoMemRawEx", 0x70}, 0x313f: {"WriteGenAddrEx", 0x6b}, 0x3234: {"WriteGenAddrMaybeHiddenEx", 0x18},
		0x20e8f: {"InitAcpiCpc", 0x317}, 0x283f6: {"ProcLibDeviceStart", 0x886}, 0x1f852: {"EvtDevicePrepareHardware", 0xd2},
	} {
		s, off, ok := p.LookupFunction(rva)
		if !ok || s.Name != want.name || off != want.off {
			t.Errorf("%#x = %s+%#x (%v), want %s+%#x", rva, s.Name, off, ok, want.name, want.off)
		}
	}
}

func TestHostile(t *testing.T) {
	good, err := os.ReadFile(corpus.Path(t, "pdb", "SimplePDB.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":    nil,
		"not pdb":  []byte("hello, this is not a program database at all, not even close"),
		"cab":      append([]byte("MSCF"), make([]byte, 60)...),
		"cut":      good[:5000],
		"bad size": append(append(append([]byte{}, good[:32]...), 7, 0, 0, 0), good[36:]...),
	}
	for name, data := range cases {
		_, err := NewFile(bytes.NewReader(data), int64(len(data)), "bad.pdb")
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "bad.pdb" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func FuzzPDB(f *testing.F) {
	if root, ok := corpus.Root(); ok {
		if b, err := os.ReadFile(root + "/pdb/SimplePDB.pdb"); err == nil {
			f.Add(b[:min(len(b), 64<<10)])
		}
	}
	f.Add([]byte(msfMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := NewFile(bytes.NewReader(data), int64(len(data)), "fuzz.pdb")
		if err != nil {
			return
		}
		p.Lookup(0x1000)
		p.LookupFunction(0x1000)
	})
}

package peimage

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

func TestCodeView(t *testing.T) {
	cases := []struct {
		path             []string
		machine          uint16
		imageKey, pdbKey string
		pdbName          string
	}{
		{[]string{"symstore", "amdppm.sys", "C9C030003b000", "amdppm.sys"}, 0x8664, "C9C030003b000", "1C19FDDB27BB3399D9B45973EFEAFCF31", "amdppm.pdb"},
		{[]string{"symstore", "Wdf01000.sys", "A9A9D36Ed1000", "Wdf01000.sys"}, 0x8664, "A9A9D36Ed1000", "6D6E9C327875C47856AC7DA750AB1C5E1", "Wdf01000.pdb"},
		{[]string{"pdb", "SimplePDB.exe"}, 0x14c, "5A9A97546000", "1516D2A3E6864C06BD82C50FBE6152363", "SimplePDB.pdb"},
		{[]string{"pdb", "exceptions-test.exe"}, 0x8664, "61F5392318000", "2A7ED8A5D796443D80CF7200044EDF833", "exceptions-test.pdb"},
		{[]string{"pdb", "vs2019_cpp_override.exe"}, 0x14c, "60635AE18000", "5E2A1B471FA94370907E67AAFB4A94C32", "Project1.pdb"},
		{[]string{"pdb", "basic32.dll"}, 0x14c, "5DDC1E9A6c000", "34060D222DBB44E5AA72243CE8326C2F2", "basic32.pdb"},
		{[]string{"pdb", "user32.dll"}, 0x8664, "4A5BE088fa000", "15F778B3671D4EFDBDCDE79905308B792", "user32.pdb"},
	}
	for _, c := range cases {
		f, err := Open(corpus.Path(t, c.path...))
		if err != nil {
			t.Fatal(err)
		}
		cv, err := f.CodeView()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if f.Machine != c.machine || f.SymbolStoreKey() != c.imageKey || cv.SymbolStoreKey() != c.pdbKey || cv.PDBName() != c.pdbName {
			t.Errorf("%s: machine %#x image key %s pdb key %s name %s", f.Name, f.Machine, f.SymbolStoreKey(), cv.SymbolStoreKey(), cv.PDBName())
		}
		f.Close()
	}
}

func TestVersion(t *testing.T) {
	f, err := Open(corpus.Path(t, "drivers", "saferwall-pe_WdBoot.sys"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vi, err := f.Version()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"CompanyName":     "Microsoft Corporation",
		"FileDescription": "Microsoft antimalware boot driver",
		"FileVersion":     "4.18.1906.3 (GitEnlistment(winpbld).190621-1227)",
	}
	for k, v := range want {
		if vi.Strings[k] != v {
			t.Errorf("%s = %q, want %q", k, vi.Strings[k], v)
		}
	}
	if vi.FileVersion != "4.18.1906.3" {
		t.Errorf("fixed file version = %q", vi.FileVersion)
	}
	u, err := Open(corpus.Path(t, "pdb", "user32.dll"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if vi, err := u.Version(); err != nil || vi.Strings["OriginalFilename"] != "USER32.DLL" && vi.Strings["InternalName"] != "user32" {
		t.Errorf("user32 version: %+v %v", vi, err)
	}
}

func TestExportsAndUnwind(t *testing.T) {
	f, err := Open(corpus.Path(t, "pdb", "user32.dll"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex, err := f.Exports()
	if err != nil {
		t.Fatal(err)
	}
	var msgbox *Export
	for i := range ex {
		if ex[i].Name == "MessageBoxW" {
			msgbox = &ex[i]
		}
	}
	if len(ex) < 800 || msgbox == nil {
		t.Fatalf("%d exports, MessageBoxW %v", len(ex), msgbox)
	}
	if e, ok := NearestExport(ex, msgbox.RVA+5); !ok || e.RVA != msgbox.RVA {
		t.Errorf("nearest export to MessageBoxW+5 = %+v", e)
	}
	fns, err := f.RuntimeFunctions()
	if err != nil || len(fns) < 3000 {
		t.Fatalf("%d runtime functions, %v", len(fns), err)
	}
	rf, ok := LookupFunction(fns, msgbox.RVA)
	if !ok || rf.Begin > msgbox.RVA || rf.End <= msgbox.RVA {
		t.Fatalf("no function for MessageBoxW: %+v", rf)
	}
	if _, err := f.Unwind(rf.UnwindInfo); err != nil {
		t.Error(err)
	}
	// Every unwind record of a real driver decodes.
	a, err := Open(corpus.Path(t, "symstore", "amdppm.sys", "C9C030003b000", "amdppm.sys"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	afns, _ := a.RuntimeFunctions()
	if len(afns) != 519 {
		t.Errorf("amdppm.sys: %d runtime functions", len(afns))
	}
	for _, rf := range afns {
		if _, err := a.Unwind(rf.UnwindInfo); err != nil {
			t.Fatalf("amdppm.sys %+v: %v", rf, err)
		}
	}
	// The faulting function of the corpus crash (RVA 0x334c) has unwind data.
	if _, ok := LookupFunction(afns, 0x334c); !ok {
		t.Error("no runtime function covers amdppm.sys+0x334c")
	}
}

func TestHostile(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("MZ"), bytes.Repeat([]byte{0xff}, 4096)} {
		_, err := NewFile(bytes.NewReader(data), "bad.sys")
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "bad.sys" {
			t.Errorf("err = %v", err)
		}
	}
}

func FuzzImage(f *testing.F) {
	if root, ok := corpus.Root(); ok {
		for _, p := range []string{"/drivers/saferwall-pe_amdxata.sys", "/drivers/saferwall-pe_WdBoot.sys", "/pdb/SimplePDB.exe"} {
			if b, err := os.ReadFile(root + p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := NewFile(bytes.NewReader(data), "fuzz.sys")
		if err != nil {
			return
		}
		img.CodeView()
		img.Version()
		img.Exports()
		if fns, err := img.RuntimeFunctions(); err == nil {
			for i, rf := range fns {
				if i > 64 {
					break
				}
				img.Unwind(rf.UnwindInfo)
			}
		}
	})
}

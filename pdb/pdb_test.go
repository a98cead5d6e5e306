package pdb

import (
	"bytes"
	"cmp"
	"debug/pe"
	"errors"
	"fmt"
	"os"
	"slices"
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
	if root, ok := corpus.Root(); ok {
		// The first streams of a real PDB (info, types, DBI) in a small
		// generated container.
		if p, err := Open(root + "/pdb/SimplePDB.pdb"); err == nil {
			var streams [][]byte
			for i := range 5 {
				b, _ := p.Stream(i)
				streams = append(streams, b)
			}
			p.Close()
			f.Add(buildMSF(streams))
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
		p.SectionContributions()
		p.Public("main")
		p.Global("__security_cookie")
		p.Struct("_CONTEXT")
		p.FieldOffset("_EXCEPTION_RECORD", "ExceptionInformation[2]")
		p.IDName(0x1000)
	})
}

// TestModulesAndSections checks the DBI module list, the section headers
// (against the image's own) and the section contributions.
func TestModulesAndSections(t *testing.T) {
	cases := []struct {
		pdb, image    []string
		modules       int
		first, last   string
		contributions int
		entry         uint32 // the entry point's contribution names this module
		entryModule   string
	}{
		{[]string{"pdb", "SimplePDB.pdb"}, []string{"pdb", "SimplePDB.exe"}, 30, "* CIL *", "* Linker *", 197,
			0x1290, `f:\binaries\Intermediate\vctools\crt_bld\SELF_X86\crt\prebuild\build\INTEL\dll_obj\nativec\crtexe.obj`},
		{[]string{"pdb", "exceptions-test.pdb"}, []string{"pdb", "exceptions-test.exe"}, 55,
			`C:\Users\Segev\junk\exceptions-test\build\exceptions-test.dir\Debug\main.obj`, "* Linker *", 1064, 0x12f8, "* Linker *"},
		{[]string{"symstore", "user32.pdb", "15F778B3671D4EFDBDCDE79905308B792", "user32.pdb"}, []string{"pdb", "user32.dll"}, 142, "* CIL *", "* Linker *", 4828,
			0, ""},
	}
	for _, c := range cases {
		p, err := Open(corpus.Path(t, c.pdb...))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		mods := p.Modules()
		if len(mods) != c.modules || mods[0].Name != c.first || mods[len(mods)-1].Name != c.last {
			t.Errorf("%s: %d modules, %q..%q", p.Name, len(mods), mods[0].Name, mods[len(mods)-1].Name)
		}
		img, err := pe.Open(corpus.Path(t, c.image...))
		if err != nil {
			t.Fatal(err)
		}
		secs := p.Sections()
		if len(secs) != len(img.Sections) {
			t.Errorf("%s: %d sections, the image has %d", p.Name, len(secs), len(img.Sections))
		}
		for i := range min(len(secs), len(img.Sections)) {
			s, is := secs[i], img.Sections[i]
			if s.Name != is.Name || s.VirtualAddress != is.VirtualAddress || s.VirtualSize != is.VirtualSize || s.Characteristics != is.Characteristics {
				t.Errorf("%s: section %d = %+v, image has %s at %#x", p.Name, i+1, s, is.Name, is.VirtualAddress)
			}
			if rva, ok := p.RVA(uint16(i+1), 0x10); p.omap == nil && (!ok || rva != is.VirtualAddress+0x10) {
				t.Errorf("%s: %d:10 is %#x", p.Name, i+1, rva)
			}
		}
		img.Close()
		contrib, err := p.SectionContributions()
		if err != nil || len(contrib) != c.contributions {
			t.Errorf("%s: %d contributions, %v", p.Name, len(contrib), err)
		}
		found := c.entry == 0
		for _, sc := range contrib {
			if sc.Module >= len(mods) || sc.Section == 0 || int(sc.Section) > len(secs) {
				t.Errorf("%s: contribution %+v", p.Name, sc)
				continue
			}
			if c.entry >= sc.RVA && c.entry-sc.RVA < sc.Size && mods[sc.Module].Name == c.entryModule {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no contribution of %s covers %#x", p.Name, c.entryModule, c.entry)
		}
	}
}

// TestGlobalsAndPublics looks variables and publics up by name through the
// GSI hash tables, and checks that every addressable S_GDATA32, S_LDATA32
// and S_PUB32 record is found that way.
func TestGlobalsAndPublics(t *testing.T) {
	for _, c := range []struct {
		pdb                []string
		globals, publics   int
		cookie, cookieType uint32
		cookiePublic       string
		absolute           string // a public holding a value, not an address
	}{
		{[]string{"pdb", "SimplePDB.pdb"}, 48, 105, 0x3000, 0x75, "___security_cookie", "__safe_se_handler_count"},
		{[]string{"pdb", "exceptions-test.pdb"}, 79, 571, 0x11008, 0x23, "__security_cookie", "__guard_flags"},
		{[]string{"pdb", "vs2019_cpp_override.pdb"}, 53, 277, 0, 0, "", ""},
		{[]string{"symstore", "user32.pdb", "15F778B3671D4EFDBDCDE79905308B792", "user32.pdb"}, 0, 4086, 0, 0, "", ""},
		{[]string{"symstore", "amdppm.pdb", "1C19FDDB27BB3399D9B45973EFEAFCF31", "amdppm.pdb"}, 0, 952, 0, 0, "", ""},
	} {
		p, err := Open(corpus.Path(t, c.pdb...))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		g, pub := 0, 0
		walkRecords(p.symrec, 0, func(kind uint16, pos int, r []byte) {
			if kind != sGData32 && kind != sLData32 && kind != sPub32 || len(r) < 11 {
				return
			}
			rva, ok := p.RVA(le.Uint16(r[8:]), le.Uint32(r[4:]))
			if !ok {
				return
			}
			name := cstrAt(p.symrecStr, pos+14)
			var s Symbol
			var err error
			if kind == sPub32 {
				pub++
				s, err = p.Public(name)
			} else {
				g++
				s, err = p.Global(name)
				if err == nil && kind == sLData32 && s.RVA != rva {
					return // a file-static name the hash holds more than once
				}
			}
			if err != nil || s.Name != name || s.RVA != rva {
				t.Errorf("%s: %s at %#x: found %+v, %v", p.Name, name, rva, s, err)
			}
		})
		if g != c.globals || pub != c.publics {
			t.Errorf("%s: %d globals, %d publics", p.Name, g, pub)
		}
		if c.cookie == 0 {
			continue
		}
		s, err := p.Global("__security_cookie")
		if err != nil || s.RVA != c.cookie || s.Type != TypeIndex(c.cookieType) {
			t.Errorf("%s: __security_cookie = %+v, %v", p.Name, s, err)
		}
		s, err = p.Public("__security_cookie") // x86 adds an underscore to C names
		if err != nil || s.RVA != c.cookie || s.Name != c.cookiePublic || s.Function {
			t.Errorf("%s: public __security_cookie = %+v, %v", p.Name, s, err)
		}
		// A file-static variable and its structure type, the way a kernel
		// variable like PsLoadedModuleList is found and read.
		s, err = p.Global("GS_ExceptionRecord")
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.StructAt(s.Type)
		if err != nil || st.Name != "_EXCEPTION_RECORD" {
			t.Errorf("%s: GS_ExceptionRecord is %+v, %v", p.Name, st, err)
		}
		if _, err := p.Global("no_such_variable"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v", p.Name, err)
		}
		if _, err := p.Public(c.absolute); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("%s: absolute symbol %s: %v", p.Name, c.absolute, err) // found, but holds no address
		}
	}
}

// TestUser32Exports resolves every named export of the corpus user32.dll
// (x64, an OMAP-rearranged Windows 7 build) through its PDB: each must
// land on a public symbol at offset 0 whose name is the export's, the
// export's without the NtUser/ZwUser system call stub prefix, another
// export of the same code, or one of the linker aliases listed here.
func TestUser32Exports(t *testing.T) {
	p, err := Open(corpus.Path(t, "symstore", "user32.pdb", "15F778B3671D4EFDBDCDE79905308B792", "user32.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	img, err := peimage.Open(corpus.Path(t, "pdb", "user32.dll"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	exports, err := img.Exports()
	if err != nil {
		t.Fatal(err)
	}
	aliases := map[string]string{ // export: the PDB's name (from the module definition file)
		"CreateAcceleratorTableW": "NtUserCreateAcceleratorTable", "CopyAcceleratorTableW": "NtUserCopyAcceleratorTable",
		"GetUserObjectInformationW": "NtUserGetObjectInformation", "SetUserObjectInformationA": "NtUserSetObjectInformation",
		"SetUserObjectInformationW": "NtUserSetObjectInformation", "ControlMagnification": "NtUserMagControl",
		"SetMagnificationLensCtxInformation": "NtUserMagSetContextInformation", "GetMagnificationLensCtxInformation": "NtUserMagGetContextInformation",
		"GetDesktopWindow": "GetCurrentThreadDesktopHwnd", "LoadMenuIndirectA": "CreateMenuFromResource", "LoadMenuIndirectW": "CreateMenuFromResource",
	}
	byRVA := map[uint32][]string{}
	for _, e := range exports {
		byRVA[e.RVA] = append(byRVA[e.RVA], e.Name)
	}
	var checked, exact, stub, folded, alias int
	for _, e := range exports {
		if e.Name == "" || e.Forwarder != "" {
			continue
		}
		checked++
		if s, off, ok := p.Lookup(e.RVA); !ok || off != 0 {
			t.Errorf("%s at %#x resolves to %s+%#x", e.Name, e.RVA, s.Name, off)
			continue
		}
		var names []string
		for _, s := range p.Publics() {
			if s.RVA == e.RVA {
				names = append(names, s.Name)
			}
		}
		switch {
		case slices.Contains(names, e.Name):
			exact++
		case slices.Contains(names, "NtUser"+e.Name) || slices.Contains(names, "ZwUser"+e.Name):
			stub++
		case slices.ContainsFunc(names, func(n string) bool { return n != e.Name && slices.Contains(byRVA[e.RVA], n) }):
			folded++
		case slices.Contains(names, aliases[e.Name]):
			alias++
		default:
			t.Errorf("%s at %#x: the PDB has %v", e.Name, e.RVA, names)
		}
	}
	t.Logf("%d named exports: %d by their own name, %d system call stubs, %d folded onto another export, %d aliases", checked, exact, stub, folded, alias)
	if checked != 826 || exact != 635 || stub != 170 || alias != len(aliases) || folded != 10 {
		t.Errorf("%d exports checked: %d exact, %d stubs, %d folded, %d aliases", checked, exact, stub, folded, alias)
	}
}

// TestEntryPoints resolves each image's AddressOfEntryPoint to the entry
// function the PDB names.
func TestEntryPoints(t *testing.T) {
	for _, c := range []struct {
		image, pdb []string
		entry      uint32
		name       string
	}{
		{[]string{"pdb", "user32.dll"}, []string{"symstore", "user32.pdb", "15F778B3671D4EFDBDCDE79905308B792", "user32.pdb"}, 0x1cdb8, "UserClientDllInitialize"},
		{[]string{"pdb", "SimplePDB.exe"}, []string{"pdb", "SimplePDB.pdb"}, 0x1290, "mainCRTStartup"},
		{[]string{"pdb", "vs2019_cpp_override.exe"}, []string{"pdb", "vs2019_cpp_override.pdb"}, 0x1703, "mainCRTStartup"},
		// Incrementally linked: the entry point is a jump thunk to the real one.
		{[]string{"pdb", "exceptions-test.exe"}, []string{"pdb", "exceptions-test.pdb"}, 0x12f8, "@ILT+755(mainCRTStartup)"},
	} {
		img, err := pe.Open(corpus.Path(t, c.image...))
		if err != nil {
			t.Fatal(err)
		}
		var entry uint32
		switch oh := img.OptionalHeader.(type) {
		case *pe.OptionalHeader64:
			entry = oh.AddressOfEntryPoint
		case *pe.OptionalHeader32:
			entry = oh.AddressOfEntryPoint
		}
		img.Close()
		p, err := Open(corpus.Path(t, c.pdb...))
		if err != nil {
			t.Fatal(err)
		}
		s, off, ok := p.LookupFunction(entry)
		if entry != c.entry || !ok || off != 0 || s.Name != c.name {
			t.Errorf("%s: entry %#x is %s+%#x (%v), want %s at %#x", p.Name, entry, s.Name, off, ok, c.name, c.entry)
		}
		p.Close()
	}
}

// BenchmarkLoadPublics opens the largest corpus PDBs and loads their
// public and procedure symbols (what Open does; types stay unread).
func BenchmarkLoadPublics(b *testing.B) {
	for _, rel := range [][]string{{"pdb", "exceptions-test.pdb"}, {"symstore", "user32.pdb", "15F778B3671D4EFDBDCDE79905308B792", "user32.pdb"}} {
		path := corpus.Path(b, rel...)
		b.Run(rel[len(rel)-1], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Publics()) == 0 {
					b.Fatal("no publics")
				}
				p.Close()
			}
		})
	}
}

// TestGeneratedDBI reads a DBI stream built by the test writer: section
// headers, three modules naming one stream with an absurd symbol size, a
// procedure and a public; no hash streams.
func TestGeneratedDBI(t *testing.T) {
	section := func(name string, va uint32) []byte {
		h := make([]byte, 40)
		copy(h, name)
		le.PutUint32(h[8:], 0x1000)
		le.PutUint32(h[12:], va)
		return h
	}
	var mods []byte
	for range 3 {
		m := make([]byte, 64)
		le.PutUint16(m[34:], 7)
		le.PutUint32(m[36:], 0xffffffff)
		mods = append(append(mods, m...), "a.obj\x00a.lib\x00"...) // 76 bytes: already 4-aligned
	}
	opt := bytes.Repeat([]byte{0xff, 0xff}, 11)
	le.PutUint16(opt[2*5:], 5) // section headers
	dbi := make([]byte, 64)
	le.PutUint32(dbi, 0xffffffff)
	le.PutUint32(dbi[4:], 19990903)
	le.PutUint32(dbi[8:], 7) // age
	for _, at := range []int{12, 16} {
		le.PutUint16(dbi[at:], 0xffff) // no globals or publics hash
	}
	le.PutUint16(dbi[20:], 6)
	le.PutUint32(dbi[24:], uint32(len(mods)))
	le.PutUint32(dbi[48:], uint32(len(opt)))
	le.PutUint16(dbi[58:], 0x8664)
	dbi = append(append(dbi, mods...), opt...)

	proc := record(append(append(append(u16(sGProc32), make([]byte, 12)...), u32(0x20)...), append(make([]byte, 12), append(append(u32(0x10), u16(1)...), append([]byte{0}, "proc\x00"...)...)...)...))
	module := append(u32(4), proc...)
	symrec := append(record(append(append(append(u16(sPub32), u32(2)...), u32(0x40)...), append(u16(1), "pub\x00"...)...)),
		record(append(append(append(u16(sGData32), u32(0x22)...), u32(8)...), append(u16(2), "gvar\x00"...)...))...)
	info := make([]byte, 28)
	data := buildMSF([][]byte{nil, info, nil, dbi, nil, append(section(".text", 0x1000), section(".data", 0x3000)...), symrec, module})
	p, err := NewFile(bytes.NewReader(data), int64(len(data)), "gen.pdb")
	if err != nil {
		t.Fatal(err)
	}
	if p.Age != 7 || p.Machine != 0x8664 || len(p.Modules()) != 3 || p.Modules()[2].ObjectFile != "a.lib" || len(p.Sections()) != 2 {
		t.Errorf("age %d, machine %#x, modules %+v, sections %+v", p.Age, p.Machine, p.Modules(), p.Sections())
	}
	want := []Symbol{{Name: "proc", RVA: 0x1010, Size: 0x20, Function: true}, {Name: "pub", RVA: 0x1040, Function: true}}
	if !slices.Equal(p.Symbols(), want) {
		t.Errorf("symbols %+v", p.Symbols())
	}
	if s, off, ok := p.LookupFunction(0x1018); !ok || s.Name != "proc" || off != 8 {
		t.Errorf("0x1018 = %+v+%#x", s, off)
	}
	if _, err := p.Public("pub"); !errors.Is(err, ErrNotFound) {
		t.Errorf("public without a hash table: %v", err)
	}
	if c, err := p.SectionContributions(); c != nil || err != nil {
		t.Errorf("contributions %v, %v", c, err)
	}
	if rva, ok := p.RVA(2, 8); !ok || rva != 0x3008 {
		t.Errorf("2:8 = %#x", rva)
	}
	if _, ok := p.RVA(3, 0); ok {
		t.Error("section 3 resolved")
	}
}

// TestSortByRVA checks the radix sort against the standard stable sort.
func TestSortByRVA(t *testing.T) {
	var in []Symbol
	x := uint32(12345)
	for i := range 5000 {
		x = x*1664525 + 1013904223 // a fixed pseudo-random sequence, with repeats
		in = append(in, Symbol{Name: fmt.Sprint(i), RVA: x >> (x % 24)})
	}
	want := slices.Clone(in)
	slices.SortStableFunc(want, func(a, b Symbol) int { return cmp.Compare(a.RVA, b.RVA) })
	if got := sortByRVA(in); !slices.Equal(got, want) {
		t.Error("radix sort differs from the stable sort")
	}
}

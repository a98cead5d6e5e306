package peimage

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/imagetest"
)

// TestMemoryImage reads the faulting driver of the corpus dump as a
// complete dump holds it and finds what the file holds.
func TestMemoryImage(t *testing.T) {
	path := corpus.Path(t, "symstore", "amdppm.sys", "C9C030003b000", "amdppm.sys")
	const base = 0xfffff8048b580000
	file, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	mem := imagetest.Pages{}
	mem.Load(t, path, base)
	img, err := NewMemoryImage(mem, base, "amdppm.sys")
	if err != nil {
		t.Fatal(err)
	}
	if img.TimeDateStamp != 0xc9c03000 || img.SizeOfImage != 0x3b000 || img.SymbolStoreKey() != "C9C030003b000" {
		t.Errorf("identity %#x %#x %s", img.TimeDateStamp, img.SizeOfImage, img.SymbolStoreKey())
	}
	cvf, _ := file.CodeView()
	cvm, err := img.CodeView()
	if err != nil || cvm.SymbolStoreKey() != "1C19FDDB27BB3399D9B45973EFEAFCF31" || cvm.SymbolStoreKey() != cvf.SymbolStoreKey() {
		t.Errorf("CodeView %+v %v", cvm, err)
	}
	vf, _ := file.Version()
	vm, err := img.Version()
	if err != nil || !reflect.DeepEqual(vf, vm) || vm.Strings["FileDescription"] != "Processor Device Driver" {
		t.Errorf("version %+v %v", vm, err)
	}
	ff, _ := file.RuntimeFunctions()
	fm, err := img.RuntimeFunctions()
	if err != nil || len(fm) == 0 || !reflect.DeepEqual(ff, fm) {
		t.Fatalf("%d runtime functions from memory, %d from the file, %v", len(fm), len(ff), err)
	}
	for _, rf := range fm {
		uf, _ := file.UnwindChain(rf)
		um, err := img.UnwindChain(rf)
		if err != nil || !reflect.DeepEqual(uf, um) {
			t.Fatalf("unwind info of %#x differs: %v", rf.Begin, err)
		}
	}

	// A paged-out .pdata page fails when read, not when the image is opened.
	rva, _, _ := img.Directory(DirException)
	delete(mem, (base+uint64(rva))&^0xfff)
	img2, err := NewMemoryImage(mem, base, "amdppm.sys")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img2.RuntimeFunctions(); err == nil || !strings.Contains(err.Error(), "not in the dump") {
		t.Errorf("paged-out .pdata: %v", err)
	}
}

func TestMemoryImageHostile(t *testing.T) {
	const base = 0x140000000
	hdr := func(mut func(b []byte)) imagetest.Pages {
		b := make([]byte, 0x400)
		copy(b, "MZ")
		b[0x3c] = 0x80
		copy(b[0x80:], "PE\x00\x00")
		mut(b)
		m := imagetest.Pages{}
		m.Write(base, b)
		return m
	}
	for _, c := range []struct {
		name string
		mem  imagetest.Pages
		want string
	}{
		{"nothing captured", imagetest.Pages{}, "headers not in the dump"},
		{"no MZ", hdr(func(b []byte) { b[0] = 'X' }), "no MZ signature"},
		{"wild e_lfanew", hdr(func(b []byte) { b[0x3c], b[0x3e] = 0, 0x7f }), "implausible"},
		{"no PE", hdr(func(b []byte) { b[0x80] = 'X' }), "no PE signature"},
		{"absurd sections", hdr(func(b []byte) { b[0x86], b[0x87] = 0xff, 0xff }), "implausible"},
	} {
		if _, err := NewMemoryImage(c.mem, base, "x.sys"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

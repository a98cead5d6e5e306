package unwind_test

import (
	"errors"
	"testing"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/internal/imagetest"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/peimage"
	"github.com/bugcheck/bugcheck/unwind"
	"github.com/bugcheck/bugcheck/vmem"
)

type dumpMods []kdump.Driver

func (ds dumpMods) ModuleAt(addr uint64) (unwind.Module, bool) {
	for _, d := range ds {
		if d.Contains(addr) {
			return unwind.Module{Name: d.BaseName(), Base: d.Base, Size: d.Size, Timestamp: d.Timestamp}, true
		}
	}
	return unwind.Module{}, false
}

// memImages reads images from memory, as a complete dump holds them.
type memImages struct {
	mem  peimage.VirtualMemory
	mods dumpMods
}

func (im memImages) Image(name string, _, _ uint32) (*peimage.File, error) {
	for _, d := range im.mods {
		if d.BaseName() == name {
			return peimage.NewMemoryImage(im.mem, d.Base, name)
		}
	}
	return nil, errors.New("no such module")
}

// TestUnwindFromMemoryImages unwinds the corpus crash with the drivers'
// images read from memory instead of from files: the same frames as with
// the image files.
func TestUnwindFromMemoryImages(t *testing.T) {
	f, err := kdump.Open(corpus.Path(t, "dumps", "triage_x64.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	images := imagetest.Pages{}
	images.Load(t, corpus.Path(t, "symstore", "amdppm.sys", "C9C030003b000", "amdppm.sys"), 0xfffff8048b580000)
	images.Load(t, corpus.Path(t, "symstore", "Wdf01000.sys", "A9A9D36Ed1000", "Wdf01000.sys"), 0xfffff80479950000)
	var mem *vmem.Space = f.Memory().WithBacking(images)
	raw, err := mem.Bytes(f.Header.BugCheckParameters[3], cpuctx.ArchX64.Size())
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := cpuctx.Parse(cpuctx.ArchX64, raw)
	if err != nil {
		t.Fatal(err)
	}
	mods := dumpMods(f.Triage.Drivers)
	res := unwind.X64(ctx, mem, mods, memImages{mem, mods})
	want := []struct{ ip, sp uint64 }{
		{0xfffff8048b58334c, 0xffff850429892120}, {0xfffff8048b58313f, 0xffff850429892150},
		{0xfffff8048b583234, 0xffff850429892180}, {0xfffff8048b5a0e8f, 0xffff8504298921b0},
		{0xfffff8048b5a83f6, 0xffff850429892210}, {0xfffff8048b59f852, 0xffff850429892340},
	}
	if len(res.Frames) != 17 {
		t.Fatalf("%d frames (%s)", len(res.Frames), res.Stopped)
	}
	for i, w := range want {
		if fr := res.Frames[i]; fr.IP != w.ip || fr.SP != w.sp {
			t.Errorf("frame %d: ip %#x sp %#x, want %#x %#x", i, fr.IP, fr.SP, w.ip, w.sp)
		}
	}
	for i := 6; i < 16; i++ {
		if res.Frames[i].Module != "Wdf01000.sys" {
			t.Errorf("frame %d in %s", i, res.Frames[i].Module)
		}
	}
	if last := res.Frames[16]; last.Module != "ntoskrnl.exe" || last.IP != 0xfffff8047bc52f55 {
		t.Errorf("last frame %+v", last)
	}
}

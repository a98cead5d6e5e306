package analyze

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/peimage"
	"github.com/bugcheck/bugcheck/unwind"
)

// dumpImages supplies module images for unwinding: from the image files
// the options name when they have them, otherwise, in dumps that hold the
// kernel's memory, from the image the loader mapped there. So a kernel or
// complete dump unwinds with no image files at all.
type dumpImages struct {
	a     *analysis
	files unwind.Images // nil without --images or a symbol path
	cache map[string]*peimage.File
}

func (d *dumpImages) Image(name string, timestamp, size uint32) (*peimage.File, error) {
	var ferr error
	if d.files != nil {
		f, err := d.files.Image(name, timestamp, size)
		if err == nil {
			return f, nil
		}
		ferr = err
	}
	if d.a.f.PageTables() == nil {
		if ferr == nil {
			ferr = fmt.Errorf("image %s not available", name)
		}
		return nil, ferr
	}
	key := fmt.Sprintf("%s/%08X%x", strings.ToLower(name), timestamp, size)
	if f, ok := d.cache[key]; ok {
		if f == nil {
			return nil, fmt.Errorf("image %s: not in the dump's memory either", name)
		}
		return f, nil
	}
	var base uint64
	for _, m := range d.a.mods {
		if strings.EqualFold(m.BaseName(), name) && m.Timestamp == timestamp && m.Size == size {
			base = m.Base
		}
	}
	var f *peimage.File
	var err error
	if base != 0 {
		f, err = peimage.NewMemoryImage(d.a.mem, base, name)
		if err == nil && (f.TimeDateStamp != timestamp || f.SizeOfImage != size) {
			f, err = nil, fmt.Errorf("the image in memory at %s is not the one the module list names", d.a.ptrHex(base))
		}
	}
	if d.cache == nil {
		d.cache = map[string]*peimage.File{}
	}
	d.cache[key] = f
	if f == nil {
		if ferr != nil && err != nil {
			return nil, fmt.Errorf("%v; in memory: %v", ferr, err)
		}
		if err == nil {
			err = fmt.Errorf("image %s is not in the module list", name)
		}
		return nil, err
	}
	return f, nil
}

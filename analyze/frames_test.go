package analyze_test

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/peimage"
)

// stubImages serves one image by module name.
type stubImages map[string]*peimage.File

func (s stubImages) Image(name string, _, _ uint32) (*peimage.File, error) {
	if f, ok := s[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("%s not found", name)
}

// arm64Driver builds an ARM64 image whose function at RVA 0x1200
// (0x100 bytes) has packed unwind data for the canonical frame
// stp x19,x20,[sp,#-16]!; stp fp,lr,[sp,#-16]!; mov fp,sp.
func arm64Driver(t *testing.T) *peimage.File {
	sect := make([]byte, 0x1000)
	binary.LittleEndian.PutUint32(sect, 0x1200)
	binary.LittleEndian.PutUint32(sect[4:], 1|64<<2|2<<16|3<<21|2<<23)
	var oh pe.OptionalHeader64
	oh.Magic, oh.ImageBase, oh.SectionAlignment, oh.FileAlignment = 0x20b, 0x140000000, 0x1000, 0x200
	oh.SizeOfImage, oh.SizeOfHeaders, oh.NumberOfRvaAndSizes = 0x10000, 0x400, 16
	oh.DataDirectory[peimage.DirException] = pe.DataDirectory{VirtualAddress: 0x1000, Size: 8}
	fh := pe.FileHeader{Machine: peimage.MachineARM64, NumberOfSections: 1, SizeOfOptionalHeader: uint16(binary.Size(oh)), Characteristics: 0x22}
	sh := pe.SectionHeader32{VirtualSize: 0x1000, VirtualAddress: 0x1000, SizeOfRawData: 0x1000, PointerToRawData: 0x400, Characteristics: 0x60000020}
	var b bytes.Buffer
	b.WriteString("MZ")
	b.Write(make([]byte, 0x3a))
	binary.Write(&b, binary.LittleEndian, uint32(0x40))
	b.WriteString("PE\x00\x00")
	binary.Write(&b, binary.LittleEndian, fh)
	binary.Write(&b, binary.LittleEndian, oh)
	binary.Write(&b, binary.LittleEndian, sh)
	b.Write(make([]byte, 0x400-b.Len()))
	b.Write(sect)
	f, err := peimage.NewFile(bytes.NewReader(b.Bytes()), "v.sys")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestUnwindArchitectures unwinds SYSTEM_THREAD_EXCEPTION_NOT_HANDLED dumps
// of ARM64 (with the driver's unwind data) and x86 (along the EBP chain).
func TestUnwindArchitectures(t *testing.T) {
	type frame struct{ ip, sp, method string }
	cases := []struct {
		arch   cpuctx.Arch
		base   uint64
		top    uint64
		regs   func(ip, top uint64) map[string]uint64
		stack  func(base, top uint64) map[uint64]uint64 // offset in the stack → value
		want   func(base, top uint64) []frame
		note   string
		images stubImages
	}{
		{cpuctx.ArchARM64, 0xfffff80010000000, 0xffffa00000001000,
			func(ip, top uint64) map[string]uint64 {
				return map[string]uint64{"pc": ip, "sp": top + 0x40, "fp": top + 0x40, "lr": 0x1234}
			},
			func(base, top uint64) map[uint64]uint64 {
				return map[uint64]uint64{0x40: top + 0x60, 0x48: base + 0x1284, 0x50: 0x19, 0x58: 0x20}
			},
			func(base, top uint64) []frame {
				return []frame{{frameHex(base + 0x1234), frameHex(top + 0x40), "context"}, {frameHex(base + 0x1284), frameHex(top + 0x60), "unwind"}}
			},
			"unwinding stopped: reached the end of the stack (return address 0)", stubImages{"v.sys": arm64Driver(t)}},
		{cpuctx.ArchX86, 0x82a00000, 0x8f000000,
			func(ip, top uint64) map[string]uint64 {
				return map[string]uint64{"eip": ip, "esp": top + 0x10, "ebp": top + 0x40}
			},
			func(base, top uint64) map[uint64]uint64 {
				return map[uint64]uint64{0x40: (base+0x2000)<<32 | (top + 0x80), 0x80: (base + 0x3000) << 32}
			},
			func(base, top uint64) []frame {
				return []frame{{frameHex(base + 0x1234), frameHex(top + 0x10), "context"}, {frameHex(base + 0x2000), frameHex(top + 0x48), "frame pointer"},
					{frameHex(base + 0x3000), frameHex(top + 0x88), "frame pointer"}}
			},
			"unwinding stopped: reached the end of the frame chain (ebp 0)", stubImages{}},
	}
	for _, c := range cases {
		ip := c.base + 0x1234
		ctx := &cpuctx.Context{Arch: c.arch, Flags: cpuctx.Full(c.arch)}
		for k, v := range c.regs(ip, c.top) {
			ctx.Set(k, v)
		}
		stack := make([]byte, 0x800)
		const cxrAt = 0x200
		copy(stack[cxrAt:], ctx.Bytes())
		for off, v := range c.stack(c.base, c.top) {
			binary.LittleEndian.PutUint64(stack[off:], v)
		}
		d := &dumpwriter.Triage{Header: dumpwriter.Header{Arch: c.arch, Build: 22621, Processors: 2, BugCheck: 0x7e,
			Params: [4]uint64{0xc0000005, ip, 0, c.top + cxrAt}},
			Modules:    []dumpwriter.Module{{Path: `\SystemRoot\System32\drivers\v.sys`, Base: c.base, Size: 0x10000}},
			TopOfStack: c.top, Stack: stack}
		b, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		r := analyze.Analyze(open(t, b), analyze.Options{Images: c.images})
		want := c.want(c.base, c.top)
		ok := len(r.Frames) == len(want) && r.FramesNote == c.note
		for i := 0; ok && i < len(want); i++ {
			f := r.Frames[i]
			ok = f.IP == want[i].ip && f.ChildSP == want[i].sp && f.Method == want[i].method && f.Module == "v.sys"
		}
		if !ok {
			t.Errorf("%s: frames %+v, note %q; want %+v, %q", c.arch, r.Frames, r.FramesNote, want, c.note)
		}
		if strings.Contains(r.FramesNote, "no register context") {
			t.Errorf("%s: %s", c.arch, r.FramesNote)
		}
	}
}

func frameHex(v uint64) string { return fmt.Sprintf("%#x", v) }

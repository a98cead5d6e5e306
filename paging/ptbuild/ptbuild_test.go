package ptbuild_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bugcheck/bugcheck/paging"
	"github.com/bugcheck/bugcheck/paging/ptbuild"
)

func TestMemory(t *testing.T) {
	var m ptbuild.Memory
	if n, err := m.WriteAt([]byte("hello, world"), 0x1FFA); n != 12 || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	if got := m.PFNs(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("PFNs = %v, want [1 2]", got)
	}
	buf := make([]byte, 12)
	if n, err := m.ReadAt(buf, 0x1FFA); n != 12 || err != nil || string(buf) != "hello, world" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
	}
	if p := m.Page(2); len(p) != 4096 || !bytes.Equal(p[:6], []byte(" world")) {
		t.Fatalf("Page(2) starts %q", p[:6])
	}
	n, err := m.ReadAt(make([]byte, 8), 0x2FFC)
	var me *ptbuild.MissingError
	if n != 4 || !errors.As(err, &me) || me.Addr != 0x3000 {
		t.Fatalf("read past the last page = %d, %v", n, err)
	}
	m.RemovePage(1)
	if _, err := m.ReadAt(buf[:1], 0x1FFF); !errors.As(err, &me) || me.Addr != 0x1FFF {
		t.Fatalf("read of removed page: %v", err)
	}
	if m.Len() != 1 || m.Page(1) != nil {
		t.Fatalf("Len %d after RemovePage", m.Len())
	}
	if _, err := m.ReadAt(buf, -1); err == nil {
		t.Fatal("negative offset read succeeded")
	}
}

func TestBuilderLayout(t *testing.T) {
	tests := []struct {
		mode      paging.Mode
		va        uint64
		wantPages int // root + tables created for one 4 KiB mapping
	}{
		{paging.X64, 0xFFFFF800_00000000, 4},
		{paging.X64LA57, 0xFF00_0000_0000_0000, 5},
		{paging.X86PAE, 0x8000_0000, 3},
		{paging.X86, 0x8000_0000, 2},
		{paging.ARM64, 0xFFFF_0000_0000_0000, 4},
	}
	for _, tc := range tests {
		var m ptbuild.Memory
		b, err := ptbuild.New(tc.mode, &m, 0x10, ptbuild.Layout{})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Map(tc.va, 0x5000, 4096); err != nil {
			t.Fatalf("%v: %v", tc.mode, err)
		}
		if m.Len() != tc.wantPages || b.NextPFN() != 0x10+uint64(tc.wantPages) {
			t.Errorf("%v: %d pages, next PFN %#x", tc.mode, m.Len(), b.NextPFN())
		}
		if got := m.PFNs()[0]; got != 0x10 || b.Root()&^0xFFF != 0x10000 {
			t.Errorf("%v: first table PFN %#x, root %#x", tc.mode, got, b.Root())
		}
		// A second mapping in the same last-level table adds no page.
		if err := b.Map(tc.va+0x1000, 0x6000, 4096); err != nil || m.Len() != tc.wantPages {
			t.Errorf("%v: second mapping: %v, %d pages", tc.mode, err, m.Len())
		}
		tr := paging.New(tc.mode, b.Root(), &m)
		if pa, err := tr.Translate(tc.va + 0x1004); err != nil || pa != 0x6004 {
			t.Errorf("%v: Translate = %#x, %v", tc.mode, pa, err)
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	b, _ := ptbuild.New(paging.X64, &ptbuild.Memory{}, 1, ptbuild.Layout{})
	if err := b.Map(0x1000, 0x2000, 4<<20); err == nil {
		t.Error("4 MiB page accepted on x64")
	}
	if err := b.Map(0x1000, 0x20_0000, 2<<20); err == nil {
		t.Error("misaligned 2 MiB page accepted")
	}
	if err := b.Map(0x20_0000, 0x40_0000, 2<<20); err != nil {
		t.Fatal(err)
	}
	if err := b.Map(0x20_1000, 0x5000, 4096); err == nil {
		t.Error("4 KiB page mapped inside a large page")
	}
	if err := b.Map(0x1000, 0x5000, 4096); err != nil {
		t.Fatal(err)
	}
	if err := b.Map(0, 0x60_0000, 2<<20); err == nil {
		t.Error("large page replaced a page table")
	}
	if err := b.SetEntry(0x1000, 7, 0); err == nil {
		t.Error("level 7 accepted")
	}
	if err := b.SetEntry(0x4000_0000, 1, b.PageFile(0, 0x1000, paging.ProtReadWrite)); err != nil {
		t.Fatal(err)
	}
	if err := b.Map(0x4000_0000, 0x5000, 4096); err == nil {
		t.Error("mapped below a non-present entry")
	}
	if _, err := ptbuild.New(paging.Mode(0), &ptbuild.Memory{}, 1, ptbuild.Layout{}); err == nil {
		t.Error("mode 0 accepted")
	}
	x86, _ := ptbuild.New(paging.X86, &ptbuild.Memory{}, 1, ptbuild.Layout{})
	if err := x86.Map(0x40_0000, 0x40_0000, 2<<20); err == nil {
		t.Error("2 MiB page accepted without PAE")
	}
}

// TestEncodersRoundTrip checks every encoder against the paging package's
// decoder in every mode and layout.
func TestEncodersRoundTrip(t *testing.T) {
	for _, mode := range []paging.Mode{paging.X64, paging.X64LA57, paging.X86PAE, paging.X86, paging.ARM64, paging.ARM64LPA2} {
		for _, layout := range []ptbuild.Layout{{}, {Build: 7601}, {InvalidPTEMask: 1 << 45}} {
			if mode == paging.X86PAE && layout.InvalidPTEMask != 0 {
				layout.InvalidPTEMask = 1 << 37
			}
			b, _ := ptbuild.New(mode, &ptbuild.Memory{}, 1, layout)
			opt := paging.Options{Build: layout.Build, InvalidPTEMask: layout.InvalidPTEMask}
			proto := uint64(0xFFFF_C000_1234_5678)
			if mode == paging.X86PAE || mode == paging.X86 {
				proto = 0xE123_4568
			}
			cases := []struct {
				v    uint64
				want paging.Software
			}{
				{b.Transition(0x1234, paging.ProtReadWrite), paging.Software{State: paging.Transition, Protection: paging.ProtReadWrite, PFN: 0x1234}},
				{b.PageFile(3, 0x55000, paging.ProtExecuteRead), paging.Software{State: paging.PageFile, Protection: paging.ProtExecuteRead, PageFile: 3, PageFileOffset: 0x55000}},
				{b.DemandZero(paging.ProtReadOnly), paging.Software{State: paging.DemandZero, Protection: paging.ProtReadOnly}},
				{b.DemandZero(paging.ProtDecommit), paging.Software{State: paging.NoAccess, Protection: paging.ProtDecommit}},
				{b.Prototype(proto, paging.ProtReadOnly), paging.Software{State: paging.Prototype, Protection: paging.ProtReadOnly, ProtoAddr: proto}},
				{b.PrototypeVAD(paging.ProtReadOnly), paging.Software{State: paging.Prototype, Protection: paging.ProtReadOnly, VADLookup: true}},
			}
			for i, c := range cases {
				got := paging.DecodeSoftware(mode, c.v, opt)
				got.Swizzled, got.Unswizzled = false, false
				if mode == paging.X86 && c.want.State == paging.Prototype {
					c.want.Protection = 0 // no protection field without PAE
				}
				if got != c.want {
					t.Errorf("%v %+v case %d: %#x decodes to %+v, want %+v", mode, layout, i, c.v, got, c.want)
				}
			}
		}
	}
}

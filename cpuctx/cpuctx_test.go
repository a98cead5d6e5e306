package cpuctx

import (
	"encoding/binary"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, a := range []Arch{ArchX64, ArchX86, ArchARM64} {
		c := &Context{Arch: a, Flags: Full(a)}
		var pc, sp string
		switch a {
		case ArchX64:
			pc, sp = "rip", "rsp"
			c.Set("r15", 0x1515)
		case ArchX86:
			pc, sp = "eip", "esp"
			c.Set("edi", 0xd1)
		case ArchARM64:
			pc, sp = "pc", "sp"
			c.Set("x28", 0x28)
			c.Set("fp", 0xf0)
		}
		c.Set(pc, 0x1234)
		c.Set(sp, 0x5678)
		b := c.Bytes()
		if len(b) != a.Size() {
			t.Fatalf("%s: %d bytes", a, len(b))
		}
		d, err := Parse(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if d.PC() != 0x1234 || d.SP() != 0x5678 || d.Flags != Full(a) {
			t.Errorf("%s: pc %#x sp %#x flags %#x", a, d.PC(), d.SP(), d.Flags)
		}
		if _, err := Parse(a, b[:0x40]); err == nil {
			t.Errorf("%s: short record parsed", a)
		}
	}
}

func TestX64Layout(t *testing.T) {
	b := make([]byte, SizeX64)
	binary.LittleEndian.PutUint64(b[0xf8:], 0xfffff8048b58334c) // Rip
	binary.LittleEndian.PutUint64(b[0x98:], 0xffff850429892120) // Rsp
	binary.LittleEndian.PutUint64(b[0xb8:], 0x1_0000_0008)      // R8
	c, _ := Parse(ArchX64, b)
	if c.PC() != 0xfffff8048b58334c || c.SP() != 0xffff850429892120 {
		t.Errorf("pc %#x sp %#x", c.PC(), c.SP())
	}
	if v, ok := c.Reg("r8d"); !ok || v != 8 {
		t.Errorf("r8d = %#x %v", v, ok)
	}
	if _, ok := c.Reg("x0"); ok {
		t.Error("x0 on x64")
	}
}

func TestARM64Aliases(t *testing.T) {
	c := &Context{Arch: ArchARM64}
	c.Set("x3", 0x1_2345_6789)
	c.Set("lr", 0x30)
	c.Set("fp", 0x29)
	for name, want := range map[string]uint64{"w3": 0x23456789, "x30": 0x30, "x29": 0x29, "xzr": 0} {
		if v, ok := c.Reg(name); !ok || v != want {
			t.Errorf("%s = %#x %v", name, v, ok)
		}
	}
}

func TestTrapFrame(t *testing.T) {
	c := &Context{Arch: ArchX64}
	c.Set("rip", 0xfffff80275a31a40)
	c.Set("rsp", 0xfffff8027a55d490)
	c.Set("rcx", 0xffffc80a1b2c3f00)
	c.Set("cs", 0x10)
	b := TrapFrameX64Bytes(c, 0xffffc80a1b2c4000)
	d, fault, err := ParseTrapFrameX64(b)
	if err != nil || d.PC() != 0xfffff80275a31a40 || d.SP() != 0xfffff8027a55d490 || fault != 0xffffc80a1b2c4000 {
		t.Errorf("trap frame: %v pc %#x sp %#x fault %#x", err, d.PC(), d.SP(), fault)
	}
	if v, _ := d.Reg("rcx"); v != 0xffffc80a1b2c3f00 {
		t.Errorf("rcx = %#x", v)
	}
	if _, _, err := ParseTrapFrameX64(b[:0x100]); err == nil {
		t.Error("short trap frame parsed")
	}
}

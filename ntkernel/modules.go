package ntkernel

import (
	"encoding/binary"
	"fmt"
)

// Module is one entry of the kernel's loaded-module list.
type Module struct {
	Entry      uint64 // address of the KLDR_DATA_TABLE_ENTRY
	Base       uint64
	Size       uint32
	EntryPoint uint64
	Timestamp  uint32 // 0 when neither the entry nor the image header gave one
	Checksum   uint32
	Name       string // BaseDllName, e.g. "ntoskrnl.exe"
	Path       string // FullDllName, e.g. "\SystemRoot\system32\ntoskrnl.exe"
}

// ldrLayout holds KLDR_DATA_TABLE_ENTRY offsets. The fields up to the
// names have not moved since Windows XP; the timestamp moved when Windows 8
// gave the kernel list its own entry type.
type ldrLayout struct {
	base, entry, size, full, name, checksum int
	timestamps                              []int // candidates, newest layout first
}

var (
	ldr64 = ldrLayout{base: 0x30, entry: 0x38, size: 0x40, full: 0x48, name: 0x58, checksum: 0x78, timestamps: []int{0x9c, 0x80}}
	ldr32 = ldrLayout{base: 0x18, entry: 0x1c, size: 0x20, full: 0x24, name: 0x2c, checksum: 0x40, timestamps: []int{0x58, 0x44}}
)

// Modules walks PsLoadedModuleList. An entry whose fields cannot be read
// ends the walk with an error; the modules read before it are returned.
func (k *Kernel) Modules() ([]Module, error) {
	head := k.moduleHead()
	if head == 0 {
		return nil, fmt.Errorf("no PsLoadedModuleList address in the dump")
	}
	lay := k.ldrLayout()
	tsOff := -1 // chosen on the first entry whose image header is readable
	var mods []Module
	var entryErr error
	err := k.WalkList(head, func(e uint64) bool {
		m, err := k.module(e, lay)
		if err != nil {
			entryErr = err
			return false
		}
		if tsOff < 0 {
			tsOff = k.pickTimestamp(e, m.Base, lay)
		}
		if tsOff >= 0 {
			m.Timestamp, _ = k.u32(e + uint64(tsOff))
		}
		mods = append(mods, m)
		return true
	})
	if entryErr != nil {
		return mods, entryErr
	}
	if tsOff < 0 && len(mods) > 0 {
		// No image header was captured: trust the layout of the build.
		tsOff = lay.timestamps[0]
		if k.Build != 0 && k.Build < 9200 {
			tsOff = lay.timestamps[1]
		}
		for i := range mods {
			mods[i].Timestamp, _ = k.u32(mods[i].Entry + uint64(tsOff))
		}
		k.warnf("module timestamps read at offset %#x without an image header to confirm it", tsOff)
	}
	return mods, err
}

// moduleHead returns the address of PsLoadedModuleList: the debugger data
// block's, the header's, or the symbols'.
func (k *Kernel) moduleHead() uint64 {
	if k.KDBG != nil && k.KDBG.PsLoadedModuleList != 0 {
		return k.KDBG.PsLoadedModuleList
	}
	if k.PsLoadedModuleList != 0 || k.Symbols == nil || k.KernBase == 0 {
		return k.PsLoadedModuleList
	}
	a, _ := k.Global("PsLoadedModuleList")
	return a
}

// ldrLayout returns the KLDR_DATA_TABLE_ENTRY offsets: the symbols' when
// they give them all, else those that have not moved since Windows XP.
func (k *Kernel) ldrLayout() ldrLayout {
	lay := ldr64
	if k.ptrSize() == 4 {
		lay = ldr32
	}
	if s, err := k.symbolLayout(); err == nil && s.ldrOK() {
		l := s.ldr
		if len(l.timestamps) == 0 {
			l.timestamps = lay.timestamps
		}
		return l
	}
	return lay
}

func (k *Kernel) module(e uint64, lay ldrLayout) (Module, error) {
	m := Module{Entry: e}
	var err error
	if m.Base, err = k.Ptr(e + uint64(lay.base)); err != nil {
		return m, fmt.Errorf("module entry %#x: %w", e, err)
	}
	m.EntryPoint, _ = k.Ptr(e + uint64(lay.entry))
	if m.Size, err = k.u32(e + uint64(lay.size)); err != nil {
		return m, fmt.Errorf("module entry %#x: %w", e, err)
	}
	m.Checksum, _ = k.u32(e + uint64(lay.checksum))
	if m.Path, err = k.UnicodeString(e+uint64(lay.full), 2048); err != nil {
		k.warnf("module entry %#x: path: %v", e, err)
	}
	if m.Name, err = k.UnicodeString(e+uint64(lay.name), 512); err != nil {
		k.warnf("module entry %#x: name: %v", e, err)
	}
	if m.Name == "" {
		m.Name = baseName(m.Path)
	}
	return m, nil
}

// pickTimestamp returns the candidate timestamp offset that agrees with the
// module's PE header, or -1 when the header is not readable.
func (k *Kernel) pickTimestamp(e, base uint64, lay ldrLayout) int {
	ts, ok := k.imageTimestamp(base)
	if !ok {
		return -1
	}
	for _, off := range lay.timestamps {
		if v, err := k.u32(e + uint64(off)); err == nil && v == ts {
			return off
		}
	}
	k.warnf("module entry %#x: no candidate timestamp field matches the image header's %#x", e, ts)
	return lay.timestamps[0]
}

// imageTimestamp reads TimeDateStamp from the PE header of an image mapped
// at base.
func (k *Kernel) imageTimestamp(base uint64) (uint32, bool) {
	dos, err := k.read(base, 0x40)
	if err != nil || dos[0] != 'M' || dos[1] != 'Z' {
		return 0, false
	}
	lfanew := binary.LittleEndian.Uint32(dos[0x3c:])
	if lfanew > 0x1000 {
		return 0, false
	}
	nt, err := k.read(base+uint64(lfanew), 12)
	if err != nil || string(nt[:4]) != "PE\x00\x00" {
		return 0, false
	}
	return binary.LittleEndian.Uint32(nt[8:]), true
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '\\' || p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// UnloadedModule is an entry of the kernel's record of recently unloaded
// drivers (MmUnloadedDrivers).
type UnloadedModule struct {
	Name       string
	Start, End uint64
	Time       uint64 // FILETIME of the unload
}

// unloadedSlots is the size of the kernel's circular unloaded-driver array.
const unloadedSlots = 50

// Unloaded reads MmUnloadedDrivers, most recent first. Empty slots are
// skipped.
func (k *Kernel) Unloaded() ([]UnloadedModule, error) {
	var arrVar, lastVar uint64
	if d := k.KDBG; d != nil {
		arrVar, lastVar = d.MmUnloadedDrivers, d.MmLastUnloadedDriver
	}
	if arrVar == 0 || lastVar == 0 {
		a, err1 := k.Global("MmUnloadedDrivers")
		l, err2 := k.Global("MmLastUnloadedDriver")
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("neither the debugger data block nor the kernel's symbols locate the unloaded drivers")
		}
		arrVar, lastVar = a, l
	}
	arr, err := k.Ptr(arrVar)
	if err != nil {
		return nil, fmt.Errorf("MmUnloadedDrivers: %w", err)
	}
	if arr == 0 {
		return nil, nil // nothing was ever unloaded
	}
	last, err := k.u32(lastVar)
	if err != nil {
		return nil, fmt.Errorf("MmLastUnloadedDriver: %w", err)
	}
	ps := uint64(k.ptrSize())
	entry := 2*ps + 2*ps + 8 // UNICODE_STRING, start, end, time
	var out []UnloadedModule
	for i := 0; i < unloadedSlots; i++ {
		slot := (int(last%unloadedSlots) - 1 - i + 2*unloadedSlots) % unloadedSlots
		e := arr + uint64(slot)*entry
		start, err1 := k.Ptr(e + 2*ps)
		end, err2 := k.Ptr(e + 3*ps)
		if err1 != nil || err2 != nil {
			return out, fmt.Errorf("unloaded driver slot %d at %#x is not in the dump", slot, e)
		}
		if start == 0 && end == 0 {
			continue
		}
		name, err := k.UnicodeString(e, 512)
		if err != nil {
			k.warnf("unloaded driver slot %d: name: %v", slot, err)
		}
		tb, _ := k.read(e+4*ps, 8)
		var ts uint64
		if tb != nil {
			ts = binary.LittleEndian.Uint64(tb)
		}
		out = append(out, UnloadedModule{Name: name, Start: start, End: end, Time: ts})
	}
	return out, nil
}

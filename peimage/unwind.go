package peimage

import (
	"fmt"
	"slices"
	"sort"
)

// RuntimeFunction is an x64 .pdata entry (ARM64 entries are ARM64Function).
type RuntimeFunction struct {
	Begin, End, UnwindInfo uint32 // RVAs
}

// RuntimeFunctions returns the x64 exception table sorted by Begin.
func (f *File) RuntimeFunctions() ([]RuntimeFunction, error) {
	if f.Machine != 0x8664 {
		return nil, fmt.Errorf("peimage: %s: x64 unwind data only (machine %#x)", f.Name, f.Machine)
	}
	rva, size, err := f.Directory(DirException)
	if err != nil {
		return nil, err
	}
	n := size / 12
	if n > f.SizeOfImage/12 {
		return nil, f.errf(rva, "exception directory of %d entries", n)
	}
	b, err := f.ReadRVA(rva, int(12*n))
	if err != nil {
		return nil, err
	}
	out := make([]RuntimeFunction, 0, n)
	for i := uint32(0); i < n; i++ {
		rf := RuntimeFunction{le.Uint32(b[12*i:]), le.Uint32(b[12*i+4:]), le.Uint32(b[12*i+8:])}
		if rf.Begin < rf.End {
			out = append(out, rf)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Begin < out[j].Begin })
	return out, nil
}

// LookupFunction finds the function containing rva.
func LookupFunction(fns []RuntimeFunction, rva uint32) (RuntimeFunction, bool) {
	i := sort.Search(len(fns), func(i int) bool { return fns[i].End > rva })
	if i < len(fns) && fns[i].Begin <= rva {
		return fns[i], true
	}
	return RuntimeFunction{}, false
}

// Unwind operation codes (UNWIND_CODE.UnwindOp).
const (
	UwopPushNonvol    = 0
	UwopAllocLarge    = 1
	UwopAllocSmall    = 2
	UwopSetFPReg      = 3
	UwopSaveNonvol    = 4
	UwopSaveNonvolFar = 5
	UwopEpilog        = 6
	UwopSpareCode     = 7
	UwopSaveXMM128    = 8
	UwopSaveXMM128Far = 9
	UwopPushMachFrame = 10
)

// Unwind info flags.
const (
	UnwFlagEHandler  = 1
	UnwFlagUHandler  = 2
	UnwFlagChainInfo = 4
)

// UnwindCode is one decoded unwind operation.
type UnwindCode struct {
	CodeOffset uint8  // offset in the prolog after which the operation has happened
	Op         uint8  // UWOP_*
	Info       uint8  // register number or other operation detail
	Operand    uint32 // extra slot value: allocation size, or a scaled stack offset
}

// UnwindInfo is a decoded x64 UNWIND_INFO.
type UnwindInfo struct {
	Version       uint8
	Flags         uint8
	SizeOfProlog  uint8
	FrameRegister uint8 // 0: none
	FrameOffset   uint8 // scaled by 16
	Codes         []UnwindCode
	Chained       *RuntimeFunction // with UNW_FLAG_CHAININFO
}

// Unwind decodes the UNWIND_INFO at rva.
func (f *File) Unwind(rva uint32) (*UnwindInfo, error) {
	h, err := f.ReadRVA(rva, 4)
	if err != nil {
		return nil, err
	}
	u := &UnwindInfo{Version: h[0] & 7, Flags: h[0] >> 3, SizeOfProlog: h[1], FrameRegister: h[3] & 15, FrameOffset: h[3] >> 4}
	if u.Version != 1 && u.Version != 2 {
		return nil, f.errf(rva, "unwind info version %d", u.Version)
	}
	count := int(h[2])
	slots, err := f.ReadRVA(rva+4, 2*((count+1)&^1))
	if err != nil {
		return nil, err
	}
	for i := 0; i < count; i++ {
		c := UnwindCode{CodeOffset: slots[2*i], Op: slots[2*i+1] & 15, Info: slots[2*i+1] >> 4}
		extra := 0
		switch c.Op {
		case UwopAllocLarge:
			if c.Info == 0 {
				extra = 1
			} else {
				extra = 2
			}
		case UwopSaveNonvol, UwopSaveXMM128:
			extra = 1
		case UwopSaveNonvolFar, UwopSaveXMM128Far:
			extra = 2
		case UwopEpilog: // version 2 epilog descriptors occupy one slot
			if u.Version == 2 {
				u.Codes = append(u.Codes, c)
				continue
			}
			extra = 1 // the obsolete version 1 UWOP_SAVE_XMM
		case UwopSpareCode:
			extra = 2 // the obsolete UWOP_SAVE_XMM_FAR
		}
		if i+extra >= count && extra > 0 {
			return nil, f.errf(rva, "unwind code %d needs %d more slots than the %d present", i, extra, count)
		}
		switch extra {
		case 1:
			c.Operand = uint32(le.Uint16(slots[2*(i+1):]))
		case 2:
			c.Operand = le.Uint32(slots[2*(i+1):])
		}
		i += extra
		u.Codes = append(u.Codes, c)
	}
	if u.Flags&UnwFlagChainInfo != 0 {
		off := rva + 4 + uint32(2*((count+1)&^1))
		b, err := f.ReadRVA(off, 12)
		if err != nil {
			return nil, err
		}
		u.Chained = &RuntimeFunction{le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])}
	}
	return u, nil
}

// maxChain bounds a chain of unwind records; real ones are one or two deep.
const maxChain = 32

// UnwindChain decodes the unwind info of rf and of every record its
// UNW_FLAG_CHAININFO chain leads to: rf's own first, the primary
// function's last. An entry whose UnwindInfo has the low bit set is an
// indirect entry: it points at the RUNTIME_FUNCTION that holds the info.
// A chain that loops or runs deeper than 32 records is an error.
func (f *File) UnwindChain(rf RuntimeFunction) ([]*UnwindInfo, error) {
	var out []*UnwindInfo
	var seen []uint32 // at most maxChain records
	for {
		if len(out) == maxChain {
			return nil, f.errf(rf.UnwindInfo, "unwind chain longer than %d records", maxChain)
		}
		for hops := 0; rf.UnwindInfo&1 != 0; hops++ {
			if hops == maxChain {
				return nil, f.errf(rf.UnwindInfo, "indirect runtime functions loop")
			}
			b, err := f.ReadRVA(rf.UnwindInfo&^1, 12)
			if err != nil {
				return nil, err
			}
			rf = RuntimeFunction{le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])}
		}
		if slices.Contains(seen, rf.UnwindInfo) {
			return nil, f.errf(rf.UnwindInfo, "unwind chain loops back to this record")
		}
		seen = append(seen, rf.UnwindInfo)
		u, err := f.Unwind(rf.UnwindInfo)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
		if u.Chained == nil {
			return out, nil
		}
		rf = *u.Chained
	}
}

package peimage

import (
	"fmt"
	"sort"
)

// ARM64 exception data follows Microsoft's "ARM64 exception handling"
// specification: a .pdata entry is two words, the function's start RVA
// and either the RVA of an .xdata record (Flag 0) or the unwind data
// itself, packed into the word (Flag 1, or Flag 2 for a fragment without a
// prolog). Packed data is expanded here into the equivalent unwind codes,
// as the Windows unwinder does, so a single interpreter serves both.

// MachineARM64 is the COFF machine type of ARM64 images.
const MachineARM64 = 0xaa64

// ARM64 .pdata flags (the low two bits of an entry's second word).
const (
	ARM64FlagXData    = 0 // the word is the RVA of an .xdata record
	ARM64FlagPacked   = 1 // packed unwind data
	ARM64FlagFragment = 2 // packed unwind data for a fragment with no prolog
	ARM64FlagChained  = 3 // the word points (RVA+3) to the parent .pdata entry
)

// ARM64Function is an ARM64 .pdata entry.
type ARM64Function struct {
	Begin  uint32 // RVA of the first instruction
	Data   uint32 // the entry's second word: .xdata RVA or packed unwind data
	Length uint32 // bytes covered: from the packed data or the .xdata header (0 when unreadable)
}

// Flag returns the entry's ARM64Flag* kind.
func (r ARM64Function) Flag() uint8 { return uint8(r.Data & 3) }

// ARM64Functions returns the ARM64 exception table sorted by Begin.
func (f *File) ARM64Functions() ([]ARM64Function, error) {
	if f.Machine != MachineARM64 {
		return nil, fmt.Errorf("peimage: %s: not an ARM64 image (machine %#x)", f.Name, f.Machine)
	}
	rva, size, err := f.Directory(DirException)
	if err != nil {
		return nil, err
	}
	n := size / 8
	if n > f.SizeOfImage/8 {
		return nil, f.errf(rva, "exception directory of %d entries", n)
	}
	b, err := f.ReadRVA(rva, int(8*n))
	if err != nil {
		return nil, err
	}
	out := make([]ARM64Function, 0, n)
	for i := uint32(0); i < n; i++ {
		e := ARM64Function{Begin: le.Uint32(b[8*i:]), Data: le.Uint32(b[8*i+4:])}
		switch e.Flag() {
		case ARM64FlagPacked, ARM64FlagFragment:
			e.Length = 4 * (e.Data >> 2 & 0x7ff)
		case ARM64FlagXData:
			if h, err := f.ReadRVA(e.Data, 4); err == nil {
				e.Length = 4 * (le.Uint32(h) & 0x3ffff)
			}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Begin < out[j].Begin })
	// A chained entry carries no length: it covers the code up to the next entry.
	for i := range out {
		if out[i].Flag() == ARM64FlagChained && i+1 < len(out) {
			out[i].Length = out[i+1].Begin - out[i].Begin
		}
	}
	return out, nil
}

// LookupARM64 finds the entry whose code holds rva.
func LookupARM64(fns []ARM64Function, rva uint32) (ARM64Function, bool) {
	i := sort.Search(len(fns), func(i int) bool { return fns[i].Begin > rva })
	if i == 0 {
		return ARM64Function{}, false
	}
	e := fns[i-1]
	if rva-e.Begin < e.Length {
		return e, true
	}
	return ARM64Function{}, false
}

// ARM64Epilog is an epilog scope of an .xdata record.
type ARM64Epilog struct {
	Start uint32 // byte offset of the epilog from the function start
	Index int    // byte index of its first unwind code
}

// ARM64Packed holds the fields of packed unwind data.
type ARM64Packed struct {
	RegF      uint8  // d8..d(8+RegF) are saved when RegF > 0
	RegI      uint8  // x19..x(19+RegI-1) are saved
	H         bool   // x0..x7 are homed
	CR        uint8  // 0 unchained, 1 unchained with lr saved, 2 chained with pacibsp, 3 chained
	FrameSize uint32 // bytes
}

// ARM64Unwind is the decoded unwind data of an ARM64 function.
type ARM64Unwind struct {
	Begin          uint32 // RVA of the function the codes describe (the parent's for a chained entry)
	Chained        bool   // reached through a chained (Flag 3) entry
	Flag           uint8  // the .pdata flag the data came from
	FunctionLength uint32 // bytes
	Version        uint8
	HasHandler     bool   // the X bit: exception handler data follows the codes
	Handler        uint32 // RVA of the exception handler when HasHandler
	EpilogInHeader bool   // the E bit: one epilog at the end of the function, codes from EpilogIndex
	EpilogIndex    int
	Epilogs        []ARM64Epilog // when !EpilogInHeader
	Codes          []byte        // unwind codes, the ones nearest the body first
	Packed         *ARM64Packed  // the packed form, for Flag 1 and 2
}

// ARM64Unwind decodes the unwind data of e. A chained entry (Flag 3) is
// resolved to its parent.
func (f *File) ARM64Unwind(e ARM64Function) (*ARM64Unwind, error) {
	chained := e.Flag() == ARM64FlagChained
	for depth := 0; e.Flag() == ARM64FlagChained; depth++ {
		if depth == 8 {
			return nil, f.errf(e.Begin, "chained .pdata entries nest too deep")
		}
		b, err := f.ReadRVA(e.Data-3, 8)
		if err != nil {
			return nil, err
		}
		e = ARM64Function{Begin: le.Uint32(b), Data: le.Uint32(b[4:])}
	}
	if e.Flag() != ARM64FlagXData {
		u := expandPacked(e)
		u.Begin, u.Chained = e.Begin, chained
		return u, nil
	}
	rva := e.Data
	h, err := f.ReadRVA(rva, 4)
	if err != nil {
		return nil, err
	}
	w := le.Uint32(h)
	u := &ARM64Unwind{Begin: e.Begin, Chained: chained, FunctionLength: 4 * (w & 0x3ffff), Version: uint8(w >> 18 & 3), HasHandler: w>>20&1 != 0, EpilogInHeader: w>>21&1 != 0}
	if u.Version != 0 {
		return nil, f.errf(rva, "xdata version %d", u.Version)
	}
	epilogs, words := int(w>>22&31), int(w>>27)
	off := rva + 4
	if epilogs == 0 && words == 0 {
		x, err := f.ReadRVA(off, 4)
		if err != nil {
			return nil, err
		}
		ext := le.Uint32(x)
		epilogs, words = int(ext&0xffff), int(ext>>16&0xff)
		off += 4
	}
	if u.EpilogInHeader {
		u.EpilogIndex, epilogs = epilogs, 0
	}
	if epilogs > 0 {
		b, err := f.ReadRVA(off, 4*epilogs)
		if err != nil {
			return nil, err
		}
		u.Epilogs = make([]ARM64Epilog, epilogs)
		for i := range u.Epilogs {
			s := le.Uint32(b[4*i:])
			u.Epilogs[i] = ARM64Epilog{Start: 4 * (s & 0x3ffff), Index: int(s >> 22)}
		}
		off += uint32(4 * epilogs)
	}
	if u.Codes, err = f.ReadRVA(off, 4*words); err != nil {
		return nil, err
	}
	off += uint32(4 * words)
	if u.EpilogInHeader && u.EpilogIndex >= len(u.Codes) && len(u.Codes) > 0 {
		return nil, f.errf(rva, "epilog unwind index %d beyond the %d code bytes", u.EpilogIndex, len(u.Codes))
	}
	for _, s := range u.Epilogs {
		if s.Index >= len(u.Codes) {
			return nil, f.errf(rva, "epilog unwind index %d beyond the %d code bytes", s.Index, len(u.Codes))
		}
	}
	if u.HasHandler {
		b, err := f.ReadRVA(off, 4)
		if err != nil {
			return nil, err
		}
		u.Handler = le.Uint32(b)
	}
	return u, nil
}

// expandPacked turns packed unwind data into the unwind codes it stands
// for, following the canonical prolog the specification describes for
// each combination of fields.
func expandPacked(e ARM64Function) *ARM64Unwind {
	d := e.Data
	p := &ARM64Packed{RegF: uint8(d >> 13 & 7), RegI: uint8(d >> 16 & 15), H: d>>20&1 != 0, CR: uint8(d >> 21 & 3), FrameSize: 16 * (d >> 23)}
	u := &ARM64Unwind{Flag: e.Flag(), FunctionLength: 4 * (d >> 2 & 0x7ff), Packed: p}

	// Sizes in 8-byte slots.
	fam := int(p.FrameSize / 8)
	intsz := int(p.RegI)
	if p.CR == 1 {
		intsz++ // lr
	}
	fpsz := 0
	if p.RegF != 0 {
		fpsz = int(p.RegF) + 1
	}
	sav := intsz + fpsz
	if sav > 0 && p.H {
		sav += 8
	}
	sav = (sav + 1) &^ 1
	loc := fam - sav

	// Codes in prolog order; reversed at the end.
	prolog := [][]byte{{0xe4}}
	if p.CR == 2 {
		prolog = append(prolog, []byte{0xfc})
	}
	slot, predec := 0, false
	save := func(single, pairX func(reg, z int) []byte, reg int, n int) { // n: slots used
		if !predec {
			prolog = append(prolog, pairX(reg, sav))
			predec = true
		} else {
			prolog = append(prolog, single(reg, slot))
		}
		slot += n
	}
	regpX := func(r, s int) []byte { return be16(0xcc00 | r<<6 | (s - 1)) }
	regp := func(r, s int) []byte { return be16(0xc800 | r<<6 | s) }
	regX := func(r, s int) []byte { return be16(0xd400 | r<<5 | (s - 1)) }
	reg := func(r, s int) []byte { return be16(0xd000 | r<<6 | s) }
	fregpX := func(r, s int) []byte { return be16(0xda00 | r<<6 | (s - 1)) }
	fregp := func(r, s int) []byte { return be16(0xd800 | r<<6 | s) }
	fregX := func(r, s int) []byte { return be16(0xde00 | r<<5 | (s - 1)) }
	freg := func(r, s int) []byte { return be16(0xdc00 | r<<6 | s) }
	if intsz != 0 {
		if p.RegI == 1 && p.CR == 1 { // x19 and lr: no pre-decrementing pair form exists
			prolog = append(prolog, arm64Alloc(uint32(sav*8)))
			predec = true
		}
		r := 0
		for ; r < int(p.RegI)/2*2; r += 2 {
			save(regp, regpX, r, 2)
		}
		switch {
		case p.RegI%2 == 1 && p.CR == 1:
			prolog = append(prolog, be16(0xd600|r/2<<6|slot))
			slot += 2
		case p.RegI%2 == 1:
			save(reg, regX, r, 1)
		case p.CR == 1:
			save(reg, regX, 11, 1) // lr alone
		}
	}
	if fpsz != 0 {
		r := 0
		for ; r < fpsz/2*2; r += 2 {
			save(fregp, fregpX, r, 2)
		}
		if fpsz%2 == 1 {
			save(freg, fregX, r, 1)
		}
	}
	nopsAt := -1
	if p.H && predec {
		nopsAt = len(prolog)
		prolog = append(prolog, []byte{0xe3}, []byte{0xe3}, []byte{0xe3}, []byte{0xe3})
	}
	fpSet := false
	if loc > 0 {
		if p.CR == 2 || p.CR == 3 {
			if loc <= 64 {
				prolog = append(prolog, []byte{byte(0x80 | (loc - 1))})
			} else {
				prolog = append(prolog, arm64Alloc(uint32(loc*8)), []byte{0x40})
			}
			prolog = append(prolog, []byte{0xe1})
			fpSet = true
		} else {
			prolog = append(prolog, arm64Alloc(uint32(loc*8)))
		}
	}
	if u.Flag == ARM64FlagFragment {
		prolog = append(prolog, []byte{0xe5})
	}
	var codes []byte
	for i := len(prolog) - 1; i >= 0; i-- {
		codes = append(codes, prolog[i]...)
	}
	if u.Flag == ARM64FlagFragment {
		u.Codes = codes
		return u
	}
	u.EpilogInHeader = true
	if fpSet {
		u.EpilogIndex = 1 // the epilog starts with mov sp,fp instead of undoing set_fp
	}
	if nopsAt >= 0 { // the epilog does not reload the homed arguments: it gets its own copy
		n := len(codes)
		for i := len(prolog) - 1; i >= 0; i-- {
			if i < nopsAt || i >= nopsAt+4 {
				codes = append(codes, prolog[i]...)
			}
		}
		u.EpilogIndex += n
	}
	u.Codes = codes
	return u
}

func be16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }

// arm64Alloc encodes the smallest alloc_s, alloc_m or alloc_l for size bytes.
func arm64Alloc(size uint32) []byte {
	switch n := size / 16; {
	case size >= 16384:
		return []byte{0xe0, byte(n >> 16), byte(n >> 8), byte(n)}
	case size >= 512:
		return be16(int(0xc000 | n))
	default:
		return []byte{byte(n)}
	}
}

// ARM64Op names an ARM64 unwind code.
type ARM64Op uint8

// ARM64 unwind codes.
const (
	ARM64AllocS             ARM64Op = iota + 1 // 000xxxxx: sp += x*16
	ARM64SaveR19R20X                           // 001zzzzz: stp x19,x20,[sp,#-z*8]!
	ARM64SaveFPLR                              // 01zzzzzz: stp fp,lr,[sp,#z*8]
	ARM64SaveFPLRX                             // 10zzzzzz: stp fp,lr,[sp,#-(z+1)*8]!
	ARM64AllocM                                // 11000xxx xxxxxxxx
	ARM64SaveRegP                              // 110010xx xxzzzzzz
	ARM64SaveRegPX                             // 110011xx xxzzzzzz
	ARM64SaveReg                               // 110100xx xxzzzzzz
	ARM64SaveRegX                              // 1101010x xxxzzzzz
	ARM64SaveLRPair                            // 1101011x xxzzzzzz
	ARM64SaveFRegP                             // 1101100x xxzzzzzz
	ARM64SaveFRegPX                            // 1101101x xxzzzzzz
	ARM64SaveFReg                              // 1101110x xxzzzzzz
	ARM64SaveFRegX                             // 11011110 xxxzzzzz
	ARM64AllocL                                // 11100000 + 24 bits
	ARM64SetFP                                 // 11100001: mov fp,sp
	ARM64AddFP                                 // 11100010 xxxxxxxx: add fp,sp,#x*8
	ARM64Nop                                   // 11100011
	ARM64End                                   // 11100100
	ARM64EndC                                  // 11100101: end of a chained scope
	ARM64SaveNext                              // 11100110: the next register pair
	ARM64SaveAnyReg                            // 11100111 0pxrrrrr ffoooooo
	ARM64TrapFrame                             // 11101000: MSFT_OP_TRAP_FRAME
	ARM64MachineFrame                          // 11101001: MSFT_OP_MACHINE_FRAME
	ARM64Context                               // 11101010: MSFT_OP_CONTEXT
	ARM64ECContext                             // 11101011: MSFT_OP_EC_CONTEXT
	ARM64ClearUnwoundToCall                    // 11101100: MSFT_OP_CLEAR_UNWOUND_TO_CALL
	ARM64PACSignLR                             // 11111100: pacibsp
	ARM64Reserved                              // 11111000-11111011 and 111111xx: reserved, no operation
	ARM64Invalid                               // an encoding the specification does not define
)

var arm64OpNames = [...]string{ARM64AllocS: "alloc_s", ARM64SaveR19R20X: "save_r19r20_x", ARM64SaveFPLR: "save_fplr",
	ARM64SaveFPLRX: "save_fplr_x", ARM64AllocM: "alloc_m", ARM64SaveRegP: "save_regp", ARM64SaveRegPX: "save_regp_x",
	ARM64SaveReg: "save_reg", ARM64SaveRegX: "save_reg_x", ARM64SaveLRPair: "save_lrpair", ARM64SaveFRegP: "save_fregp",
	ARM64SaveFRegPX: "save_fregp_x", ARM64SaveFReg: "save_freg", ARM64SaveFRegX: "save_freg_x", ARM64AllocL: "alloc_l",
	ARM64SetFP: "set_fp", ARM64AddFP: "add_fp", ARM64Nop: "nop", ARM64End: "end", ARM64EndC: "end_c",
	ARM64SaveNext: "save_next", ARM64SaveAnyReg: "save_any_reg", ARM64TrapFrame: "MSFT_OP_TRAP_FRAME",
	ARM64MachineFrame: "MSFT_OP_MACHINE_FRAME", ARM64Context: "MSFT_OP_CONTEXT", ARM64ECContext: "MSFT_OP_EC_CONTEXT",
	ARM64ClearUnwoundToCall: "MSFT_OP_CLEAR_UNWOUND_TO_CALL", ARM64PACSignLR: "pac_sign_lr", ARM64Reserved: "reserved",
	ARM64Invalid: "invalid"}

// String returns the specification's name of the code.
func (o ARM64Op) String() string {
	if int(o) < len(arm64OpNames) && arm64OpNames[o] != "" {
		return arm64OpNames[o]
	}
	return fmt.Sprintf("ARM64Op(%d)", uint8(o))
}

// Register classes of ARM64Code.Class.
const (
	ARM64RegX = 0 // general-purpose x registers
	ARM64RegD = 1 // the low 64 bits of vector registers
	ARM64RegQ = 2 // whole 128-bit vector registers
)

// ARM64Code is one decoded ARM64 unwind code.
type ARM64Code struct {
	At    int  // byte index in the code array
	Len   int  // encoded length in bytes
	First byte // the first encoded byte
	Op    ARM64Op
	Class uint8 // ARM64RegX, ARM64RegD or ARM64RegQ for saves
	Reg   uint8 // first register saved: x19..x30, d8..d15, or any for save_any_reg
	Count uint8 // registers saved (before save_next adds pairs)
	// Offset is where the registers are stored relative to sp: a
	// non-negative value is [sp+Offset]; a negative one a pre-decrement of
	// sp by -Offset with the registers at the new sp.
	Offset int32
	Size   uint32 // bytes allocated (alloc_*) or fp's offset from sp (add_fp)
}

// Instructions is how many prolog or epilog instructions the code stands for.
// The custom-stack codes and the reserved range after them stand for none.
func (c ARM64Code) Instructions() int {
	if c.First >= 0xe8 && c.First <= 0xf7 {
		return 0
	}
	return 1
}

// arm64CodeLen gives the encoded length of the code starting with byte b.
func arm64CodeLen(b byte) int {
	switch {
	case b < 0xc0:
		return 1
	case b < 0xe0:
		return 2
	}
	return int([32]byte{4, 1, 2, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 1, 1, 1, 1}[b-0xe0])
}

// DecodeARM64Code decodes the unwind code at b[i:].
func DecodeARM64Code(b []byte, i int) (ARM64Code, error) {
	if i < 0 || i >= len(b) {
		return ARM64Code{}, fmt.Errorf("peimage: unwind code index %d outside the %d code bytes", i, len(b))
	}
	c0 := b[i]
	n := arm64CodeLen(c0)
	if i+n > len(b) {
		return ARM64Code{}, fmt.Errorf("peimage: unwind code %#02x at %d needs %d bytes, %d remain", c0, i, n, len(b)-i)
	}
	c := ARM64Code{At: i, Len: n, First: c0}
	var c1 int
	if n > 1 {
		c1 = int(b[i+1])
	}
	x := func(first int) { c.Class, c.Reg = ARM64RegX, uint8(first) }
	d := func(first int) { c.Class, c.Reg = ARM64RegD, uint8(first) }
	switch {
	case c0 <= 0x1f:
		c.Op, c.Size = ARM64AllocS, 16*uint32(c0&0x1f)
	case c0 <= 0x3f:
		c.Op, c.Count, c.Offset = ARM64SaveR19R20X, 2, -8*int32(c0&0x1f)
		x(19)
	case c0 <= 0x7f:
		c.Op, c.Count, c.Offset = ARM64SaveFPLR, 2, 8*int32(c0&0x3f)
		x(29)
	case c0 <= 0xbf:
		c.Op, c.Count, c.Offset = ARM64SaveFPLRX, 2, -8*(int32(c0&0x3f)+1)
		x(29)
	case c0 <= 0xc7:
		c.Op, c.Size = ARM64AllocM, 16*(uint32(c0&7)<<8|uint32(c1))
	case c0 <= 0xcb:
		c.Op, c.Count, c.Offset = ARM64SaveRegP, 2, 8*int32(c1&0x3f)
		x(19 + int(c0&3)<<2 + c1>>6)
	case c0 <= 0xcf:
		c.Op, c.Count, c.Offset = ARM64SaveRegPX, 2, -8*(int32(c1&0x3f)+1)
		x(19 + int(c0&3)<<2 + c1>>6)
	case c0 <= 0xd3:
		c.Op, c.Count, c.Offset = ARM64SaveReg, 1, 8*int32(c1&0x3f)
		x(19 + int(c0&3)<<2 + c1>>6)
	case c0 <= 0xd5:
		c.Op, c.Count, c.Offset = ARM64SaveRegX, 1, -8*(int32(c1&0x1f)+1)
		x(19 + int(c0&1)<<3 + c1>>5)
	case c0 <= 0xd7:
		c.Op, c.Count, c.Offset = ARM64SaveLRPair, 2, 8*int32(c1&0x3f)
		x(19 + 2*(int(c0&1)<<2+c1>>6))
	case c0 <= 0xd9:
		c.Op, c.Count, c.Offset = ARM64SaveFRegP, 2, 8*int32(c1&0x3f)
		d(8 + int(c0&1)<<2 + c1>>6)
	case c0 <= 0xdb:
		c.Op, c.Count, c.Offset = ARM64SaveFRegPX, 2, -8*(int32(c1&0x3f)+1)
		d(8 + int(c0&1)<<2 + c1>>6)
	case c0 <= 0xdd:
		c.Op, c.Count, c.Offset = ARM64SaveFReg, 1, 8*int32(c1&0x3f)
		d(8 + int(c0&1)<<2 + c1>>6)
	case c0 == 0xde:
		c.Op, c.Count, c.Offset = ARM64SaveFRegX, 1, -8*(int32(c1&0x1f)+1)
		d(8 + c1>>5)
	case c0 == 0xe0:
		c.Op, c.Size = ARM64AllocL, 16*(uint32(c1)<<16|uint32(b[i+2])<<8|uint32(b[i+3]))
	case c0 == 0xe1:
		c.Op = ARM64SetFP
	case c0 == 0xe2:
		c.Op, c.Size = ARM64AddFP, 8*uint32(c1)
	case c0 == 0xe3:
		c.Op = ARM64Nop
	case c0 == 0xe4:
		c.Op = ARM64End
	case c0 == 0xe5:
		c.Op = ARM64EndC
	case c0 == 0xe6:
		c.Op = ARM64SaveNext
	case c0 == 0xe7:
		c2 := int32(b[i+2])
		o, f, r, wb, pair := c2&0x3f, uint8(c2>>6), uint8(c1&0x1f), c1>>5&1 == 1, c1>>6&1 == 1
		if c1>>7 != 0 || f == 3 {
			c.Op = ARM64Invalid
			break
		}
		off := o
		if wb {
			off++
		}
		if wb || pair || f == ARM64RegQ {
			off *= 16
		} else {
			off *= 8
		}
		if wb {
			off = -off
		}
		c.Op, c.Class, c.Reg, c.Offset, c.Count = ARM64SaveAnyReg, f, r, off, 1
		if pair {
			c.Count = 2
		}
	case c0 == 0xe8:
		c.Op = ARM64TrapFrame
	case c0 == 0xe9:
		c.Op = ARM64MachineFrame
	case c0 == 0xea:
		c.Op = ARM64Context
	case c0 == 0xeb:
		c.Op = ARM64ECContext
	case c0 == 0xec:
		c.Op = ARM64ClearUnwoundToCall
	case c0 == 0xfc:
		c.Op = ARM64PACSignLR
	case c0 >= 0xf8:
		c.Op = ARM64Reserved
	default: // 0xdf (alloc_z, SVE), 0xed-0xf7
		c.Op = ARM64Invalid
	}
	return c, nil
}

// DecodeARM64Codes decodes every code of an unwind code array, end markers
// and the padding after them included.
func DecodeARM64Codes(b []byte) ([]ARM64Code, error) {
	var out []ARM64Code
	for i := 0; i < len(b); {
		c, err := DecodeARM64Code(b, i)
		if err != nil {
			return out, err
		}
		out = append(out, c)
		i += c.Len
	}
	return out, nil
}

// ARM64ScopeSize counts the instructions of the prolog or epilog whose codes
// start at byte index i: up to the first end or end_c, plus the final ret
// for an epilog.
func ARM64ScopeSize(b []byte, i int, epilog bool) int {
	n := 0
	for i >= 0 && i < len(b) && b[i]&0xfe != 0xe4 {
		c, err := DecodeARM64Code(b, i)
		if err != nil {
			break
		}
		n += c.Instructions()
		i += c.Len
	}
	if epilog {
		n++
	}
	return n
}

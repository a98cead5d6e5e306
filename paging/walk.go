package paging

// Entry is one page table entry a walk read.
type Entry struct {
	Level int    // table level, 0 = root
	Name  string // WinDbg's name for the entry: "PXE", "PDE", ...
	Table uint64 // physical address of the table holding it
	Index uint32 // index in that table
	Addr  uint64 // physical address of the entry
	Value uint64 // the entry; 0 when it could not be read
	State State  // Valid for a table pointer, else what this entry decided
}

// ProtoPTE is what the prototype PTE behind a Prototype entry says.
type ProtoPTE struct {
	Addr     uint64   // virtual address of the prototype PTE
	Value    uint64   // its value, when read
	State    State    // Valid, Transition, PageFile, DemandZero, Prototype (still in the mapped file), ...
	Software Software // decoded when not Valid
	Err      error    // why it could not be read
}

// Walk is the record of translating one virtual address: every entry read,
// from the root down, and the verdict.
type Walk struct {
	Mode    Mode
	VA      uint64
	Root    uint64 // the root register value given to New
	Entries []Entry

	State    State
	PA       uint64 // physical address of VA when State.Present(), or a resolved prototype
	PageSize uint64 // size of the page or block that maps VA, when present

	// Present pages: what the hardware would allow, combining every level.
	Writable, User, Executable bool

	Software Software  // the non-present entry that decided the walk, decoded
	Proto    *ProtoPTE // State Prototype: the prototype PTE, unless not followed
	Err      error     // State Invalid or Missing: the cause (see Error)

	// TablesInTransition is set when a page table page itself was reached
	// through a transition entry (paged-out tables still in RAM).
	TablesInTransition bool

	opt Options
}

// Resolved reports whether VA has a physical address: the page is present,
// in transition, or its prototype PTE points at a page in RAM.
func (w *Walk) Resolved() bool {
	return w.State.Present() || (w.State == Prototype && w.Proto != nil && w.Proto.State.Present())
}

// Leaf returns the entry that decided the walk (the last one read).
func (w *Walk) Leaf() (Entry, bool) {
	if len(w.Entries) == 0 {
		return Entry{}, false
	}
	return w.Entries[len(w.Entries)-1], true
}

// rawEntry is an Entry without its names, cheap to fill on the fast path.
type rawEntry struct {
	table, addr, value uint64
	index              uint32
	state              State
}

// walkState is a Walk without allocations, for the translation fast path.
type walkState struct {
	entries  [5]rawEntry
	n        int
	state    State
	pa, size uint64
	w, u, x  bool
	soft     Software
	proto    ProtoPTE
	hasProto bool
	err      error
	transTbl bool
	mode     Mode
}

const maxProtoDepth = 3

// oa returns the output address bits of a present entry: the next table's
// address, or the base of the page it maps (before large-page masking).
func (t *Translator) oa(val uint64) uint64 {
	switch t.mode {
	case X86:
		return val & 0xFFFF_F000
	case ARM64:
		return val & 0x0000_FFFF_FFFF_F000
	case ARM64LPA2:
		return val&0x0003_FFFF_FFFF_F000 | (val>>8&3)<<50 // OA[51:50] in bits 9:8
	}
	return val & 0x000F_FFFF_FFFF_F000
}

// walkLocked walks va's tables into ws. depth counts prototype PTE
// indirections; seen holds the prototype PTE addresses already on the chain.
func (t *Translator) walkLocked(va uint64, ws *walkState, depth int, seen *[maxProtoDepth + 1]uint64) {
	g := t.geo
	ws.mode = t.mode
	if g == nil {
		ws.state, ws.err = Invalid, ErrBadMode
		return
	}
	if !g.canonical(va) {
		ws.state, ws.err = Invalid, ErrNonCanonical
		return
	}
	es := uint64(g.entrySize)
	table := t.mode.RootTable(t.root)
	var ancestors [5]uint64
	ancestors[0] = table
	ws.w, ws.u, ws.x = true, true, true
	last := len(g.levels) - 1
	for lvl, L := range g.levels {
		idx := (va >> L.shift) & (1<<L.bits - 1)
		addr := table + idx*es
		e := &ws.entries[ws.n]
		ws.n++
		*e = rawEntry{table: table, index: uint32(idx), addr: addr}
		val, err := t.readEntry(addr, g.entrySize)
		if err != nil {
			e.state = Missing
			ws.state, ws.err = Missing, &tableError{Addr: addr, Err: err}
			return
		}
		e.value = val
		if val&1 == 0 {
			soft := DecodeSoftware(t.mode, val, t.opt)
			if soft.State == Transition && lvl < last {
				// Windows pages out page tables too; one still in RAM is
				// walked through like the memory manager would after a
				// soft fault.
				e.state = Transition
				ws.transTbl = true
				next := soft.PFN << 12
				if !t.checkLoop(&ancestors, lvl, next) {
					e.state = Invalid
					ws.state, ws.err = Invalid, ErrLoop
					return
				}
				ancestors[lvl+1] = next
				table = next
				continue
			}
			e.state = soft.State
			ws.soft = soft
			ws.state = soft.State
			switch {
			case soft.State == Transition:
				ws.pa, ws.size = soft.PFN<<12|va&0xFFF, 4096
				ws.w = ws.w && soft.Protection.Writable()
			case soft.State == Prototype && lvl == last && !t.opt.NoPrototype:
				ws.hasProto = true
				t.followProto(va, soft, ws, depth, seen)
			}
			return
		}
		leaf := lvl == last
		if g.arm {
			switch {
			case val&3 == 1 && (!L.large || lvl == last):
				// A block at the top level or a 0b01 descriptor at level
				// 3 is reserved with a 4 KiB granule.
				e.state = Invalid
				ws.state, ws.err = Invalid, ErrReservedBits
				return
			case val&3 == 1:
				leaf = true
			}
		} else if L.large && val&0x80 != 0 {
			leaf = true
		}
		if t.reserved(lvl, val, leaf) {
			e.state = Invalid
			ws.state, ws.err = Invalid, ErrReservedBits
			return
		}
		t.perms(lvl, val, leaf, ws)
		if leaf {
			size := uint64(4096)
			if lvl != last {
				size = 1 << L.shift
			}
			var pa uint64
			if t.mode == X86 && size != 4096 {
				// PSE-36: bits 13..20 of a 4 MiB PDE are physical bits 32..39.
				pa = val&0xFFC0_0000 | (val>>13&0xFF)<<32
			} else {
				pa = t.oa(val) &^ (size - 1)
			}
			ws.pa, ws.size = pa|va&(size-1), size
			ws.state = Valid
			if size != 4096 {
				ws.state = LargePage
			}
			e.state = ws.state
			return
		}
		e.state = Valid
		next := t.oa(val)
		if !t.checkLoop(&ancestors, lvl, next) {
			e.state = Invalid
			ws.state, ws.err = Invalid, ErrLoop
			return
		}
		ancestors[lvl+1] = next
		table = next
	}
}

// checkLoop reports whether the table at level lvl may point at next. A
// table pointing back at one of the tables above it would make the CPU
// treat page tables as data at some other level; the one exception is
// Windows' self-map, where one entry of the self-map level's table points at
// that table itself.
func (t *Translator) checkLoop(anc *[5]uint64, lvl int, next uint64) bool {
	next &^= 0xFFF // the PAE root is not page aligned; compare pages
	for k := 0; k <= lvl; k++ {
		if anc[k]&^0xFFF != next {
			continue
		}
		if anc[lvl]&^0xFFF == next && anc[t.geo.selfMap]&^0xFFF == next {
			continue
		}
		return false
	}
	return true
}

// reserved reports whether a present entry has bits set that the CPU
// requires to be zero.
func (t *Translator) reserved(lvl int, val uint64, leaf bool) bool {
	g := t.geo
	last := len(g.levels) - 1
	var size uint64 = 4096
	if leaf && lvl != last {
		size = 1 << g.levels[lvl].shift
	}
	// Bits between 4 KiB and the large page size, above the PAT bit.
	largeRes := (size - 1) &^ 0x1FFF
	switch t.mode {
	case X86:
		return leaf && size != 4096 && val&(1<<21) != 0
	case ARM64, ARM64LPA2:
		lpa2 := t.mode == ARM64LPA2
		phys := t.physBits(pick[uint](lpa2, 52, 48))
		var res uint64
		switch {
		case leaf:
			// Bit 50 is GP and 51 DBM in block and page descriptors; 49:48
			// are output address bits only with LPA2.
			largeRes = (size - 1) &^ 0x1FFFF // nT is bit 16
			if !lpa2 {
				res = 0x0003_0000_0000_0000
			}
		case lpa2:
			res = 0x000C_0000_0000_0000
		default:
			res = 0x000F_0000_0000_0000
		}
		return val&(res|largeRes) != 0 || t.oa(val)>>phys != 0
	}
	phys := t.physBits(52)
	res := (1<<52 - 1) &^ (uint64(1)<<phys - 1)
	if leaf {
		res |= largeRes
	}
	if t.mode == X86PAE {
		res |= 0x7FF0_0000_0000_0000
		if lvl == 0 {
			res |= 0x8000_0000_0000_01E6 // PDPTEs have no RW/US/A/D/PS/NX
		}
	} else if !leaf && val&0x80 != 0 {
		return true // PS in a PML5E or PML4E
	}
	return val&res != 0
}

func (t *Translator) physBits(max uint) uint {
	if b := t.opt.PhysAddrBits; b >= 32 && b < max {
		return b
	}
	return max
}

// perms folds an entry's access bits into the walk's running permissions.
func (t *Translator) perms(lvl int, val uint64, leaf bool, ws *walkState) {
	if t.mode == X86PAE && lvl == 0 {
		return // PDPTEs carry no access rights
	}
	if t.geo.arm {
		if leaf {
			ws.w = ws.w && val&(1<<7) == 0 // AP[2]: read-only
			ws.u = ws.u && val&(1<<6) != 0 // AP[1]: EL0 access
			ws.x = ws.x && val&(1<<53) == 0
		}
		return
	}
	ws.w = ws.w && val&2 != 0
	ws.u = ws.u && val&4 != 0
	if t.mode != X86 {
		ws.x = ws.x && val&(1<<63) == 0
	}
}

// followProto reads the prototype PTE a leaf points to and, when it maps a
// page in RAM, records that page's address.
func (t *Translator) followProto(va uint64, soft Software, ws *walkState, depth int, seen *[maxProtoDepth + 1]uint64) {
	p := &ws.proto
	p.Addr = soft.ProtoAddr
	if soft.VADLookup {
		p.State = NotMapped
		return
	}
	if depth >= maxProtoDepth {
		p.State, p.Err = Invalid, ErrProtoDepth
		return
	}
	for _, a := range seen[:depth] {
		if a == soft.ProtoAddr {
			p.State, p.Err = Invalid, ErrLoop
			return
		}
	}
	seen[depth] = soft.ProtoAddr
	var buf [8]byte
	es := t.geo.entrySize
	if err := t.readVirtualLocked(buf[:es], soft.ProtoAddr, depth+1, seen); err != nil {
		p.State, p.Err = Missing, err
		return
	}
	val := leUint(buf[:es])
	p.Value = val
	if val&1 != 0 {
		if t.geo.arm && val&3 != 3 {
			p.State, p.Err = Invalid, ErrReservedBits
			return
		}
		p.State = Valid
		ws.pa, ws.size = t.oa(val)|va&0xFFF, 4096
		return
	}
	p.Software = DecodeSoftware(t.mode, val, t.opt)
	p.State = p.Software.State
	if p.State == Transition {
		ws.pa, ws.size = p.Software.PFN<<12|va&0xFFF, 4096
	}
}

func leUint(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

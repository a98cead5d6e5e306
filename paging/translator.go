package paging

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

const (
	pageSize    = 4096
	tableSlots  = 1024 // cached table pages (4 MiB): the page tables of a few GiB of 4 KiB pages
	tlbSlots    = 4096 // cached 4 KiB translations
	tableSlotsM = tableSlots - 1
	tlbSlotsM   = tlbSlots - 1
)

// Translator translates virtual addresses of one address space (one root
// table) to physical addresses. It caches recently used table pages and
// translations; the physical memory must not change while it is in use. It
// is safe for concurrent use.
type Translator struct {
	mode Mode
	geo  *geometry
	root uint64
	phys io.ReaderAt
	opt  Options

	mu     sync.Mutex
	tables [tableSlots]tableSlot
	tlb    [tlbSlots]tlbEntry
}

type tableSlot struct {
	tag  uint64 // PFN + 1; 0 = empty
	page *[pageSize]byte
}

type tlbEntry struct {
	tag uint64 // virtual page number + 1; 0 = empty
	pa  uint64 // physical address of the 4 KiB page
}

// New returns a Translator for the address space whose root table register
// (CR3 on x86/x64, the DTB of a dump header, TTBR1_EL1 on ARM64) holds root,
// reading page tables from phys, whose offsets are physical addresses.
func New(mode Mode, root uint64, phys io.ReaderAt) *Translator {
	return NewWithOptions(mode, root, phys, Options{})
}

// NewWithOptions is New with decoding options.
func NewWithOptions(mode Mode, root uint64, phys io.ReaderAt, opt Options) *Translator {
	return &Translator{mode: mode, geo: geometryOf(mode), root: root, phys: phys, opt: opt}
}

// Mode returns the paging mode.
func (t *Translator) Mode() Mode { return t.mode }

// Root returns the root register value.
func (t *Translator) Root() uint64 { return t.root }

// Translate returns the physical address of va. It succeeds for present
// pages, large pages, pages in transition (still in RAM, on the standby or
// modified list) and prototype PTEs whose page is in RAM. Otherwise the error
// is an *Error whose State says why.
func (t *Translator) Translate(va uint64) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var seen [maxProtoDepth + 1]uint64
	return t.translateLocked(va, 0, &seen)
}

func (t *Translator) translateLocked(va uint64, depth int, seen *[maxProtoDepth + 1]uint64) (uint64, error) {
	vpn := va >> 12
	slot := &t.tlb[(vpn^vpn>>12)&tlbSlotsM]
	if slot.tag == vpn+1 {
		return slot.pa | va&0xFFF, nil
	}
	var ws walkState
	t.walkLocked(va, &ws, depth, seen)
	if !ws.state.Present() && !(ws.hasProto && ws.proto.State.Present()) {
		return 0, ws.error(va)
	}
	slot.tag, slot.pa = vpn+1, ws.pa&^0xFFF
	return ws.pa, nil
}

// levelName names the entries of level i; walks only exist for known modes.
func (ws *walkState) levelName(i int) string { return ws.mode.LevelName(i) }

// error builds the *Error for a walk that found no page.
func (ws *walkState) error(va uint64) error {
	e := &Error{VA: va, State: ws.state, Err: ws.err}
	if ws.n > 0 {
		e.Level, e.Entry = ws.levelName(ws.n-1), ws.entries[ws.n-1].value
	}
	if ws.hasProto && ws.proto.Err != nil && e.Err == nil {
		e.Err = fmt.Errorf("prototype PTE at %#x: %w", ws.proto.Addr, ws.proto.Err)
	}
	return e
}

// Walk translates va and returns every entry read on the way, decoded. It
// never fails: problems are in the Walk's State and Err.
func (t *Translator) Walk(va uint64) Walk {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ws walkState
	var seen [maxProtoDepth + 1]uint64
	t.walkLocked(va, &ws, 0, &seen)
	w := Walk{
		Mode: t.mode, VA: va, Root: t.root,
		Entries: make([]Entry, ws.n),
		State:   ws.state, Software: ws.soft, Err: ws.err,
		TablesInTransition: ws.transTbl,
		opt:                t.opt,
	}
	for i, e := range ws.entries[:ws.n] {
		w.Entries[i] = Entry{Level: i, Name: t.mode.LevelName(i), Table: e.table, Index: e.index, Addr: e.addr, Value: e.value, State: e.state}
	}
	if ws.state.Present() || ws.hasProto && ws.proto.State.Present() {
		w.PA, w.PageSize = ws.pa, ws.size
	}
	if ws.state == Valid || ws.state == LargePage {
		w.Writable, w.User, w.Executable = ws.w, ws.u, ws.x
	}
	if ws.hasProto {
		p := ws.proto
		w.Proto = &p
	}
	return w
}

// ReadAt reads len(p) bytes of virtual memory at va, across page boundaries.
// It returns the number of bytes read; when that is short, the error is an
// *Error for the first address that could not be read (State Missing with
// the physical memory's error inside when the page is not in the dump).
func (t *Translator) ReadAt(p []byte, va uint64) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var seen [maxProtoDepth + 1]uint64
	return t.readLocked(p, va, 0, &seen)
}

func (t *Translator) readLocked(p []byte, va uint64, depth int, seen *[maxProtoDepth + 1]uint64) (int, error) {
	n := 0
	for n < len(p) {
		cur := va + uint64(n)
		if cur < va {
			return n, &Error{VA: cur, State: Invalid, Err: ErrNonCanonical}
		}
		pa, err := t.translateLocked(cur, depth, seen)
		if err != nil {
			return n, err
		}
		chunk := min(len(p)-n, int(pageSize-cur&0xFFF))
		m, err := t.phys.ReadAt(p[n:n+chunk], int64(pa))
		n += m
		if m < chunk {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, &Error{VA: cur + uint64(m), State: Missing, Err: fmt.Errorf("physical address %#x: %w", pa+uint64(m), err)}
		}
	}
	return n, nil
}

func (t *Translator) readVirtualLocked(p []byte, va uint64, depth int, seen *[maxProtoDepth + 1]uint64) error {
	_, err := t.readLocked(p, va, depth, seen)
	return err
}

// ReaderAt returns t as an io.ReaderAt whose offsets are virtual addresses
// (kernel addresses appear as negative int64 values), for code that reads
// through io interfaces, e.g. a vmem.Region.
func (t *Translator) ReaderAt() io.ReaderAt { return virtualReader{t} }

type virtualReader struct{ t *Translator }

func (v virtualReader) ReadAt(p []byte, off int64) (int, error) { return v.t.ReadAt(p, uint64(off)) }

// readEntry reads one page table entry through the table page cache.
func (t *Translator) readEntry(addr uint64, size int) (uint64, error) {
	pfn := addr >> 12
	s := &t.tables[(pfn^pfn>>10)&tableSlotsM]
	if s.tag != pfn+1 {
		if s.page == nil {
			s.page = new([pageSize]byte)
		}
		s.tag = 0
		n, err := t.phys.ReadAt(s.page[:], int64(pfn<<12))
		if n != pageSize {
			// The dump may hold only part of the page; read just the entry.
			var b [8]byte
			if m, err2 := t.phys.ReadAt(b[:size], int64(addr)); m != size {
				if err2 == nil {
					err2 = err
				}
				if err2 == nil {
					err2 = io.ErrUnexpectedEOF
				}
				return 0, err2
			}
			return leUint(b[:size]), nil
		}
		s.tag = pfn + 1
	}
	off := addr & 0xFFF
	if size == 4 {
		return uint64(binary.LittleEndian.Uint32(s.page[off : off+4])), nil
	}
	return binary.LittleEndian.Uint64(s.page[off : off+8]), nil
}

package analyze

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/kdump"
)

// PoolAllocation is the pool block a faulting access was aimed at, found
// from its POOL_HEADER, like WinDbg's !pool.
type PoolAllocation struct {
	Address string `json:"address"` // the caller's buffer (just past the header)
	Size    string `json:"size"`    // usable bytes: the block less its header
	Tag     string `json:"tag"`     // the pool tag as memory holds it (WinDbg's spelling)
	// Where is "inside" when the access fell in the buffer, or "N bytes
	// past the end" for an overrun.
	Where string `json:"where"`
	// Owners are modules whose captured code holds the tag, as the
	// allocating call passes it.
	Owners []string `json:"owners,omitempty"`
}

// Bounds of the search: buffers are found through the registers of the
// faulting context, at most this far below the faulting address.
const (
	maxPoolReach    = 0x10000
	maxTagScanBytes = 64 << 20
	maxTagScanMods  = 16
)

// poolContext looks for the pool allocation behind the faulting access:
// registers of the fault context that point a little below the faulting
// address are candidate buffer starts, and a valid POOL_HEADER just
// before one names the block's size and tag. An overrun of a small pool
// buffer — the classic 0x50 — then shows which allocation ran over and,
// by the tag, which driver made it.
func (a *analysis) poolContext() {
	acc := a.r.Access
	if acc == nil || a.ctx == nil || !a.ipKnown || a.ctx.PC() != a.ip {
		return
	}
	target, ok := parseHex(acc.Address)
	if !ok || target == a.maxPtr() {
		return
	}
	hdrSize, unit := uint64(16), uint64(16)
	if a.arch == cpuctx.ArchX86 {
		hdrSize, unit = 8, 8
	}
	var cands []uint64
	for _, name := range a.ctx.Names() {
		v, known := a.ctx.Reg(name)
		if !known || v > target || target-v > maxPoolReach || v%hdrSize != 0 || !a.kernelAddr(v) {
			continue
		}
		if !a.ctxFull && !trapSaved[name] {
			continue // stale in a trap frame
		}
		cands = append(cands, v)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i] > cands[j] })
	for _, b := range cands {
		hdr, err := a.mem.Bytes(b-hdrSize, int(hdrSize))
		if err != nil {
			continue
		}
		block, tag, ok := poolHeader(hdr, unit)
		if !ok || block <= hdrSize {
			continue
		}
		size := block - hdrSize
		p := &PoolAllocation{Address: a.ptrHex(b), Size: hex64(size), Tag: tag}
		if target < b+size {
			p.Where = "inside"
		} else {
			p.Where = fmt.Sprintf("%d bytes past the end", target-(b+size))
		}
		p.Owners = a.tagOwners(hdr[4:8])
		acc.Pool = p
		return
	}
}

// poolHeader decodes a POOL_HEADER: the block size in bytes and the tag.
func poolHeader(h []byte, unit uint64) (uint64, string, bool) {
	var blocks uint64
	if unit == 16 {
		if h[3] == 0 { // PoolType 0: a free block
			return 0, "", false
		}
		blocks = uint64(h[2])
	} else {
		v := binary.LittleEndian.Uint32(h)
		if v>>25 == 0 {
			return 0, "", false
		}
		blocks = uint64(v>>16) & 0x1ff
	}
	tag := h[4:8]
	for i, c := range tag {
		if i == 3 {
			c &= 0x7f // the protected-tag bit of older Windows
		}
		if c < 0x20 || c > 0x7e {
			return 0, "", false
		}
	}
	return blocks * unit, string(tag[:3]) + string(rune(tag[3]&0x7f)), blocks != 0
}

func (a *analysis) kernelAddr(v uint64) bool {
	if a.arch == cpuctx.ArchX86 {
		return v >= 0x80000000 && v <= 0xffffffff
	}
	return v >= 0xffff800000000000
}

// tagOwners lists the modules whose captured code holds the tag's bytes:
// the culprit and the modules on the stack first, within a scan budget.
func (a *analysis) tagOwners(tag []byte) []string {
	var order []kdump.Driver
	seen := map[string]bool{}
	add := func(name string) {
		for _, m := range a.mods {
			if strings.EqualFold(m.BaseName(), name) && !seen[strings.ToLower(name)] && !a.skip(m.BaseName()) {
				seen[strings.ToLower(name)] = true
				order = append(order, m)
			}
		}
	}
	if fip := a.r.FaultingIP; fip != nil {
		add(fip.Module)
	}
	for _, s := range a.r.Stack {
		add(s.Module)
	}
	var owners []string
	budget := maxTagScanBytes
	for i, m := range order {
		if i == maxTagScanMods || budget <= 0 {
			break
		}
		if a.holds(m, tag, &budget) {
			owners = append(owners, m.BaseName())
		}
	}
	return owners
}

// holds reports whether the captured bytes of module m contain b.
func (a *analysis) holds(m kdump.Driver, b []byte, budget *int) bool {
	end := m.Base + uint64(m.Size)
	if a.f.PageTables() == nil {
		for _, r := range a.mem.Regions() {
			lo, hi := max(r.Addr, m.Base), min(r.End(), end)
			if lo >= hi || *budget <= 0 {
				continue
			}
			data, err := a.mem.Bytes(lo, int(min(hi-lo, uint64(*budget))))
			*budget -= len(data)
			if err == nil && bytes.Contains(data, b) {
				return true
			}
		}
		return false
	}
	page := make([]byte, 0x1000+len(b)-1)
	for p := m.Base &^ 0xfff; p < end && *budget > 0; p += 0x1000 {
		n, _ := a.mem.Read(p, page)
		*budget -= 0x1000
		if bytes.Contains(page[:n], b) {
			return true
		}
	}
	return false
}

// poolEvidence weighs the pool allocation in the verdict: its owner backs
// a driver already blamed, and names one when the dump convicted nobody.
func (a *analysis) poolEvidence() {
	acc := a.r.Access
	if acc == nil || acc.Pool == nil || len(acc.Pool.Owners) == 0 {
		return
	}
	p := acc.Pool
	c := &a.r.Culprit
	what := fmt.Sprintf("the %s access lands %s of a %s-byte pool buffer at %s tagged '%s', and that tag is in the code of %s",
		acc.Kind, p.Where, p.Size, p.Address, p.Tag, strings.Join(p.Owners, ", "))
	for _, o := range p.Owners {
		if strings.EqualFold(o, c.Module) {
			c.Evidence = append(c.Evidence, what)
			return
		}
	}
	// A tag found in one driver's code outweighs a guess from the stack.
	if len(p.Owners) == 1 && (c.Kind == KindUnknown || c.Kind == KindCore || c.Kind == KindCorruption || c.Kind == KindDriver && c.Confidence == ConfidenceLow) {
		ev := []string{what}
		if c.Module != "" {
			ev = append(ev, fmt.Sprintf("the stack alone pointed at %s (%s confidence): %s", c.Module, c.Confidence, c.Reason))
		}
		a.setCulprit(p.Owners[0], "the memory the crash touched belongs to a pool allocation whose tag only "+p.Owners[0]+" uses in its code")
		a.r.Culprit.Confidence, a.r.Culprit.Evidence = ConfidenceMedium, ev
	}
}

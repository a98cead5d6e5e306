package kdump

import (
	"errors"
	"fmt"

	"github.com/bugcheck/bugcheck/physmem"
)

// Physical returns the physical memory of a full or bitmap dump, an
// io.ReaderAt whose offsets are physical addresses. It is nil for triage
// and header-only dumps and for layouts not recognised: check before
// storing it in an io.ReaderAt, which would otherwise hold a nil pointer.
func (f *File) Physical() *physmem.Memory { return f.phys }

// parsePhysical sets up the physical memory of full and bitmap dumps.
func (f *File) parsePhysical() error {
	h := f.Header
	var err error
	switch h.DumpType {
	case DumpTypeFull:
		pm := h.PhysicalMemory
		if pm == nil {
			return f.errf(f.physMemOffset(), "complete memory dump without a usable physical memory descriptor (unwritten, or more runs than the header has room for)")
		}
		runs := make([]physmem.Run, len(pm.Runs))
		for i, r := range pm.Runs {
			runs[i] = physmem.Run{BasePage: r.BasePage, PageCount: r.PageCount}
		}
		f.phys, err = physmem.NewFull(f.r, f.size, h.Size(), runs)
		if err != nil {
			return f.physErr(err)
		}
		if pm.NumberOfPages != f.phys.ClaimedPages() {
			f.warnf("the physical memory descriptor counts %d pages but its runs hold %d; the runs are used", pm.NumberOfPages, f.phys.ClaimedPages())
		}
	case DumpTypeHeader, DumpTypeTriage:
		return nil
	default:
		// Bitmap dumps carry the type 5 or 6; automatic, active and
		// debugger-written kernel dumps are recognised by the block's
		// signature.
		sig, rerr := f.readAt(h.Size(), 8, "bitmap dump block")
		bitmap := rerr == nil && physmem.IsBitmapBlock(sig)
		if !bitmap && !bitmapType(h.DumpType) {
			f.warnf("the body of this %s has a layout that is not read yet; only the header is", h.DumpType)
			return nil
		}
		f.phys, err = physmem.NewBitmap(f.r, f.size, h.Size())
		if err != nil && !bitmapType(h.DumpType) {
			// Only the bitmap types promise this block; for the others
			// (such as the older summary layout) the header still stands.
			f.warnf("the bitmap block of this %s is unreadable (%v); only the header is read", h.DumpType, f.physErr(err))
			return nil
		}
		if err != nil {
			return f.physErr(err)
		}
	}
	f.Warnings = append(f.Warnings, f.phys.Warnings...)
	if !h.Is64 && !h.PaeEnabled && f.phys.Limit() > 1<<32 {
		f.warnf("a 32-bit dump without PAE lists physical memory up to %#x, beyond the 4 GiB it can address", f.phys.Limit())
	}
	return nil
}

func bitmapType(t DumpType) bool { return t == DumpTypeBitmapFull || t == DumpTypeBitmapKernel }

func (f *File) physMemOffset() int64 {
	if f.Header.Is64 {
		return off64PhysMem
	}
	return off32PhysMem
}

// physErr turns a physmem error into a FormatError naming the file and the
// header offset of a bad run.
func (f *File) physErr(err error) error {
	var pe *physmem.FormatError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	off := pe.Offset
	if pe.Run >= 0 {
		hdr, size := int64(8), int64(8)
		if f.Header.Is64 {
			hdr, size = 16, 16
		}
		off = f.physMemOffset() + hdr + int64(pe.Run)*size
	}
	return f.errf(off, "%s", pe.Msg)
}

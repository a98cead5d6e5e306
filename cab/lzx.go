package cab

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// LZX as cabinets use it: one bit stream per folder, read as 16-bit
// little-endian words most significant bit first, carrying its window,
// Huffman code lengths and repeated offsets from one CFDATA block to the
// next; each CFDATA block is one frame of at most 32 KiB of output, after
// which the stream is realigned to 16 bits and call instructions (E8) are
// translated back from absolute to relative addresses.

const (
	lzxVerbatim     = 1
	lzxAligned      = 2
	lzxUncompressed = 3

	lzxMinMatch    = 2
	lzxNumChars    = 256
	lzxNumLengths  = 249 // secondary length tree
	lzxPretreeSize = 20
	lzxAlignedSize = 8
	lzxMaxCodeLen  = 16
	lzxE8Frames    = 32768 // translation stops after this many frames (1 GiB)
)

// lzxPositionSlots is the number of offset slots for window sizes 2^15 to 2^21.
var lzxPositionSlots = [7]int{30, 32, 34, 36, 38, 42, 50}

// lzxExtraBits and lzxPositionBase describe the offset slots: slot i covers
// offsets base[i] to base[i]+2^extra[i]-1 (before the bias of 2).
var lzxExtraBits, lzxPositionBase = func() (e [50]uint8, b [50]uint32) {
	for i := range e {
		switch {
		case i < 4:
			e[i] = 0
		case i < 36:
			e[i] = uint8(i/2 - 1)
		default:
			e[i] = 17
		}
		if i > 0 {
			b[i] = b[i-1] + 1<<e[i-1]
		}
	}
	return
}()

var errLZXTruncated = errors.New("compressed data ends early")

// huffman is a canonical Huffman code, decoded by code length.
type huffman struct {
	count [lzxMaxCodeLen + 1]uint16
	sym   []uint16 // symbols ordered by code length, then value
	// fast maps the next fastBits bits to symbol<<4|length for codes up
	// to fastBits long; 0 means the slow path.
	fast  [1 << fastBits]uint16
	empty bool
}

const fastBits = 10

func (h *huffman) build(lens []uint8) error {
	h.count = [lzxMaxCodeLen + 1]uint16{}
	for _, l := range lens {
		if l > lzxMaxCodeLen {
			return fmt.Errorf("code length %d", l)
		}
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	used := 0
	for l := 1; l <= lzxMaxCodeLen; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return fmt.Errorf("over-subscribed Huffman code")
		}
		used += int(h.count[l])
	}
	h.empty = used == 0
	var offs [lzxMaxCodeLen + 2]int
	for l := 1; l <= lzxMaxCodeLen; l++ {
		offs[l+1] = offs[l] + int(h.count[l])
	}
	h.sym = h.sym[:0]
	if cap(h.sym) < used {
		h.sym = make([]uint16, used)
	}
	h.sym = h.sym[:used]
	for s, l := range lens {
		if l > 0 {
			h.sym[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	// Fill the fast table by walking the codes in canonical order.
	h.fast = [1 << fastBits]uint16{}
	code, i := 0, 0
	for l := 1; l <= fastBits; l++ {
		for n := 0; n < int(h.count[l]); n++ {
			s := h.sym[i]
			i++
			lo := code << (fastBits - l)
			for j := 0; j < 1<<(fastBits-l); j++ {
				h.fast[lo+j] = s<<4 | uint16(l)
			}
			code++
		}
		code <<= 1
	}
	return nil
}

// lzxBits reads the bit stream: 16-bit little-endian words, most
// significant bit first. Past the end of the input it supplies zero words
// so that a decoder may look ahead, but consuming them is an error.
type lzxBits struct {
	in   []byte
	pos  int    // next byte of in to load
	bits uint32 // n valid bits, most significant first
	n    uint
	pad  uint // zero words loaded past the end
	err  error
}

func (b *lzxBits) fill(need uint) {
	for b.n < need {
		var w uint32
		if b.pos+2 <= len(b.in) {
			w = uint32(b.in[b.pos]) | uint32(b.in[b.pos+1])<<8
			b.pos += 2
		} else {
			b.pad++
		}
		b.bits |= w << (16 - b.n)
		b.n += 16
	}
}

func (b *lzxBits) peek(n uint) uint32 { b.fill(n); return b.bits >> (32 - n) }

func (b *lzxBits) drop(n uint) {
	b.bits <<= n
	b.n -= n
	if b.n < 16*b.pad && b.err == nil {
		b.err = errLZXTruncated
	}
}

func (b *lzxBits) read(n uint) uint32 {
	if n == 0 {
		return 0
	}
	v := b.peek(n)
	b.drop(n)
	return v
}

// align discards the rest of the current 16-bit word and returns whole
// words read ahead to the input, so that pos is the next unread byte.
func (b *lzxBits) align() {
	b.drop(b.n % 16)
	for b.n >= 16 {
		if b.pad > 0 {
			b.pad--
		} else {
			b.pos -= 2
		}
		b.n -= 16
	}
	b.bits = 0
}

func (b *lzxBits) decode(h *huffman) uint16 {
	if h.empty {
		if b.err == nil {
			b.err = errors.New("symbol read from an empty Huffman code")
		}
		return 0
	}
	code := b.peek(lzxMaxCodeLen)
	if e := h.fast[code>>(lzxMaxCodeLen-fastBits)]; e != 0 {
		b.drop(uint(e & 0xf))
		return e >> 4
	}
	first, index := uint32(0), 0
	for l := uint(1); l <= lzxMaxCodeLen; l++ {
		c := code >> (lzxMaxCodeLen - l)
		cnt := uint32(h.count[l])
		if c-first < cnt {
			b.drop(l)
			return h.sym[index+int(c-first)]
		}
		index += int(cnt)
		first = (first + cnt) << 1
	}
	if b.err == nil {
		b.err = errors.New("bit pattern matches no Huffman code")
	}
	return 0
}

// lzxDecoder is the state of one folder's LZX stream.
type lzxDecoder struct {
	bits    lzxBits
	window  []byte
	mask    int
	wpos    int   // next window position
	total   int64 // bytes output so far
	frames  int
	slots   int
	header  bool
	e8size  int32
	r       [3]uint32
	btype   int
	blen    int // size of the current block
	remain  int // bytes of it still to decode
	main    [lzxNumChars + 50*8]uint8
	lengths [lzxNumLengths]uint8
	aligned [lzxAlignedSize]uint8
	pre     [lzxPretreeSize]uint8
	mainH   huffman
	lenH    huffman
	alignH  huffman
	preH    huffman
}

func newLZXDecoder(windowBits int) *lzxDecoder {
	return &lzxDecoder{
		window: make([]byte, 1<<windowBits),
		mask:   1<<windowBits - 1,
		slots:  lzxPositionSlots[windowBits-15],
		r:      [3]uint32{1, 1, 1},
	}
}

// frame decodes one CFDATA block's worth of output into out from data and
// whatever the previous block left unread.
func (d *lzxDecoder) frame(data, out []byte) error {
	b := &d.bits
	rest := b.in[b.pos:]
	b.in = append(b.in[:copy(b.in, rest)], data...)
	b.pos, b.bits, b.n, b.pad, b.err = 0, 0, 0, 0, nil
	if !d.header {
		if b.read(1) == 1 {
			hi := b.read(16)
			d.e8size = int32(hi<<16 | b.read(16))
		}
		d.header = true
	}
	o := 0
	for o < len(out) {
		if d.remain == 0 {
			if err := d.blockHeader(); err != nil {
				return err
			}
		}
		run := min(d.remain, len(out)-o)
		if d.btype == lzxUncompressed {
			if len(b.in)-b.pos < run {
				return errLZXTruncated
			}
			for _, c := range b.in[b.pos : b.pos+run] {
				d.window[d.wpos] = c
				d.wpos = (d.wpos + 1) & d.mask
			}
			copy(out[o:], b.in[b.pos:b.pos+run])
			b.pos += run
			o += run
			d.remain -= run
			d.total += int64(run)
			continue
		}
		n, err := d.decodeRun(out[o : o+run])
		if err != nil {
			return err
		}
		o += n
		d.remain -= n
		d.total += int64(n)
	}
	b.align()
	if b.err != nil {
		return b.err
	}
	if d.e8size != 0 && d.frames < lzxE8Frames && len(out) > 10 {
		e8Decode(out, int32(d.total-int64(len(out))), d.e8size)
	}
	d.frames++
	return nil
}

// blockHeader reads the header of the next LZX block.
func (d *lzxDecoder) blockHeader() error {
	b := &d.bits
	if d.btype == lzxUncompressed && d.blen&1 == 1 {
		if b.pos >= len(b.in) {
			return errLZXTruncated
		}
		b.pos++ // the pad byte after an odd-sized uncompressed block
	}
	d.btype = int(b.read(3))
	hi := b.read(16)
	d.blen = int(hi<<8 | b.read(8))
	d.remain = d.blen
	if b.err != nil {
		return b.err
	}
	if d.blen == 0 {
		return errors.New("empty block")
	}
	switch d.btype {
	case lzxAligned:
		for i := range d.aligned {
			d.aligned[i] = uint8(b.read(3))
		}
		if err := d.alignH.build(d.aligned[:]); err != nil {
			return fmt.Errorf("aligned offset tree: %v", err)
		}
		fallthrough
	case lzxVerbatim:
		nmain := lzxNumChars + d.slots*8
		if err := d.readLengths(d.main[:nmain], 0, lzxNumChars); err != nil {
			return err
		}
		if err := d.readLengths(d.main[:nmain], lzxNumChars, nmain); err != nil {
			return err
		}
		if err := d.mainH.build(d.main[:nmain]); err != nil {
			return fmt.Errorf("main tree: %v", err)
		}
		if d.mainH.empty {
			return errors.New("main tree is empty")
		}
		if err := d.readLengths(d.lengths[:], 0, lzxNumLengths); err != nil {
			return err
		}
		if err := d.lenH.build(d.lengths[:]); err != nil {
			return fmt.Errorf("length tree: %v", err)
		}
	case lzxUncompressed:
		// 1 to 16 bits of padding reach a 16-bit boundary, then the
		// repeated offsets follow as bytes.
		if b.n%16 == 0 {
			b.read(16)
		}
		b.align()
		if b.err != nil {
			return b.err
		}
		if len(b.in)-b.pos < 12 {
			return errLZXTruncated
		}
		for i := range d.r {
			d.r[i] = binary.LittleEndian.Uint32(b.in[b.pos+4*i:])
		}
		b.pos += 12
	default:
		return fmt.Errorf("block type %d", d.btype)
	}
	return b.err
}

// readLengths reads code lengths first..last-1 of lens as deltas from
// their previous values, coded with a pretree.
func (d *lzxDecoder) readLengths(lens []uint8, first, last int) error {
	b := &d.bits
	for i := range d.pre {
		d.pre[i] = uint8(b.read(4))
	}
	if err := d.preH.build(d.pre[:]); err != nil {
		return fmt.Errorf("pretree: %v", err)
	}
	for x := first; x < last; {
		if b.err != nil {
			return b.err
		}
		z := int(b.decode(&d.preH))
		run, val := 1, -1
		switch z {
		case 17:
			run, val = 4+int(b.read(4)), 0
		case 18:
			run, val = 20+int(b.read(5)), 0
		case 19:
			run = 4 + int(b.read(1))
			z = int(b.decode(&d.preH))
			if z > 16 {
				return fmt.Errorf("pretree run of code %d", z)
			}
		}
		if x+run > last {
			return fmt.Errorf("code length run of %d at symbol %d passes the end of the tree (%d)", run, x, last)
		}
		if val < 0 {
			val = (int(lens[x]) - z + 17) % 17
		}
		for ; run > 0; run-- {
			lens[x] = uint8(val)
			x++
		}
	}
	return b.err
}

// decodeRun decodes literals and matches of a verbatim or aligned block
// into out, which ends where the block or the frame does.
func (d *lzxDecoder) decodeRun(out []byte) (int, error) {
	b := &d.bits
	w, mask, wpos := d.window, d.mask, d.wpos
	o := 0
	for o < len(out) {
		if b.err != nil {
			break
		}
		sym := int(b.decode(&d.mainH))
		if sym < lzxNumChars {
			w[wpos] = byte(sym)
			wpos = (wpos + 1) & mask
			out[o] = byte(sym)
			o++
			continue
		}
		sym -= lzxNumChars
		length := sym & 7
		if length == 7 {
			length += int(b.decode(&d.lenH))
		}
		length += lzxMinMatch
		var off uint32
		switch slot := sym >> 3; slot {
		case 0:
			off = d.r[0]
		case 1:
			off = d.r[1]
			d.r[1], d.r[0] = d.r[0], off
		case 2:
			off = d.r[2]
			d.r[2], d.r[0] = d.r[0], off
		default:
			extra := uint(lzxExtraBits[slot])
			off = lzxPositionBase[slot] - 2
			if extra >= 3 && d.btype == lzxAligned {
				off += b.read(extra-3) << 3
				off += uint32(b.decode(&d.alignH))
			} else {
				off += b.read(extra)
			}
			d.r[2], d.r[1], d.r[0] = d.r[1], d.r[0], off
		}
		if b.err != nil {
			break
		}
		if length > len(out)-o {
			d.wpos = wpos
			return o, fmt.Errorf("match of %d bytes at output %d runs past the end of its block or frame", length, d.total+int64(o))
		}
		if off == 0 || int64(off) > d.total+int64(o) || int(off) > mask {
			d.wpos = wpos
			return o, fmt.Errorf("match offset %d at output %d reaches before the start of the stream or window", off, d.total+int64(o))
		}
		src := (wpos - int(off)) & mask
		for i := 0; i < length; i++ {
			c := w[src]
			w[wpos] = c
			out[o] = c
			o++
			src = (src + 1) & mask
			wpos = (wpos + 1) & mask
		}
	}
	d.wpos = wpos
	return o, b.err
}

// e8Decode turns the absolute call targets the compressor wrote after E8
// bytes back into relative ones. start is the frame's stream offset.
func e8Decode(b []byte, start, size int32) {
	cur := start
	for i := 0; i < len(b)-10; {
		if b[i] != 0xe8 {
			i++
			cur++
			continue
		}
		abs := int32(binary.LittleEndian.Uint32(b[i+1:]))
		if abs >= -cur && abs < size {
			rel := abs + size
			if abs >= 0 {
				rel = abs - cur
			}
			binary.LittleEndian.PutUint32(b[i+1:], uint32(rel))
		}
		i += 5
		cur += 5
	}
}

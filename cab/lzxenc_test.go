package cab

import (
	"container/heap"
	"encoding/binary"
)

// A small LZX compressor for fixtures: greedy matching, verbatim, aligned
// offset and uncompressed blocks, repeated offsets, E8 translation and the
// cabinet framing (16-bit realignment after each 32 KiB frame). It favours
// covering every feature of the format over compression ratio.

type lzxBitWriter struct {
	out []byte
	acc uint32
	n   uint
}

func (w *lzxBitWriter) write(v uint32, n uint) {
	for n > 0 {
		take := min(n, 16-w.n)
		w.acc = w.acc<<take | (v>>(n-take))&(1<<take-1)
		w.n += take
		n -= take
		if w.n == 16 {
			w.out = append(w.out, byte(w.acc), byte(w.acc>>8))
			w.acc, w.n = 0, 0
		}
	}
}

func (w *lzxBitWriter) align() {
	if w.n > 0 {
		w.write(0, 16-w.n)
	}
}

// huffLengths returns code lengths of at most limit bits for freq, giving
// every used symbol a code and at least two symbols codes (a one-symbol
// code is not a complete tree); all zeros when nothing is used.
func huffLengths(freq []int, limit int) []uint8 {
	f := append([]int(nil), freq...)
	used := 0
	for _, v := range f {
		if v > 0 {
			used++
		}
	}
	if used == 0 {
		return make([]uint8, len(f))
	}
	for i := 0; used < 2 && i < len(f); i++ {
		if f[i] == 0 {
			f[i] = 1
			used++
		}
	}
	for {
		lens := huffBuild(f)
		max := uint8(0)
		for _, l := range lens {
			max = maxU8(max, l)
		}
		if int(max) <= limit {
			return lens
		}
		for i := range f {
			if f[i] > 0 {
				f[i] = (f[i] + 1) / 2
			}
		}
	}
}

func maxU8(a, b uint8) uint8 {
	if a > b {
		return a
	}
	return b
}

type hnode struct {
	w           int
	sym         int
	left, right *hnode
}
type hheap []*hnode

func (h hheap) Len() int            { return len(h) }
func (h hheap) Less(i, j int) bool  { return h[i].w < h[j].w }
func (h hheap) Swap(i, j int)       { h[i], h[j] = h[j], h[i] }
func (h *hheap) Push(x interface{}) { *h = append(*h, x.(*hnode)) }
func (h *hheap) Pop() interface{} {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func huffBuild(f []int) []uint8 {
	h := &hheap{}
	for s, w := range f {
		if w > 0 {
			*h = append(*h, &hnode{w: w, sym: s})
		}
	}
	heap.Init(h)
	for h.Len() > 1 {
		a, b := heap.Pop(h).(*hnode), heap.Pop(h).(*hnode)
		heap.Push(h, &hnode{w: a.w + b.w, sym: -1, left: a, right: b})
	}
	lens := make([]uint8, len(f))
	var walk func(n *hnode, d uint8)
	walk = func(n *hnode, d uint8) {
		if n.sym >= 0 {
			lens[n.sym] = d
			return
		}
		walk(n.left, d+1)
		walk(n.right, d+1)
	}
	walk((*h)[0], 0)
	return lens
}

// canonicalCodes assigns canonical codes: shorter first, then by symbol.
func canonicalCodes(lens []uint8) []uint32 {
	var count [18]uint32
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [18]uint32
	for l := 1; l <= 17; l++ {
		next[l] = (next[l-1] + count[l-1]) << 1
	}
	codes := make([]uint32, len(lens))
	for s, l := range lens {
		if l > 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
	return codes
}

type lzxToken struct {
	lit    int // -1 for a match
	length int
	dist   int
}

type lzxBlockSpec struct {
	typ  int // lzxVerbatim, lzxAligned, lzxUncompressed
	size int
}

type lzxEncoder struct {
	wbits     int
	slots     int
	w         lzxBitWriter
	r         [3]uint32
	main      []uint8
	lengths   []uint8
	data      []byte // E8-translated input
	pos       int
	frameEnds []int
	chains    map[uint32][]int
}

// lzxCompress compresses data as one cabinet folder stream and returns the
// compressed bytes of each 32 KiB frame (one CFDATA block each).
func lzxCompress(data []byte, wbits int, e8size int32, blocks []lzxBlockSpec) [][]byte {
	e := &lzxEncoder{
		wbits:   wbits,
		slots:   lzxPositionSlots[wbits-15],
		r:       [3]uint32{1, 1, 1},
		lengths: make([]uint8, lzxNumLengths),
		data:    append([]byte(nil), data...),
		chains:  map[uint32][]int{},
	}
	e.main = make([]uint8, lzxNumChars+e.slots*8)
	if e8size != 0 {
		for s, i := 0, 0; s < len(e.data) && i < lzxE8Frames; s, i = s+blockMax, i+1 {
			end := min(s+blockMax, len(e.data))
			if end-s > 10 {
				e8Encode(e.data[s:end], int32(s), e8size)
			}
		}
		e.w.write(1, 1)
		e.w.write(uint32(e8size)>>16, 16)
		e.w.write(uint32(e8size)&0xffff, 16)
	} else {
		e.w.write(0, 1)
	}
	for _, b := range blocks {
		e.block(b)
	}
	if e.pos != len(data) {
		panic("block sizes do not cover the data")
	}
	var frames [][]byte
	start := 0
	for i, end := range e.frameEnds {
		if i == len(e.frameEnds)-1 {
			end = len(e.w.out) // a trailing pad byte goes with the last frame
		}
		frames = append(frames, e.w.out[start:end])
		start = end
	}
	return frames
}

func e8Encode(b []byte, start, size int32) {
	cur := start
	for i := 0; i < len(b)-10; {
		if b[i] != 0xe8 {
			i++
			cur++
			continue
		}
		rel := int32(binary.LittleEndian.Uint32(b[i+1:]))
		if rel >= -cur && rel < size {
			abs := rel - size
			if rel < size-cur {
				abs = rel + cur
			}
			binary.LittleEndian.PutUint32(b[i+1:], uint32(abs))
		}
		i += 5
		cur += 5
	}
}

// advance records a frame end when the output reaches one, realigning
// the bit stream in compressed blocks.
func (e *lzxEncoder) advance(n int, bits bool) {
	e.pos += n
	if e.pos%blockMax == 0 || e.pos == len(e.data) {
		if bits {
			e.w.align()
		}
		e.frameEnds = append(e.frameEnds, len(e.w.out))
	}
}

func (e *lzxEncoder) key(p int) uint32 {
	return uint32(e.data[p]) | uint32(e.data[p+1])<<8 | uint32(e.data[p+2])<<16
}

func (e *lzxEncoder) insert(p int) {
	if p+3 <= len(e.data) {
		k := e.key(p)
		c := append(e.chains[k], p)
		if len(c) > 8 {
			c = c[1:]
		}
		e.chains[k] = c
	}
}

// tokens greedily parses [s, end), never crossing a frame boundary.
func (e *lzxEncoder) tokens(s, end int) []lzxToken {
	var out []lzxToken
	maxDist := 1<<e.wbits - 3
	for p := s; p < end; {
		limit := min(end, (p/blockMax+1)*blockMax) - p
		best, bestDist := 0, 0
		// Prefer the repeated offsets, then the hash chain.
		cands := []int{int(e.r[0]), int(e.r[1]), int(e.r[2])}
		if p+3 <= len(e.data) {
			c := e.chains[e.key(p)]
			for i := len(c) - 1; i >= 0; i-- {
				cands = append(cands, p-c[i])
			}
		}
		for _, d := range cands {
			if d <= 0 || d > p || d > maxDist {
				continue
			}
			n := 0
			for n < min(limit, 257) && e.data[p+n] == e.data[p-d+n] {
				n++
			}
			if n > best {
				best, bestDist = n, d
			}
		}
		if best >= 3 || (best == 2 && bestDist == int(e.r[0])) {
			out = append(out, lzxToken{lit: -1, length: best, dist: bestDist})
			for i := 0; i < best; i++ {
				e.insert(p + i)
			}
			e.noteDist(bestDist)
			p += best
		} else {
			out = append(out, lzxToken{lit: int(e.data[p])})
			e.insert(p)
			p++
		}
	}
	return out
}

// noteDist updates the repeated offsets during parsing the way the
// decoder will, so the parser's candidates match.
func (e *lzxEncoder) noteDist(d int) {
	switch uint32(d) {
	case e.r[0]:
	case e.r[1]:
		e.r[0], e.r[1] = e.r[1], e.r[0]
	case e.r[2]:
		e.r[0], e.r[2] = e.r[2], e.r[0]
	default:
		e.r[2], e.r[1], e.r[0] = e.r[1], e.r[0], uint32(d)
	}
}

func slotOf(formatted uint32) int {
	for s := 49; s >= 0; s-- {
		if lzxPositionBase[s] <= formatted {
			return s
		}
	}
	return 0
}

type lzxSym struct {
	main       int
	lenSym     int // -1 when none
	extra      uint
	verbatim   uint32
	alignedSym int // -1 when none
	lit        bool
	length     int
}

func (e *lzxEncoder) block(b lzxBlockSpec) {
	s, end := e.pos, e.pos+b.size
	e.w.write(uint32(b.typ), 3)
	e.w.write(uint32(b.size)>>8, 16)
	e.w.write(uint32(b.size)&0xff, 8)
	if b.typ == lzxUncompressed {
		if e.w.n == 0 {
			e.w.write(0, 16)
		}
		e.w.align()
		for _, r := range e.r {
			e.w.out = binary.LittleEndian.AppendUint32(e.w.out, r)
		}
		for p := s; p < end; p++ {
			e.w.out = append(e.w.out, e.data[p])
			e.insert(p)
			e.advance(1, false)
		}
		if b.size&1 == 1 {
			e.w.out = append(e.w.out, 0)
		}
		return
	}
	r0 := e.r
	toks := e.tokens(s, end)
	e.r = r0
	// Turn tokens into symbols, replaying the repeated offsets.
	syms := make([]lzxSym, 0, len(toks))
	mainFreq := make([]int, len(e.main))
	lenFreq := make([]int, lzxNumLengths)
	alignFreq := make([]int, lzxAlignedSize)
	for _, t := range toks {
		if t.lit >= 0 {
			syms = append(syms, lzxSym{main: t.lit, lenSym: -1, alignedSym: -1, lit: true, length: 1})
			mainFreq[t.lit]++
			continue
		}
		sy := lzxSym{lenSym: -1, alignedSym: -1, length: t.length}
		var slot int
		switch uint32(t.dist) {
		case e.r[0]:
			slot = 0
		case e.r[1]:
			slot = 1
			e.r[0], e.r[1] = e.r[1], e.r[0]
		case e.r[2]:
			slot = 2
			e.r[0], e.r[2] = e.r[2], e.r[0]
		default:
			f := uint32(t.dist) + 2
			slot = slotOf(f)
			sy.extra = uint(lzxExtraBits[slot])
			sy.verbatim = f - lzxPositionBase[slot]
			if b.typ == lzxAligned && sy.extra >= 3 {
				sy.alignedSym = int(sy.verbatim & 7)
				sy.verbatim >>= 3
				sy.extra -= 3
				alignFreq[sy.alignedSym]++
			}
			e.r[2], e.r[1], e.r[0] = e.r[1], e.r[0], uint32(t.dist)
		}
		lh := t.length - lzxMinMatch
		if lh >= 7 {
			sy.lenSym = lh - 7
			lenFreq[sy.lenSym]++
			lh = 7
		}
		sy.main = lzxNumChars + slot<<3 | lh
		mainFreq[sy.main]++
		syms = append(syms, sy)
	}
	mainLens := huffLengths(mainFreq, 16)
	lenLens := huffLengths(lenFreq, 16)
	if b.typ == lzxAligned {
		al := huffLengths(alignFreq, 7)
		for _, l := range al {
			e.w.write(uint32(l), 3)
		}
		e.emit(syms, mainLens, lenLens, al)
		return
	}
	e.emit(syms, mainLens, lenLens, nil)
}

func (e *lzxEncoder) emit(syms []lzxSym, mainLens, lenLens, alLens []uint8) {
	e.writeLengths(e.main[:lzxNumChars], mainLens[:lzxNumChars])
	e.writeLengths(e.main[lzxNumChars:], mainLens[lzxNumChars:])
	copy(e.main, mainLens)
	e.writeLengths(e.lengths, lenLens)
	copy(e.lengths, lenLens)
	mc, lc := canonicalCodes(mainLens), canonicalCodes(lenLens)
	var ac []uint32
	if alLens != nil {
		ac = canonicalCodes(alLens)
	}
	for _, sy := range syms {
		e.w.write(mc[sy.main], uint(mainLens[sy.main]))
		if !sy.lit {
			if sy.lenSym >= 0 {
				e.w.write(lc[sy.lenSym], uint(lenLens[sy.lenSym]))
			}
			e.w.write(sy.verbatim, sy.extra)
			if sy.alignedSym >= 0 {
				e.w.write(ac[sy.alignedSym], uint(alLens[sy.alignedSym]))
			}
		}
		e.advance(sy.length, true)
	}
}

// writeLengths codes cur as deltas from prev with a pretree, using the
// zero-run (17, 18) and same-length-run (19) codes.
func (e *lzxEncoder) writeLengths(prev, cur []uint8) {
	type pt struct {
		sym   int
		extra uint32
		nbits uint
		delta int // for 19: the delta symbol
	}
	var out []pt
	delta := func(x int) int { return (int(prev[x]) - int(cur[x]) + 17) % 17 }
	for x := 0; x < len(cur); {
		run := 1
		for x+run < len(cur) && cur[x+run] == cur[x] {
			run++
		}
		switch {
		case cur[x] == 0 && run >= 20:
			n := min(run, 51)
			out = append(out, pt{sym: 18, extra: uint32(n - 20), nbits: 5})
			x += n
		case cur[x] == 0 && run >= 4:
			n := min(run, 19)
			out = append(out, pt{sym: 17, extra: uint32(n - 4), nbits: 4})
			x += n
		case run >= 4:
			n := min(run, 5)
			out = append(out, pt{sym: 19, extra: uint32(n - 4), nbits: 1, delta: delta(x)})
			x += n
		default:
			out = append(out, pt{sym: delta(x)})
			x++
		}
	}
	freq := make([]int, lzxPretreeSize)
	for _, p := range out {
		freq[p.sym]++
		if p.sym == 19 {
			freq[p.delta]++
		}
	}
	lens := huffLengths(freq, 15)
	for _, l := range lens {
		e.w.write(uint32(l), 4)
	}
	codes := canonicalCodes(lens)
	for _, p := range out {
		e.w.write(codes[p.sym], uint(lens[p.sym]))
		e.w.write(p.extra, p.nbits)
		if p.sym == 19 {
			e.w.write(codes[p.delta], uint(lens[p.delta]))
		}
	}
}

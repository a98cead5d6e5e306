package cab

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
)

// folderReader streams a folder's uncompressed data, one CFDATA block at a
// time.
type folderReader struct {
	r     *Reader
	f     *Folder
	off   int64  // file offset of the next CFDATA block
	block int    // CFDATA blocks read so far
	raw   []byte // the current block as stored
	out   []byte
	buf   []byte // the current block's output, not yet read
	err   error

	hist  []byte // MSZIP: the last 32 KiB of output, the next block's dictionary
	flate io.ReadCloser
	src   bytes.Reader
	lzx   *lzxDecoder
}

func (r *Reader) newFolderReader(f *Folder) (*folderReader, error) {
	fr := &folderReader{r: r, f: f, off: f.DataOffset, out: make([]byte, blockMax), raw: make([]byte, dataSize+255+dataMax)}
	switch f.Compression.Method() {
	case None:
	case MSZIP:
		fr.hist = make([]byte, 0, 2*blockMax)
	case LZX:
		wb := f.Compression.WindowBits()
		if wb < 15 || wb > 21 {
			return nil, &FormatError{File: r.Name, Offset: f.DataOffset, Msg: fmt.Sprintf("folder %d: LZX window 2^%d outside 2^15..2^21", f.Index, wb)}
		}
		fr.lzx = newLZXDecoder(wb)
	default:
		return nil, &UnsupportedError{File: r.Name, Compression: f.Compression}
	}
	return fr, nil
}

func (fr *folderReader) Read(p []byte) (int, error) {
	for len(fr.buf) == 0 {
		if fr.err != nil {
			return 0, fr.err
		}
		if fr.block == fr.f.Blocks {
			return 0, io.EOF
		}
		if err := fr.next(); err != nil {
			fr.err = err
			return 0, err
		}
	}
	n := copy(p, fr.buf)
	fr.buf = fr.buf[n:]
	return n, nil
}

// next reads, checks and decompresses the next CFDATA block.
func (fr *folderReader) next() error {
	r := fr.r
	at := fr.off
	h, err := r.readInto(fr.raw[:dataSize+r.dataReserve], at, "CFDATA header")
	if err != nil {
		return err
	}
	sum := le.Uint32(h)
	cbData, cbUncomp := int(le.Uint16(h[4:])), int(le.Uint16(h[6:]))
	switch {
	case cbData > dataMax:
		return r.errf(at, "CFDATA block %d holds %d bytes, more than the %d a block may", fr.block, cbData, dataMax)
	case cbUncomp > blockMax:
		return r.errf(at, "CFDATA block %d expands to %d bytes, more than the %d a block may", fr.block, cbUncomp, blockMax)
	case cbUncomp == 0:
		return r.errf(at, "CFDATA block %d continues in the next cabinet; cabinet sets are not supported", fr.block)
	}
	data, err := r.readInto(fr.raw[len(h):len(h)+cbData], at+int64(len(h)), "CFDATA data")
	if err != nil {
		return err
	}
	if sum != 0 {
		if got := checksum(h[4:8], checksum(data, 0)); got != sum {
			return r.errf(at, "CFDATA block %d checksum is %#08x, the data gives %#08x", fr.block, sum, got)
		}
	}
	fr.off = at + int64(len(h)) + int64(cbData)
	fr.block++
	out := fr.out[:cbUncomp]
	switch fr.f.Compression.Method() {
	case None:
		if cbData != cbUncomp {
			return r.errf(at, "stored CFDATA block %d holds %d bytes but declares %d", fr.block-1, cbData, cbUncomp)
		}
		copy(out, data)
	case MSZIP:
		if err := fr.inflate(data, out); err != nil {
			return r.errf(at, "MSZIP block %d: %v", fr.block-1, err)
		}
	case LZX:
		if err := fr.lzx.frame(data, out); err != nil {
			return r.errf(at, "LZX block %d: %v", fr.block-1, err)
		}
	}
	fr.buf = out
	return nil
}

// inflate decompresses one MSZIP block: "CK" and a deflate stream whose
// back-references may reach into the previous blocks' last 32 KiB.
func (fr *folderReader) inflate(data, out []byte) error {
	if len(data) < 2 || data[0] != 'C' || data[1] != 'K' {
		return fmt.Errorf("no CK signature")
	}
	fr.src.Reset(data[2:])
	if fr.flate == nil {
		fr.flate = flate.NewReaderDict(&fr.src, fr.hist)
	} else if err := fr.flate.(flate.Resetter).Reset(&fr.src, fr.hist); err != nil {
		return err
	}
	if n, err := io.ReadFull(fr.flate, out); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return fmt.Errorf("expands to %d bytes, %d declared", n, len(out))
		}
		return err
	}
	// The block must end exactly where it says: more output is a bomb,
	// an unterminated stream is corrupt.
	var one [1]byte
	if n, err := fr.flate.Read(one[:]); n > 0 {
		return fmt.Errorf("expands beyond the %d bytes it declares", len(out))
	} else if err != io.EOF {
		if err == nil || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("deflate stream does not end with the block")
		}
		return err
	}
	fr.hist = append(fr.hist, out...)
	if len(fr.hist) > blockMax {
		fr.hist = fr.hist[:copy(fr.hist, fr.hist[len(fr.hist)-blockMax:])]
	}
	return nil
}

// checksum is the CFDATA checksum: the XOR of the data as little-endian
// 32-bit words, the last partial word taken most significant byte first.
func checksum(b []byte, seed uint32) uint32 {
	n := len(b) / 4
	for i := 0; i < n; i++ {
		seed ^= le.Uint32(b[4*i:])
	}
	var ul uint32
	for _, c := range b[4*n:] {
		ul = ul<<8 | uint32(c)
	}
	return seed ^ ul
}

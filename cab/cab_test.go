package cab

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/internal/corpus"
	"github.com/bugcheck/bugcheck/pdb"
	"github.com/bugcheck/bugcheck/peimage"
)

// fixture describes a one-folder cabinet for build.
type fixture struct {
	comp          Compression
	blocks        []fixBlock
	files         []fixFile
	hdrReserve    []byte
	folderReserve int
	dataReserve   int
	prev, next    [2]string // cabinet and disk names
	noChecksum    bool
	setID, index  uint16
}

type fixBlock struct {
	data   []byte
	uncomp int
}

type fixFile struct {
	name   string
	size   uint32
	off    uint32
	folder uint16
	attr   uint16
}

// layout offsets build reports for tests that patch the result.
type layout struct {
	folderTable, files, data int
	blocks                   []int
}

func (fx fixture) build() ([]byte, layout) {
	var lay layout
	var flags uint16
	if fx.hdrReserve != nil || fx.folderReserve > 0 || fx.dataReserve > 0 {
		flags |= FlagReservePresent
	}
	if fx.prev[0] != "" {
		flags |= FlagPrevCabinet
	}
	if fx.next[0] != "" {
		flags |= FlagNextCabinet
	}
	var b []byte
	b = append(b, "MSCF"...)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0) // cbCabinet, patched below
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0) // coffFiles, patched below
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, 3, 1)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(fx.files)))
	b = binary.LittleEndian.AppendUint16(b, flags)
	b = binary.LittleEndian.AppendUint16(b, fx.setID)
	b = binary.LittleEndian.AppendUint16(b, fx.index)
	if flags&FlagReservePresent != 0 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(fx.hdrReserve)))
		b = append(b, byte(fx.folderReserve), byte(fx.dataReserve))
		b = append(b, fx.hdrReserve...)
	}
	for _, s := range [][2]string{fx.prev, fx.next} {
		if s[0] != "" {
			b = append(append(b, s[0]...), 0)
			b = append(append(b, s[1]...), 0)
		}
	}
	lay.folderTable = len(b)
	b = binary.LittleEndian.AppendUint32(b, 0) // coffCabStart, patched below
	b = binary.LittleEndian.AppendUint16(b, uint16(len(fx.blocks)))
	b = binary.LittleEndian.AppendUint16(b, uint16(fx.comp))
	for i := 0; i < fx.folderReserve; i++ {
		b = append(b, byte(0xf0+i))
	}
	lay.files = len(b)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(b)))
	for _, f := range fx.files {
		b = binary.LittleEndian.AppendUint32(b, f.size)
		b = binary.LittleEndian.AppendUint32(b, f.off)
		b = binary.LittleEndian.AppendUint16(b, f.folder)
		b = binary.LittleEndian.AppendUint16(b, 0x5b79) // 2025-11-25
		b = binary.LittleEndian.AppendUint16(b, 0x5062) // 10:03:04
		b = binary.LittleEndian.AppendUint16(b, f.attr)
		b = append(append(b, f.name...), 0)
	}
	lay.data = len(b)
	binary.LittleEndian.PutUint32(b[lay.folderTable:], uint32(len(b)))
	for _, blk := range fx.blocks {
		lay.blocks = append(lay.blocks, len(b))
		h := make([]byte, 8+fx.dataReserve)
		binary.LittleEndian.PutUint16(h[4:], uint16(len(blk.data)))
		binary.LittleEndian.PutUint16(h[6:], uint16(blk.uncomp))
		if !fx.noChecksum {
			binary.LittleEndian.PutUint32(h, checksum(h[4:8], checksum(blk.data, 0)))
		}
		b = append(append(b, h...), blk.data...)
	}
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)))
	return b, lay
}

func storedBlocks(data []byte) []fixBlock {
	var out []fixBlock
	for s := 0; s < len(data); s += blockMax {
		e := min(s+blockMax, len(data))
		out = append(out, fixBlock{data[s:e], e - s})
	}
	return out
}

func mszipBlocks(t testing.TB, data []byte) []fixBlock {
	var out []fixBlock
	for s := 0; s < len(data); s += blockMax {
		e := min(s+blockMax, len(data))
		var buf bytes.Buffer
		buf.WriteString("CK")
		w, err := flate.NewWriterDict(&buf, flate.BestCompression, data[max(0, s-blockMax):s])
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data[s:e])
		w.Close()
		out = append(out, fixBlock{buf.Bytes(), e - s})
	}
	return out
}

func lzxBlocks(data []byte, wbits int, e8 int32, specs []lzxBlockSpec) []fixBlock {
	frames := lzxCompress(data, wbits, e8, specs)
	out := make([]fixBlock, len(frames))
	for i, f := range frames {
		out[i] = fixBlock{f, min(blockMax, len(data)-i*blockMax)}
	}
	return out
}

// testData is compressible data with the features LZX cares about: text
// with repeats, long runs, random stretches and x86-like E8 calls.
func testData(seed int64, n int) []byte {
	rng := rand.New(rand.NewSource(seed))
	words := []string{"KeBugCheckEx", "IoCallDriver", "ExAllocatePool2", "ntoskrnl.exe", "\x00\x00\x00\x00", "PAGE_FAULT_IN_NONPAGED_AREA "}
	var b []byte
	for len(b) < n {
		switch rng.Intn(6) {
		case 0:
			b = append(b, words[rng.Intn(len(words))]...)
		case 1: // a call with a small relative target
			b = append(b, 0xe8)
			b = binary.LittleEndian.AppendUint32(b, uint32(int32(rng.Intn(2000)-1000)))
		case 2:
			r := make([]byte, rng.Intn(40))
			rng.Read(r)
			b = append(b, r...)
		case 3: // long run: a length-tree match
			c := byte(rng.Intn(256))
			for i := rng.Intn(300); i > 0; i-- {
				b = append(b, c)
			}
		case 4: // copy from far back
			if len(b) > 100 {
				s := rng.Intn(len(b) - 50)
				b = append(b, b[s:s+rng.Intn(50)]...)
			}
		default:
			b = append(b, byte('a'+rng.Intn(26)))
		}
	}
	return b[:n]
}

func parse(t *testing.T, b []byte) *Reader {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)), "test.cab")
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return r
}

func extract(r *Reader, f *File) ([]byte, error) {
	var buf bytes.Buffer
	_, err := r.ExtractTo(&buf, f)
	return buf.Bytes(), err
}

func TestCorpusPDB(t *testing.T) {
	path := corpus.Path(t, "pdb", "basic32.pd_")
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Folders) != 1 || r.Folders[0].Compression != MSZIP || r.Folders[0].Blocks != 202 {
		t.Fatalf("folders: %+v", r.Folders[0])
	}
	files := r.Files()
	if len(files) != 1 || files[0].Name != "basic32.pdb" || files[0].Size != 6590464 {
		t.Fatalf("files: %+v", files[0])
	}
	if got := files[0].Modified; !got.Equal(time.Date(2019, 11, 25, 10, 34, 4, 0, time.UTC)) {
		t.Errorf("modified %v", got)
	}
	data, err := extract(r, r.File("BASIC32.PDB"))
	if err != nil || len(data) != 6590464 {
		t.Fatalf("extract: %d bytes, %v", len(data), err)
	}
	p, err := pdb.NewFile(bytes.NewReader(data), int64(len(data)), "basic32.pdb")
	if err != nil {
		t.Fatal(err)
	}
	img, err := peimage.Open(corpus.Path(t, "pdb", "basic32.dll"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	cv, err := img.CodeView()
	if err != nil {
		t.Fatal(err)
	}
	const key = "34060D222DBB44E5AA72243CE8326C2F2"
	if p.SymbolStoreKey() != key || cv.SymbolStoreKey() != key || p.Age != 2 || cv.Age != 2 {
		t.Errorf("PDB key %s age %d, image CodeView key %s age %d, want %s", p.SymbolStoreKey(), p.Age, cv.SymbolStoreKey(), cv.Age, key)
	}
}

func TestFixtures(t *testing.T) {
	data := testData(1, 150_000)
	tail := testData(2, 2000)
	all := append(append([]byte(nil), data...), tail...)
	files := []fixFile{{name: "a.pdb", size: uint32(len(data))}, {name: "sub\\b.sys", size: uint32(len(tail)), off: uint32(len(data)), attr: 0x20}}
	cases := []struct {
		name string
		fx   fixture
	}{
		{"stored", fixture{comp: None, blocks: storedBlocks(all)}},
		{"stored-reserves-and-set", fixture{comp: None, blocks: storedBlocks(all), hdrReserve: []byte{1, 2, 3, 4, 5}, folderReserve: 3, dataReserve: 7,
			prev: [2]string{"prev.cab", "Disk 1"}, next: [2]string{"next.cab", "Disk 3"}, setID: 0x1234, index: 2}},
		{"mszip", fixture{comp: MSZIP, blocks: mszipBlocks(t, all)}},
		{"mszip-no-checksums", fixture{comp: MSZIP, blocks: mszipBlocks(t, all), noChecksum: true}},
		{"lzx15-verbatim-e8", fixture{comp: LZX | 15<<8, blocks: lzxBlocks(all, 15, 12_000_000, []lzxBlockSpec{{lzxVerbatim, len(all)}})}},
		{"lzx16-mixed", fixture{comp: LZX | 16<<8, blocks: lzxBlocks(all, 16, 0, []lzxBlockSpec{{lzxVerbatim, 40_000}, {lzxUncompressed, 7_001}, {lzxAligned, 60_000}, {lzxUncompressed, 33_000}, {lzxVerbatim, len(all) - 140_001}})}},
		{"lzx21-aligned-e8", fixture{comp: LZX | 21<<8, blocks: lzxBlocks(all, 21, 0x7fff0000, []lzxBlockSpec{{lzxAligned, 100_000}, {lzxVerbatim, len(all) - 100_000}})}},
		{"lzx17-uncompressed-only", fixture{comp: LZX | 17<<8, blocks: lzxBlocks(all, 17, 1000, []lzxBlockSpec{{lzxUncompressed, 32768}, {lzxUncompressed, len(all) - 32768}})}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fx.files = files
			b, _ := c.fx.build()
			r := parse(t, b)
			if r.Size != int64(len(b)) || r.SetID != c.fx.setID || r.Index != c.fx.index || r.PrevCabinet != c.fx.prev[0] || r.PrevDisk != c.fx.prev[1] ||
				r.NextCabinet != c.fx.next[0] || r.NextDisk != c.fx.next[1] || !bytes.Equal(r.HeaderReserve, c.fx.hdrReserve) || len(r.Folders[0].Reserve) != c.fx.folderReserve {
				t.Errorf("header: %+v", r)
			}
			if r.Folders[0].Compression != c.fx.comp || r.Folders[0].Blocks != len(c.fx.blocks) {
				t.Errorf("folder: %+v", r.Folders[0])
			}
			if len(r.Files()) != 2 || r.Files()[1].Name != `sub\b.sys` || r.Files()[1].Attributes != 0x20 ||
				!r.Files()[0].Modified.Equal(time.Date(2025, 11, 25, 10, 3, 4, 0, time.UTC)) {
				t.Fatalf("files: %+v %+v", r.Files()[0], r.Files()[1])
			}
			for i, want := range [][]byte{data, tail} {
				got, err := extract(r, r.Files()[i])
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("file %d: %d bytes (want %d), err %v, first difference at %d", i, len(got), len(want), err, firstDiff(got, want))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestLZXRoundTrip compresses random data with our encoder under random
// block layouts and window sizes and decompresses it again.
func TestLZXRoundTrip(t *testing.T) {
	for seed := int64(0); seed < 12; seed++ {
		rng := rand.New(rand.NewSource(seed))
		n := 1 + rng.Intn(200_000)
		var data []byte
		if seed%3 == 0 {
			data = make([]byte, n) // incompressible
			rng.Read(data)
		} else {
			data = testData(seed, n)
		}
		wbits := 15 + rng.Intn(7)
		var specs []lzxBlockSpec
		for left := n; left > 0; {
			sz := min(left, 1+rng.Intn(70_000))
			specs = append(specs, lzxBlockSpec{1 + rng.Intn(3), sz})
			left -= sz
		}
		e8 := int32(0)
		if rng.Intn(2) == 0 {
			e8 = int32(rng.Intn(1 << 24))
		}
		fx := fixture{comp: LZX | Compression(wbits)<<8, blocks: lzxBlocks(data, wbits, e8, specs), files: []fixFile{{name: "x", size: uint32(n)}}}
		b, _ := fx.build()
		got, err := extract(parse(t, b), &File{Name: "x", Size: uint32(n)})
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("seed %d (window 2^%d, %d blocks, e8 %d, %d bytes): err %v, first difference at %d", seed, wbits, len(specs), e8, n, err, firstDiff(got, data))
		}
	}
}

func TestE8Translation(t *testing.T) {
	// The encoder turns relative call targets absolute and the decoder
	// back; targets outside [-pos, size) stay as they are.
	b := make([]byte, 40)
	b[3] = 0xe8
	binary.LittleEndian.PutUint32(b[4:], 0x10) // rel 0x10 at position 3 -> abs 0x13
	b[20] = 0xe8
	binary.LittleEndian.PutUint32(b[21:], 0xffffff00) // rel -256 at position 20: before the start, left alone
	orig := append([]byte(nil), b...)
	e8Encode(b, 0, 1000)
	if got := binary.LittleEndian.Uint32(b[4:]); got != 0x13 {
		t.Errorf("encoded target %#x, want 0x13", got)
	}
	if got := binary.LittleEndian.Uint32(b[21:]); got != 0xffffff00 {
		t.Errorf("out-of-range target changed to %#x", got)
	}
	e8Decode(b, 0, 1000)
	if !bytes.Equal(b, orig) {
		t.Errorf("round trip: %x", b)
	}
}

func TestHostile(t *testing.T) {
	data := testData(7, 70_000)
	files := []fixFile{{name: "f.pdb", size: uint32(len(data))}}
	mszip, mlay := fixture{comp: MSZIP, blocks: mszipBlocks(t, data), files: files}.build()
	lzx, llay := fixture{comp: LZX | 16<<8, blocks: lzxBlocks(data, 16, 0, []lzxBlockSpec{{lzxVerbatim, len(data)}}), files: files}.build()
	patch := func(b []byte, off int, v ...byte) []byte {
		c := append([]byte(nil), b...)
		copy(c[off:], v)
		return c
	}
	u16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	// A block that inflates to 32 KiB but declares 100 bytes.
	zeros := make([]byte, blockMax)
	bomb, _ := fixture{comp: MSZIP, blocks: []fixBlock{{mszipBlocks(t, zeros)[0].data, 100}}, files: []fixFile{{name: "z", size: 100}}}.build()
	// A file that claims more than its folder produces.
	short, _ := fixture{comp: None, blocks: storedBlocks(data[:1000]), files: []fixFile{{name: "s", size: 5000}}}.build()
	quantum, _ := fixture{comp: Quantum | 7<<8, blocks: storedBlocks(data[:10]), files: []fixFile{{name: "q", size: 10}}}.build()
	badWindow, _ := fixture{comp: LZX | 22<<8, blocks: storedBlocks(data[:10]), files: []fixFile{{name: "w", size: 10}}}.build()
	// LZX whose first literal is replaced by a match reaching before the
	// stream: garbage bits after a valid header are a corrupt stream.
	lzxGarbage := patch(lzx, llay.blocks[0]+8+40, bytes.Repeat([]byte{0xff}, 64)...)
	lzxGarbage = fixChecksum(lzxGarbage, llay.blocks[0])

	cases := []struct {
		name    string
		b       []byte
		openErr string // expected from NewReader
		readErr string // expected from extracting file 0
		offset  int64  // expected FormatError offset, -1 to skip
	}{
		{"empty", nil, "CFHEADER (36 bytes) runs past the end", "", 0},
		{"not a cabinet", []byte(strings.Repeat("MZ", 40)), "not a cabinet", "", 0},
		{"truncated header", mszip[:30], "runs past the end", "", 0},
		{"truncated cabinet", mszip[:len(mszip)-100], "header declares", "", 8},
		{"truncated but size patched", patch(mszip[:len(mszip)-100], 8, u32(uint32(len(mszip)-100))...), "", "runs past the end", int64(mlay.blocks[2] + 8)},
		{"absurd folder count", patch(mszip, 26, u16(0xffff)...), "CFFOLDER table (65535 entries)", "", int64(mlay.folderTable)},
		{"absurd file count", patch(mszip, 28, u16(0xffff)...), "65535 files cannot fit", "", 28},
		{"files offset inside header", patch(mszip, 16, u32(4)...), "overlaps the header", "", 16},
		{"data offset inside header", patch(mszip, mlay.folderTable, u32(0)...), "overlaps the header and file tables", "", int64(mlay.folderTable)},
		{"data offset outside file", patch(mszip, mlay.folderTable, u32(0x7fffffff)...), "lies outside the file", "", int64(mlay.folderTable)},
		{"file names missing folder", patch(mszip, mlay.files+8, u16(3)...), "names folder 3 of 1", "", -1},
		{"file spans cabinets", patch(mszip, mlay.files+8, u16(ContinuedToNext)...), "", "split across cabinets", -1},
		{"unterminated name", append(patch(mszip[:mlay.files+16], 8, u32(uint32(mlay.files+16+300))...), bytes.Repeat([]byte("A"), 300)...), "not NUL-terminated", "", int64(mlay.files + 16)},
		{"bad checksum", patch(mszip, mlay.blocks[1]+20, 0x55), "", "checksum is", int64(mlay.blocks[1])},
		{"block too big", patch(mszip, mlay.blocks[0]+6, u16(40000)...), "", "expands to 40000 bytes", int64(mlay.blocks[0])},
		{"split block", fixChecksum(patch(mszip, mlay.blocks[0]+6, u16(0)...), mlay.blocks[0]), "", "continues in the next cabinet", int64(mlay.blocks[0])},
		{"no CK", fixChecksum(patch(mszip, mlay.blocks[0]+8, 'X'), mlay.blocks[0]), "", "no CK signature", int64(mlay.blocks[0])},
		{"decompression bomb", bomb, "", "expands beyond the 100 bytes", -1},
		{"file longer than folder", short, "", "folder 0 ends before file", -1},
		{"file beyond block capacity", patch(mszip, mlay.files, u32(0x7fffffff)...), "", "hold at most 98304", -1},
		{"lzx window", badWindow, "", "LZX window 2^22", -1},
		{"lzx garbage", lzxGarbage, "", "LZX block 0", int64(llay.blocks[0])},
		{"lzx truncated frame", fixChecksum(patch(lzx, llay.blocks[0]+4, u16(100)...), llay.blocks[0]), "", "LZX block", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(c.b), int64(len(c.b)), "h.cab")
			if c.openErr != "" {
				checkErr(t, err, c.openErr, c.offset)
				return
			}
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			_, err = extract(r, r.Files()[0])
			checkErr(t, err, c.readErr, c.offset)
		})
	}
	t.Run("quantum", func(t *testing.T) {
		r := parse(t, quantum)
		_, err := extract(r, r.Files()[0])
		var ue *UnsupportedError
		if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &ue) || ue.Compression.Method() != Quantum {
			t.Errorf("Quantum: %v", err)
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		// No prefix of a valid cabinet panics or extracts the full file.
		for _, b := range [][]byte{mszip, lzx} {
			for n := 0; n < len(b); n += 97 {
				c := b[:n]
				if n >= 12 {
					c = patch(c, 8, u32(uint32(n))...)
				}
				r, err := NewReader(bytes.NewReader(c), int64(n), "t.cab")
				if err != nil {
					continue
				}
				if got, err := extract(r, r.Files()[0]); err == nil {
					t.Fatalf("prefix %d: extracted %d bytes without error", n, len(got))
				}
			}
		}
	})
}

// fixChecksum recomputes the checksum of the CFDATA block at off (no
// reserve).
func fixChecksum(b []byte, off int) []byte {
	n := int(binary.LittleEndian.Uint16(b[off+4:]))
	binary.LittleEndian.PutUint32(b[off:], checksum(b[off+4:off+8], checksum(b[off+8:off+8+n], 0)))
	return b
}

func checkErr(t *testing.T, err error, want string, off int64) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	if off < 0 {
		return
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("%T is not a FormatError: %v", err, err)
	}
	if fe.Offset != off || fe.File != "h.cab" {
		t.Errorf("FormatError at %s %#x, want h.cab %#x: %v", fe.File, fe.Offset, off, err)
	}
}

func FuzzReader(f *testing.F) {
	if root, ok := corpus.Root(); ok {
		// The header and the first few MSZIP blocks of the real PDB.
		if b, err := os.ReadFile(root + "/pdb/basic32.pd_"); err == nil {
			f.Add(b[:20_000])
		}
	}
	data := testData(3, 40_000)
	files := []fixFile{{name: "a", size: 30_000}, {name: "b", size: 10_000, off: 30_000}}
	for _, fx := range []fixture{
		{comp: MSZIP, blocks: mszipBlocks(f, data), files: files},
		{comp: LZX | 15<<8, blocks: lzxBlocks(data, 15, 5000, []lzxBlockSpec{{lzxAligned, 20_000}, {lzxUncompressed, 99}, {lzxVerbatim, 19_901}}), files: files},
		{comp: None, blocks: storedBlocks(data[:500]), files: []fixFile{{name: "s", size: 500}}, hdrReserve: []byte{1}, dataReserve: 2, next: [2]string{"n", "d"}},
	} {
		b, _ := fx.build()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), int64(len(b)), "fuzz.cab")
		if err != nil {
			return
		}
		for _, file := range r.Files() {
			rd, err := r.Open(file)
			if err != nil {
				continue
			}
			n, err := io.Copy(io.Discard, io.LimitReader(rd, 1<<22))
			if err == nil && n != int64(min(file.Size, 1<<22)) {
				t.Fatalf("%s: %d bytes, want %d", file.Name, n, file.Size)
			}
		}
	})
}

func BenchmarkMSZIPCorpus(b *testing.B) {
	path := corpus.Path(b, "pdb", "basic32.pd_")
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.SetBytes(int64(r.Files()[0].Size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ExtractTo(io.Discard, r.Files()[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLZX(b *testing.B) {
	data := testData(9, 4<<20)
	fx := fixture{comp: LZX | 21<<8, blocks: lzxBlocks(data, 21, 12_000_000, []lzxBlockSpec{{lzxVerbatim, 2 << 20}, {lzxAligned, 2 << 20}}), files: []fixFile{{name: "x", size: uint32(len(data))}}}
	cab, _ := fx.build()
	r, err := NewReader(bytes.NewReader(cab), int64(len(cab)), "x.cab")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ExtractTo(io.Discard, r.Files()[0]); err != nil {
			b.Fatal(err)
		}
	}
}

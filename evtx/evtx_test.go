package evtx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/internal/corpus"
)

func readAll(t testing.TB, f *File) []*Event {
	t.Helper()
	var out []*Event
	it := f.Records()
	for it.Next() {
		out = append(out, it.Event())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openCorpus(t *testing.T, name string, opt Options) *File {
	t.Helper()
	f, err := Open(corpus.Path(t, "evtx", name))
	if err != nil {
		t.Fatal(err)
	}
	f.Options = opt
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCorpusFiles checks record counts and ids against MANIFEST.md, and
// which corruption each file reports.
func TestCorpusFiles(t *testing.T) {
	cases := []struct {
		file          string
		verify        bool
		records       int
		first, last   uint64
		declared      uint64   // records the valid chunks' headers declare
		warnings      []string // substrings, in order
		warnOffsets   []int64
		declaredFirst uint64
	}{
		{file: "crash-sequence-system.evtx", records: 1601, first: 12049, last: 13649, declared: 1601},
		{file: "system.evtx", records: 1881, first: 1, last: 1881, declared: 1881},
		{file: "3g-System.evtx", records: 4, first: 1912, last: 1915, declared: 4},
		{file: "Application_no_crc32.evtx", records: 17, first: 426, last: 442, declared: 17},
		{file: "new-user-security.evtx", records: 4, first: 1, last: 4, declared: 4},
		{file: "sample-with-irregular-bool-values.evtx", records: 3028, first: 1, last: 3028, declared: 3028},
		{file: "security_bad_string_cache.evtx", records: 2261, first: 1, last: 2261, declared: 2261,
			warnings: []string{"chunk 0: header checksum 0x3a57641e, computed 0x685abe41; reading its records anyway"}, warnOffsets: []int64{0x1000}},
		// With checksums enforced, the chunk with the bad header goes.
		{file: "security_bad_string_cache.evtx", verify: true, records: 2261 - 91, first: 92, last: 2261, declared: 2261,
			warnings: []string{"chunk 0: header checksum 0x3a57641e, computed 0x685abe41, skipped"}, warnOffsets: []int64{0x1000}},
		// One record (number 3, at file offset 0x1820) has size 0: it is
		// reported and the reader finds the next record after it, so 449 of
		// the 450 declared records come out (tools that abandon the chunk
		// keep 335).
		{file: "sample-with-zero-data-size-event.evtx", records: 449, first: 1, last: 450, declared: 450,
			warnings:    []string{"records checksum 0xc08b93e5", "record 3: bad size 0"},
			warnOffsets: []int64{0x1000, 0x1820}},
		// Chunks 6 and 10 have lost their signature; the valid chunks
		// declare 467 records (45691..47705) but three of them were cut
		// short (their last records zeroed), leaving 298 readable.
		{file: "sample_with_a_bad_chunk_magic.evtx", records: 298, first: 46728, last: 45932, declared: 467,
			warnings: []string{
				"chunk 0: records checksum", "record 46741: bad size 472", "chunk 6: bad signature",
				"chunk 7: records checksum", "record 47640: bad size 504", "chunk 9: records checksum",
				"record 45933: bad size 504", "chunk 10: bad signature"},
			warnOffsets: []int64{0x1000, 0x2fc0, 0x61000, 0x71000, 0x72e68, 0x91000, 0x9ee40, 0xa1000}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f := openCorpus(t, c.file, Options{VerifyChecksums: c.verify})
			evs := readAll(t, f)
			if len(evs) != c.records {
				t.Errorf("records = %d, want %d", len(evs), c.records)
			}
			if len(evs) > 0 && (evs[0].RecordID != c.first || evs[len(evs)-1].RecordID != c.last) {
				t.Errorf("record ids %d..%d, want %d..%d", evs[0].RecordID, evs[len(evs)-1].RecordID, c.first, c.last)
			}
			hs, err := f.ChunkHeaders()
			if err != nil {
				t.Fatal(err)
			}
			var declared uint64
			for _, h := range hs {
				declared += h.Declared()
			}
			if declared != c.declared {
				t.Errorf("declared records = %d, want %d", declared, c.declared)
			}
			if len(f.Warnings) != len(c.warnings) {
				t.Fatalf("warnings = %v, want %d", f.Warnings, len(c.warnings))
			}
			for i, w := range f.Warnings {
				if !strings.Contains(w.Msg, c.warnings[i]) || w.Offset != c.warnOffsets[i] || w.File != c.file {
					t.Errorf("warning %d = %v, want %q at %#x", i, w, c.warnings[i], c.warnOffsets[i])
				}
			}
			for _, e := range evs {
				if e.Root == nil || e.Root.Name != "Event" || e.Provider == "" || e.TimeCreated.IsZero() {
					t.Fatalf("record %d: incomplete event %+v", e.RecordID, e)
				}
			}
		})
	}
}

func TestBadChunkMagicDeclaredRange(t *testing.T) {
	f := openCorpus(t, "sample_with_a_bad_chunk_magic.evtx", Options{})
	hs, err := f.ChunkHeaders()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := ^uint64(0), uint64(0)
	for _, h := range hs {
		lo, hi = min(lo, h.FirstRecordNumber), max(hi, h.LastRecordNumber)
	}
	if len(hs) != 4 || lo != 45691 || hi != 47705 {
		t.Errorf("%d valid chunks declaring %d..%d, want 4 chunks, 45691..47705", len(hs), lo, hi)
	}
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestCrashSequence checks the events of the real crash in the Windows 7
// System log.
func TestCrashSequence(t *testing.T) {
	f := openCorpus(t, "crash-sequence-system.evtx", Options{})
	byID := map[uint64]*Event{}
	for _, e := range readAll(t, f) {
		byID[e.RecordID] = e
	}
	type want struct {
		id         uint64
		provider   string
		source     string
		eventID    uint16
		qualifiers uint16
		level      uint8
		created    string
		fields     map[string]string
	}
	const zero = "0x0000000000000000"
	cases := []want{
		{13423, "Microsoft-Windows-WER-SystemErrorReporting", "BugCheck", 1001, 16384, 2, "2012-04-06T14:07:52Z", map[string]string{
			"param1": "0x00010001 (0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000)",
			"param2": `C:\Windows\MEMORY.DMP`,
			"param3": "040612-50390-01",
		}},
		{13392, "Microsoft-Windows-Kernel-Power", "", 41, 0, 1, "2012-04-06T14:07:06.625Z", map[string]string{
			"BugcheckCode": "65537", "BugcheckParameter1": zero, "BugcheckParameter4": zero,
			"SleepInProgress": "false", "PowerButtonTimestamp": "0",
		}},
		{13534, "Microsoft-Windows-Kernel-Power", "", 41, 0, 1, "2012-04-06T19:11:29.96875Z", map[string]string{
			"BugcheckCode": "0", "SleepInProgress": "false",
		}},
		{13388, "EventLog", "", 6008, 32768, 2, "2012-04-06T14:07:44Z", map[string]string{
			"Data[0]": "9:59:13 AM", "Data[1]": "\u200e4/\u200e6/\u200e2012", "Data[4]": "1846932",
		}},
		{13530, "EventLog", "", 6008, 32768, 2, "2012-04-06T19:12:08Z", map[string]string{
			"Data[0]": "3:09:23 PM", "Data[4]": "14071",
		}},
	}
	for _, w := range cases {
		e := byID[w.id]
		if e == nil {
			t.Errorf("record %d missing", w.id)
			continue
		}
		if e.Provider != w.provider || e.EventSourceName != w.source || e.EventID != w.eventID || e.Qualifiers != w.qualifiers || e.Level != w.level {
			t.Errorf("record %d: %s (%s) %d q%d L%d, want %s (%s) %d q%d L%d", w.id, e.Provider, e.EventSourceName, e.EventID, e.Qualifiers, e.Level,
				w.provider, w.source, w.eventID, w.qualifiers, w.level)
		}
		if !e.TimeCreated.Equal(ts(w.created)) {
			t.Errorf("record %d: created %v, want %s", w.id, e.TimeCreated, w.created)
		}
		if e.Computer != "WKS-WIN764BITB.shieldbase.local" || e.Channel != "System" {
			t.Errorf("record %d: computer %q channel %q", w.id, e.Computer, e.Channel)
		}
		for k, v := range w.fields {
			if got := e.Field(k); got != v {
				t.Errorf("record %d: %s = %q, want %q", w.id, k, got, v)
			}
		}
	}
	kp := byID[13392]
	if v, _ := kp.Get("BugcheckCode"); v.Type != TypeUint32 || v.Uint != 0x10001 {
		t.Errorf("BugcheckCode typed value = %+v, want uint32 0x10001", v)
	}
	if v, _ := kp.Get("BugcheckParameter1"); v.Type != TypeHex64 {
		t.Errorf("BugcheckParameter1 type = %#x, want hex64", v.Type)
	}
	if kp.ProcessID != 4 || kp.ThreadID != 8 || kp.UserID != "S-1-5-18" || kp.Task != 63 || kp.Version != 2 || kp.Keywords != 0x8000000000000002 {
		t.Errorf("record 13392 system fields: %+v", kp)
	}
	if kp.ProviderGUID != "{331C3B3A-2005-44C2-AC5E-77220C37D6B4}" {
		t.Errorf("provider GUID %s", kp.ProviderGUID)
	}
	// The 6008 binary data holds the previous shutdown time as two
	// SYSTEMTIMEs, local then UTC.
	if b := byID[13388].Field("Binary"); !strings.HasPrefix(b, "DC0704000500060009003B000D001D00DC070400050006000D003B000D001D00") {
		t.Errorf("6008 binary = %s", b)
	}
}

func TestValueTypes(t *testing.T) {
	ft := uint64(129780000000000000)
	sid := []byte{1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0}
	st := []byte{0xdc, 0x07, 4, 0, 5, 0, 6, 0, 13, 0, 59, 0, 13, 0, 29, 0}
	guid := []byte{0x3a, 0x3b, 0x1c, 0x33, 0x05, 0x20, 0xc2, 0x44, 0xac, 0x5e, 0x77, 0x22, 0x0c, 0x37, 0xd6, 0xb4}
	cases := []struct {
		t    ValueType
		b    []byte
		want string
	}{
		{TypeString, utf16le("héllo\x00"), "héllo"},
		{TypeANSIString, []byte("abc\x00"), "abc"},
		{TypeInt8, []byte{0xff}, "-1"},
		{TypeUint8, []byte{0xff}, "255"},
		{TypeInt16, le16(0xfffe), "-2"},
		{TypeUint16, le16(6008), "6008"},
		{TypeInt32, le32(0xfffffffd), "-3"},
		{TypeUint32, le32(65537), "65537"},
		{TypeInt64, le64(^uint64(3)), "-4"},
		{TypeUint64, le64(1 << 40), "1099511627776"},
		{TypeReal32, le32(0x3fc00000), "1.5"},
		{TypeReal64, le64(0x4004000000000000), "2.5"},
		{TypeBool, le32(0), "false"},
		{TypeBool, le32(2), "true"}, // irregular values count as true
		{TypeBinary, []byte{0xde, 0xad}, "DEAD"},
		{TypeGUID, guid, "{331C3B3A-2005-44C2-AC5E-77220C37D6B4}"},
		{TypeSizeT, le64(0x1000), "0x1000"},
		{TypeSizeT, le32(0x20), "0x20"},
		{TypeFileTime, le64(ft), "2012-04-04T08:00:00.0000000Z"},
		{TypeSystemTime, st, "2012-04-06T13:59:13.0290000Z"},
		{TypeSID, sid, "S-1-5-32-544"},
		{TypeHex32, le32(0x10001), "0x10001"},
		{TypeHex64, le64(0x50), "0x0000000000000050"},
		{TypeString | ArrayFlag, utf16le("a\x00bc\x00"), "a, bc"},
		{TypeUint16 | ArrayFlag, append(le16(1), le16(2)...), "1, 2"},
		{TypeSID | ArrayFlag, append(append([]byte{}, sid...), 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0), "S-1-5-32-544, S-1-5-18"},
		{TypeNull, nil, ""},
	}
	for _, c := range cases {
		v, err := decodeValue(c.t, c.b)
		if err != nil {
			t.Errorf("type %#x: %v", c.t, err)
			continue
		}
		if got := v.String(); got != c.want {
			t.Errorf("type %#x: %q, want %q", c.t, got, c.want)
		}
	}
	for _, bad := range []struct {
		t ValueType
		b []byte
	}{{TypeUint32, []byte{1}}, {TypeGUID, make([]byte, 8)}, {TypeSID, []byte{1, 9, 0, 0, 0, 0, 0, 5}}, {0x42, nil}, {TypeSizeT, []byte{1}}} {
		if _, err := decodeValue(bad.t, bad.b); err == nil {
			t.Errorf("type %#x of %d bytes: no error", bad.t, len(bad.b))
		}
	}
}

func open(t testing.TB, b []byte) *File {
	t.Helper()
	f, err := NewFile(bytes.NewReader(b), int64(len(b)), "gen.evtx")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGenerated reads files written by our own builder: templates reused
// across records, typed substitutions, nested BinXML, optional
// substitutions.
func TestGenerated(t *testing.T) {
	c := newChunk(100)
	var def int
	c.record(1, func(x *bx) {
		x.fragmentHeader()
		def = x.instance(0, eventTemplate, eventSubs("P1", 41, 129780000000000000, 0x124, nil))
		x.eof()
	})
	c.record(2, func(x *bx) {
		// The nested fragment: <Extra Kind="n">text</Extra>, no
		// dependency identifiers outside templates.
		x.fragmentHeader()
		subsAt := func(base int) []byte {
			n := &bx{base: base}
			n.fragmentHeader()
			n.open("Extra", true, false)
			n.attr("Kind", false)
			n.text("n")
			n.closeStart()
			n.text("a")
			n.u8(tokCharRef)
			n.u16('&')
			n.u8(tokEntityRef)
			n.name("lt")
			n.u8(tokCDATA)
			n.u16(1)
			n.raw(utf16le("z"))
			n.end()
			n.eof()
			return n.b
		}
		// Lay out the instance once to learn where the nested value lands.
		probe := &bx{base: x.pos()}
		nested := subsAt(0)
		probe.instance(def, nil, eventSubs("P2", 1001, 129780000000000000, 0x50, nested))
		valueAt := x.pos() + len(probe.b) - len(nested)
		x.instance(def, nil, eventSubs("P2", 1001, 129780000000000000, 0x50, subsAt(valueAt)))
		x.eof()
	})
	f := open(t, buildFile(c.bytes()))
	evs := readAll(t, f)
	if len(f.Warnings) != 0 {
		t.Fatalf("warnings: %v", f.Warnings)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if e.Provider != "P1" || e.EventID != 41 || e.Qualifiers != 16384 || e.Level != 2 || e.Computer != "HOST" ||
		!e.TimeCreated.Equal(ts("2012-04-04T08:00:00Z")) || e.Field("Code") != "0x124" || len(e.Data) != 1 {
		t.Errorf("event 1: %+v", e)
	}
	e = evs[1]
	if e.Provider != "P2" || e.EventID != 1001 || e.Field("Code") != "0x50" || e.Field("Extra") != "a&<z" {
		t.Errorf("event 2: %+v data %v", e, e.Data)
	}
	if x := e.Root.Child("EventData").Child("Extra"); x == nil {
		t.Error("nested BinXML element missing")
	} else if k, _ := x.Attr("Kind"); k.Str != "n" {
		t.Errorf("nested attribute Kind = %q", k.Str)
	}
}

// TestHostile: corruption is reported with its offset and reading goes on;
// loops and runaway nesting are errors, not hangs or stack overflows.
func TestHostile(t *testing.T) {
	loop := func(twice bool) []byte {
		c := newChunk(1)
		c.record(1, func(x *bx) {
			x.fragmentHeader()
			// A template whose body instantiates itself (once or twice).
			// The inline definition starts after token, unknown byte, id and offset.
			def := x.pos() + 1 + 1 + 4 + 4
			x.instance(0, func(t *bx) {
				t.fragmentHeader()
				t.open("Event", false, true)
				t.closeStart()
				for i := 0; i < 1+btoi(twice); i++ {
					t.instance(def, nil, nil)
				}
				t.end()
				t.eof()
			}, nil)
			x.eof()
		})
		return c.bytes()
	}
	deep := func() []byte {
		c := newChunk(1)
		c.record(1, func(x *bx) {
			x.fragmentHeader()
			for i := 0; i < 200; i++ {
				x.open("E", false, false)
				x.closeStart()
			}
			for i := 0; i < 200; i++ {
				x.end()
			}
			x.eof()
		})
		return c.bytes()
	}
	good := goodChunk(10, 3)
	cases := []struct {
		name     string
		data     []byte
		opt      Options
		records  int
		warnings []string
	}{
		{"template instantiates itself", buildFile(loop(false), good), Options{}, 3, []string{"record 1: binary XML nested too deeply"}},
		{"template instantiates itself twice", buildFile(loop(true), good), Options{}, 3, []string{"record 1: "}},
		{"elements nested 200 deep", buildFile(deep(), good), Options{}, 3, []string{"record 1: binary XML nested too deeply"}},
		{"truncated chunk", buildFile(good)[:fileHeaderSize+8000], Options{}, 3, []string{"chunk 0: truncated to 8000"}},
		{"truncated mid-record", buildFile(goodChunk(10, 3))[:fileHeaderSize+chunkHeaderSize+700], Options{}, 0, []string{"truncated", "bad size"}},
		{"bad data checksum", buildFile(flip(good, 600)), Options{}, 3, []string{"records checksum"}},
		{"bad data checksum, verified", buildFile(flip(good, 600), goodChunk(20, 2)), Options{VerifyChecksums: true}, 2, []string{"records checksum", "skipped"}},
		{"bad header checksum, verified", buildFile(flip(good, 200)), Options{VerifyChecksums: true}, 0, []string{"header checksum"}},
		{"bad chunk magic", buildFile(flip(good, 0), goodChunk(20, 2)), Options{}, 2, []string{"chunk 0: bad signature"}},
		{"record size 0", buildFile(fixCRC(setRecordSize(good, 0, 0))), Options{}, 2, []string{"record 10: bad size 0"}},
		{"record size past chunk", buildFile(fixCRC(setRecordSize(good, 1, 0x7fffffff))), Options{}, 2, []string{"record 11: bad size"}},
		{"substitution count past record", buildFile(fixCRC(setSubstCount(good, 1, 0xffffff))), Options{}, 2, []string{"record 11: template instance declares 16777215 substitutions"}},
		{"free space offset past chunk", buildFile(fixHdrCRC(setFree(good, 0x20000))), Options{}, 3, []string{"free space offset"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := open(t, c.data)
			f.Options = c.opt
			evs := readAll(t, f)
			if len(evs) != c.records {
				t.Errorf("records = %d, want %d", len(evs), c.records)
			}
			var msgs []string
			for _, w := range f.Warnings {
				msgs = append(msgs, w.Error())
				if w.File != "gen.evtx" || w.Offset < 0 || w.Offset > int64(len(c.data)) {
					t.Errorf("warning %v: bad file or offset", w)
				}
			}
			all := strings.Join(msgs, "\n")
			for _, w := range c.warnings {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", all, w)
				}
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func flip(b []byte, off int) []byte {
	b = append([]byte(nil), b...)
	b[off] ^= 0x55
	return b
}

// recordOffset returns the chunk offset of the i-th record.
func recordOffset(b []byte, i int) int {
	off := chunkHeaderSize
	for ; i > 0; i-- {
		off += int(binary.LittleEndian.Uint32(b[off+4:]))
	}
	return off
}

func setRecordSize(b []byte, i int, size uint32) []byte {
	b = append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(b[recordOffset(b, i)+4:], size)
	return b
}

// setSubstCount rewrites the substitution count of record i, which refers
// to the template defined by record 0 (layout from goodChunk).
func setSubstCount(b []byte, i int, n uint32) []byte {
	b = append([]byte(nil), b...)
	off := recordOffset(b, i) + recordHeader + 4 + 1 + 1 + 4 + 4
	binary.LittleEndian.PutUint32(b[off:], n)
	return b
}

func setFree(b []byte, v uint32) []byte {
	b = append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(b[48:], v)
	return b
}

func fixHdrCRC(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[124:], crc32Header(b))
	return b
}

func fixCRC(b []byte) []byte {
	end := binary.LittleEndian.Uint32(b[48:])
	binary.LittleEndian.PutUint32(b[52:], crc32Data(b[chunkHeaderSize:end]))
	return fixHdrCRC(b)
}

func TestNotEVTX(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("MZ"), bytes.Repeat([]byte{0}, 4096)} {
		_, err := NewFile(bytes.NewReader(b), int64(len(b)), "x.bin")
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), ErrNotEVTX.Error()) || fe.File != "x.bin" {
			t.Errorf("%d bytes: err = %v", len(b), err)
		}
	}
}

// FuzzRecords reads arbitrary files; seeds are a chunk-sized prefix of a
// corpus log and generated files.
func FuzzRecords(f *testing.F) {
	if root, ok := corpus.Root(); ok {
		for _, name := range []string{"crash-sequence-system.evtx", "sample-with-zero-data-size-event.evtx"} {
			if b, err := os.ReadFile(filepath.Join(root, "evtx", name)); err == nil && len(b) >= fileHeaderSize+chunkSize {
				f.Add(b[:fileHeaderSize+chunkSize])
			}
		}
	}
	f.Add(buildFile(goodChunk(1, 3)))
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := NewFile(bytes.NewReader(b), int64(len(b)), "fuzz.evtx")
		if err != nil {
			return
		}
		it := fl.Records()
		for it.Next() {
			e := it.Event()
			_ = e.Field("x")
			for _, d := range e.Data {
				_ = d.Value.String()
			}
		}
	})
}

// BenchmarkCorpus reads every record of the 1.1 MB crash-sequence System
// log.
func BenchmarkCorpus(b *testing.B) {
	p := corpus.Path(b, "evtx", "crash-sequence-system.evtx")
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := NewFile(bytes.NewReader(data), int64(len(data)), "bench")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		it := f.Records()
		for it.Next() {
			n++
		}
		if n != 1601 {
			b.Fatalf("%d records", n)
		}
	}
}

// TestFields spot-checks fields of other real logs: Security (SIDs,
// hex64), Application without checksums (classic string arrays, binary),
// GroupPolicy (booleans).
func TestFields(t *testing.T) {
	cases := []struct {
		file, provider string
		record         uint64
		eventID        uint16
		field, want    string
	}{
		{"new-user-security.evtx", "Microsoft-Windows-Security-Auditing", 2, 4720, "TargetSid", "S-1-5-21-3463664321-2923530833-3546627382-1000"},
		{"new-user-security.evtx", "Microsoft-Windows-Security-Auditing", 2, 4720, "SubjectLogonId", "0x00000000000003e7"},
		{"new-user-security.evtx", "Microsoft-Windows-Security-Auditing", 3, 4732, "TargetSid", "S-1-5-32-545"},
		{"Application_no_crc32.evtx", "SecurityCenter", 427, 15, "Data[1]", "SECURITY_PRODUCT_STATE_ON"},
		{"Application_no_crc32.evtx", "Microsoft-Windows-Winlogon", 428, 6000, "Binary", "D9060000"},
		{"sample-with-irregular-bool-values.evtx", "Microsoft-Windows-GroupPolicy", 2, 4115, "IsMachineBoot", "true"},
		{"system.evtx", "Service Control Manager", 45, 7045, "ImagePath", `\SystemRoot\System32\drivers\WUDFRd.sys`},
	}
	for _, c := range cases {
		f := openCorpus(t, c.file, Options{})
		var e *Event
		for _, ev := range readAll(t, f) {
			if ev.RecordID == c.record {
				e = ev
			}
		}
		if e == nil || e.Provider != c.provider || e.EventID != c.eventID || e.Field(c.field) != c.want {
			t.Errorf("%s record %d: %+v, want %s %d %s=%q", c.file, c.record, e, c.provider, c.eventID, c.field, c.want)
		}
	}
}

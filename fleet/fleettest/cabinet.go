package fleettest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
)

// Member is a file to pack into a cabinet.
type Member struct {
	Name string // with backslashes for folders, as cabinets store it
	Data []byte
}

// Cabinet packs members into one folder of a Microsoft Cabinet ([MS-CAB]),
// stored or MSZIP-compressed, the way Windows Error Reporting packs a
// crash report. Data checksums are left zero ("not computed").
func Cabinet(members []Member, mszip bool) []byte {
	var all []byte
	for _, m := range members {
		all = append(all, m.Data...)
	}
	// CFDATA blocks of at most 32 KiB of output each.
	var blocks [][2][]byte // stored bytes, uncompressed bytes
	var hist []byte
	for off := 0; off < len(all) || off == 0; off += 0x8000 {
		chunk := all[off:min(off+0x8000, len(all))]
		stored := chunk
		if mszip {
			// Each block is "CK" and a deflate stream whose dictionary
			// is the previous block's output.
			var b bytes.Buffer
			b.WriteString("CK")
			fw, _ := flate.NewWriterDict(&b, flate.BestSpeed, hist)
			fw.Write(chunk)
			fw.Close()
			stored = b.Bytes()
			hist = chunk
		}
		blocks = append(blocks, [2][]byte{stored, chunk})
		if len(all) == 0 {
			break
		}
	}
	le := binary.LittleEndian
	const hdr, folder = 36, 8
	files := 0
	for _, m := range members {
		files += 16 + len(m.Name) + 1
	}
	dataOff := hdr + folder + files
	size := dataOff
	for _, b := range blocks {
		size += 8 + len(b[0])
	}
	out := make([]byte, 0, size)
	out = append(out, "MSCF"...)
	out = le.AppendUint32(out, 0)
	out = le.AppendUint32(out, uint32(size))
	out = le.AppendUint32(out, 0)
	out = le.AppendUint32(out, hdr+folder) // coffFiles
	out = le.AppendUint32(out, 0)
	out = append(out, 3, 1) // version 1.3
	out = le.AppendUint16(out, 1)
	out = le.AppendUint16(out, uint16(len(members)))
	out = le.AppendUint16(out, 0) // flags
	out = le.AppendUint16(out, 0x1234)
	out = le.AppendUint16(out, 0)
	// CFFOLDER
	out = le.AppendUint32(out, uint32(dataOff))
	out = le.AppendUint16(out, uint16(len(blocks)))
	comp := uint16(0)
	if mszip {
		comp = 1
	}
	out = le.AppendUint16(out, comp)
	// CFFILE entries
	at := 0
	for _, m := range members {
		out = le.AppendUint32(out, uint32(len(m.Data)))
		out = le.AppendUint32(out, uint32(at))
		out = le.AppendUint16(out, 0)
		out = le.AppendUint16(out, 0x5c6e) // 2026-03-14
		out = le.AppendUint16(out, 0x4b3a) // 09:25:52
		out = le.AppendUint16(out, 0x20)   // archive
		out = append(out, m.Name...)
		out = append(out, 0)
		at += len(m.Data)
	}
	// CFDATA blocks
	for _, b := range blocks {
		out = le.AppendUint32(out, 0)
		out = le.AppendUint16(out, uint16(len(b[0])))
		out = le.AppendUint16(out, uint16(len(b[1])))
		out = append(out, b[0]...)
	}
	return out
}

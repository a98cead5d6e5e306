package analyze

import (
	"bytes"
	"encoding/binary"

	"github.com/bugcheck/bugcheck/ntoffsets"
)

// processContext reads the current process's image name and the thread
// and process IDs from the blobs a triage dump carries, where the build's
// field offsets are known and the values look right.
func (a *analysis) processContext() {
	t := a.f.Triage
	if t == nil {
		return
	}
	off, ok := ntoffsets.For(a.arch, a.f.Header.MinorVersion)
	if !ok {
		return
	}
	le := binary.LittleEndian
	var proc Process
	if pb, err := a.f.BlobBytes(t.Process); err == nil && off.EprocessImageFileName > 0 && off.EprocessImageFileName+15 <= len(pb) {
		proc.Name = imageName(pb[off.EprocessImageFileName : off.EprocessImageFileName+15])
	}
	if tb, err := a.f.BlobBytes(t.Thread); err == nil {
		if o := off.KthreadProcess; o > 0 && o+8 <= len(tb) {
			if p := le.Uint64(tb[o:]); p >= 0xffff800000000000 {
				proc.Address = a.ptrHex(p)
			}
		}
		if o := off.EthreadCid; o > 0 && o+16 <= len(tb) {
			pid, tid := le.Uint64(tb[o:]), le.Uint64(tb[o+8:])
			if pid%4 == 0 && tid%4 == 0 && pid < 1<<24 && tid < 1<<24 && tid != 0 {
				proc.ID = pid
				if a.r.Thread != nil {
					a.r.Thread.ID = tid
				}
			}
		}
	}
	if proc.Name != "" {
		a.r.Process = &proc
	}
}

// imageName returns the NUL-terminated ASCII name in b, or "" when b does
// not hold one (a wrong offset for this build).
func imageName(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return ""
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return ""
		}
	}
	return string(b)
}

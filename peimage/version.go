package peimage

import (
	"fmt"
	"unicode/utf16"
)

// VersionInfo is the image's version resource.
type VersionInfo struct {
	FileVersion    string            // from the fixed part, e.g. "4.18.1906.3"
	ProductVersion string            // from the fixed part
	Strings        map[string]string // StringFileInfo: CompanyName, FileDescription, FileVersion, ProductName, ...
}

// Version reads the first RT_VERSION resource.
func (f *File) Version() (*VersionInfo, error) {
	root, size, err := f.Directory(DirResource)
	if err != nil {
		return nil, err
	}
	// Three levels: type (16 = RT_VERSION), name, language.
	dir := uint32(0)
	id := uint32(16)
	for level := 0; level < 3; level++ {
		next, isDir, err := f.resourceEntry(root, size, dir, id)
		if err != nil {
			return nil, err
		}
		if isDir != (level < 2) { // type and name levels hold directories, the language level data
			return nil, f.errf(root+dir, "unexpected version resource tree shape")
		}
		dir, id = next, 0xffffffff // below the type level, take the first entry
	}
	// dir now points at an IMAGE_RESOURCE_DATA_ENTRY.
	de, err := f.ReadRVA(root+dir, 16)
	if err != nil {
		return nil, err
	}
	drva, dsize := le.Uint32(de), le.Uint32(de[4:])
	if dsize < 6 || dsize > 1<<20 {
		return nil, f.errf(drva, "version resource of %d bytes", dsize)
	}
	data, err := f.ReadRVA(drva, int(dsize))
	if err != nil {
		return nil, err
	}
	vi := &VersionInfo{Strings: map[string]string{}}
	if err := parseVersionNode(data, vi, 0); err != nil {
		return nil, f.errf(drva, "%v", err)
	}
	return vi, nil
}

// resourceEntry finds, in the resource directory at dir (relative to the
// resource root), the entry with the given ID, or the first entry when id
// is 0xffffffff. It returns the entry's target and whether it is a
// subdirectory.
func (f *File) resourceEntry(root, size, dir, id uint32) (uint32, bool, error) {
	if dir+16 > size {
		return 0, false, f.errf(root+dir, "resource directory outside the resource section")
	}
	h, err := f.ReadRVA(root+dir, 16)
	if err != nil {
		return 0, false, err
	}
	n := uint32(le.Uint16(h[12:])) + uint32(le.Uint16(h[14:]))
	if dir+16+8*n > size {
		return 0, false, f.errf(root+dir, "resource directory with %d entries overflows its section", n)
	}
	entries, err := f.ReadRVA(root+dir+16, int(8*n))
	if err != nil {
		return 0, false, err
	}
	for i := uint32(0); i < n; i++ {
		name, off := le.Uint32(entries[8*i:]), le.Uint32(entries[8*i+4:])
		if id != 0xffffffff && (name&0x80000000 != 0 || name != id) {
			continue
		}
		return off &^ 0x80000000, off&0x80000000 != 0, nil
	}
	return 0, false, ErrNoDirectory
}

// parseVersionNode walks a VS_VERSIONINFO-style node: length, value
// length, type, UTF-16 key, value, then children, each 4-byte aligned.
func parseVersionNode(b []byte, vi *VersionInfo, depth int) error {
	if depth > 4 {
		return fmt.Errorf("version resource nested too deep")
	}
	if len(b) < 6 {
		return fmt.Errorf("version node of %d bytes", len(b))
	}
	length, valueLen, typ := int(le.Uint16(b)), int(le.Uint16(b[2:])), le.Uint16(b[4:])
	if length < 6 || length > len(b) {
		return fmt.Errorf("version node length %d exceeds its %d bytes", length, len(b))
	}
	b = b[:length]
	key, pos := utf16z(b[6:])
	pos = align4(6 + pos)
	valueBytes := valueLen
	if typ == 1 { // text: the length counts UTF-16 characters
		valueBytes = 2 * valueLen
	}
	if pos+valueBytes > len(b) {
		valueBytes = max(0, len(b)-pos)
	}
	value := b[pos : pos+valueBytes]
	switch {
	case key == "VS_VERSION_INFO" && len(value) >= 52 && le.Uint32(value) == 0xfeef04bd:
		vi.FileVersion = fourPart(le.Uint32(value[8:]), le.Uint32(value[12:]))
		vi.ProductVersion = fourPart(le.Uint32(value[16:]), le.Uint32(value[20:]))
	case depth == 3 && typ == 1:
		s, _ := utf16z(value)
		vi.Strings[key] = s
	}
	pos = align4(pos + valueBytes)
	for pos+6 <= len(b) {
		cl := int(le.Uint16(b[pos:]))
		if cl == 0 {
			break
		}
		if pos+cl > len(b) {
			cl = len(b) - pos
		}
		if err := parseVersionNode(b[pos:pos+cl], vi, depth+1); err != nil {
			return err
		}
		pos = align4(pos + cl)
	}
	return nil
}

func fourPart(ms, ls uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", ms>>16, ms&0xffff, ls>>16, ls&0xffff)
}

func align4(n int) int { return (n + 3) &^ 3 }

// utf16z decodes a NUL-terminated UTF-16 string and returns it with the
// number of bytes consumed, terminator included.
func utf16z(b []byte) (string, int) {
	var u []uint16
	i := 0
	for ; i+1 < len(b); i += 2 {
		c := le.Uint16(b[i:])
		if c == 0 {
			return string(utf16.Decode(u)), i + 2
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u)), i
}

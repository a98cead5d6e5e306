package evtx

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// ValueType is the type byte of a binary XML value.
type ValueType uint8

// Value types. ArrayFlag marks an array of the base type.
const (
	TypeNull       ValueType = 0x00
	TypeString     ValueType = 0x01 // UTF-16
	TypeANSIString ValueType = 0x02
	TypeInt8       ValueType = 0x03
	TypeUint8      ValueType = 0x04
	TypeInt16      ValueType = 0x05
	TypeUint16     ValueType = 0x06
	TypeInt32      ValueType = 0x07
	TypeUint32     ValueType = 0x08
	TypeInt64      ValueType = 0x09
	TypeUint64     ValueType = 0x0a
	TypeReal32     ValueType = 0x0b
	TypeReal64     ValueType = 0x0c
	TypeBool       ValueType = 0x0d
	TypeBinary     ValueType = 0x0e
	TypeGUID       ValueType = 0x0f
	TypeSizeT      ValueType = 0x10
	TypeFileTime   ValueType = 0x11
	TypeSystemTime ValueType = 0x12
	TypeSID        ValueType = 0x13
	TypeHex32      ValueType = 0x14
	TypeHex64      ValueType = 0x15
	TypeEvtHandle  ValueType = 0x20
	TypeBinXML     ValueType = 0x21
	TypeEvtXML     ValueType = 0x23
	ArrayFlag      ValueType = 0x80
)

// Value is one typed value of an event: an element's text or an attribute.
// Exactly the field that matches Type is set.
type Value struct {
	Type  ValueType
	Str   string    // strings, GUID, SID
	Int   int64     // signed integers
	Uint  uint64    // unsigned integers, hex, size_t, bool (0/1)
	Float float64   // reals
	Bytes []byte    // binary
	Time  time.Time // FILETIME, SYSTEMTIME
	Array []Value   // arrays (Type has ArrayFlag set)
}

// String renders the value the way Windows' XML rendering of an event does.
func (v Value) String() string {
	if v.Type&ArrayFlag != 0 {
		parts := make([]string, len(v.Array))
		for i, e := range v.Array {
			parts[i] = e.String()
		}
		return strings.Join(parts, ", ")
	}
	switch v.Type {
	case TypeNull:
		return ""
	case TypeString, TypeANSIString, TypeGUID, TypeSID:
		return v.Str
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		return strconv.FormatInt(v.Int, 10)
	case TypeUint8, TypeUint16, TypeUint32, TypeUint64:
		return strconv.FormatUint(v.Uint, 10)
	case TypeHex32, TypeSizeT:
		return fmt.Sprintf("0x%x", v.Uint)
	case TypeHex64:
		return fmt.Sprintf("0x%016x", v.Uint)
	case TypeReal32, TypeReal64:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case TypeBool:
		if v.Uint != 0 {
			return "true"
		}
		return "false"
	case TypeBinary, TypeEvtHandle, TypeEvtXML:
		return strings.ToUpper(fmt.Sprintf("%x", v.Bytes))
	case TypeFileTime, TypeSystemTime:
		if v.Time.IsZero() {
			return ""
		}
		return v.Time.UTC().Format("2006-01-02T15:04:05.0000000Z")
	}
	return v.Str
}

// fileTimeEpoch is 1601-01-01 in Unix seconds.
const fileTimeEpoch = 11644473600

// FileTime converts a Windows FILETIME (100 ns ticks since 1601) to UTC.
// Zero stays the zero time.
func FileTime(ft uint64) time.Time {
	if ft == 0 {
		return time.Time{}
	}
	return time.Unix(int64(ft/1e7)-fileTimeEpoch, int64(ft%1e7)*100).UTC()
}

func utf16String(b []byte) string {
	n := len(b) / 2
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u))
}

// ansiString decodes bytes as Latin-1, the only code page we can assume
// without the writer's locale.
func ansiString(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("{%08X-%04X-%04X-%X-%X}", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

func sidString(b []byte) (string, bool) {
	if len(b) < 8 {
		return "", false
	}
	n := int(b[1])
	if 8+4*n > len(b) {
		return "", false
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-%d-%d", b[0], auth)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return sb.String(), true
}

func systemTime(b []byte) time.Time {
	le := binary.LittleEndian
	y, mo, d := int(le.Uint16(b)), int(le.Uint16(b[2:])), int(le.Uint16(b[6:]))
	if y == 0 && mo == 0 && d == 0 {
		return time.Time{}
	}
	return time.Date(y, time.Month(mo), d, int(le.Uint16(b[8:])), int(le.Uint16(b[10:])), int(le.Uint16(b[12:])), int(le.Uint16(b[14:]))*1e6, time.UTC)
}

// fixedSize is the size of one element of a fixed-size type, 0 otherwise.
func fixedSize(t ValueType) int {
	switch t {
	case TypeInt8, TypeUint8:
		return 1
	case TypeInt16, TypeUint16:
		return 2
	case TypeInt32, TypeUint32, TypeReal32, TypeBool, TypeHex32:
		return 4
	case TypeInt64, TypeUint64, TypeReal64, TypeFileTime, TypeHex64:
		return 8
	case TypeGUID, TypeSystemTime:
		return 16
	}
	return 0
}

// decodeValue decodes a substitution value of type t held in b (its whole
// declared size). BinXML values are handled by the caller.
func decodeValue(t ValueType, b []byte) (Value, error) {
	if t&ArrayFlag != 0 {
		return decodeArray(t, b)
	}
	v := Value{Type: t}
	le := binary.LittleEndian
	need := fixedSize(t)
	if need > 0 && len(b) < need {
		return v, fmt.Errorf("value of type %#x needs %d bytes, has %d", uint8(t), need, len(b))
	}
	switch t {
	case TypeNull:
	case TypeString:
		v.Str = utf16String(b)
	case TypeANSIString:
		v.Str = ansiString(b)
	case TypeInt8:
		v.Int = int64(int8(b[0]))
	case TypeUint8:
		v.Uint = uint64(b[0])
	case TypeInt16:
		v.Int = int64(int16(le.Uint16(b)))
	case TypeUint16:
		v.Uint = uint64(le.Uint16(b))
	case TypeInt32:
		v.Int = int64(int32(le.Uint32(b)))
	case TypeUint32, TypeHex32:
		v.Uint = uint64(le.Uint32(b))
	case TypeInt64:
		v.Int = int64(le.Uint64(b))
	case TypeUint64, TypeHex64:
		v.Uint = le.Uint64(b)
	case TypeReal32:
		v.Float = float64(math.Float32frombits(le.Uint32(b)))
	case TypeReal64:
		v.Float = math.Float64frombits(le.Uint64(b))
	case TypeBool:
		// Some writers store values other than 0 and 1; anything non-zero is true.
		if le.Uint32(b) != 0 {
			v.Uint = 1
		}
	case TypeBinary, TypeEvtHandle, TypeEvtXML:
		v.Bytes = append([]byte(nil), b...)
	case TypeGUID:
		v.Str = guidString(b)
	case TypeSizeT:
		switch {
		case len(b) >= 8:
			v.Uint = le.Uint64(b)
		case len(b) >= 4:
			v.Uint = uint64(le.Uint32(b))
		default:
			return v, fmt.Errorf("size_t value of %d bytes", len(b))
		}
	case TypeFileTime:
		v.Time = FileTime(le.Uint64(b))
	case TypeSystemTime:
		v.Time = systemTime(b)
	case TypeSID:
		s, ok := sidString(b)
		if !ok {
			return v, fmt.Errorf("malformed SID of %d bytes", len(b))
		}
		v.Str = s
	default:
		return v, fmt.Errorf("unknown value type %#x", uint8(t))
	}
	return v, nil
}

func decodeArray(t ValueType, b []byte) (Value, error) {
	base := t &^ ArrayFlag
	v := Value{Type: t}
	switch base {
	case TypeString:
		// NUL-terminated UTF-16 strings back to back.
		start := 0
		for i := 0; i+1 < len(b); i += 2 {
			if b[i] == 0 && b[i+1] == 0 {
				v.Array = append(v.Array, Value{Type: base, Str: utf16String(b[start:i])})
				start = i + 2
			}
		}
		if start+1 < len(b) {
			v.Array = append(v.Array, Value{Type: base, Str: utf16String(b[start:])})
		}
		return v, nil
	case TypeANSIString:
		for _, s := range strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") {
			v.Array = append(v.Array, Value{Type: base, Str: ansiString([]byte(s))})
		}
		return v, nil
	}
	n := fixedSize(base)
	if base == TypeSizeT {
		n = 8
		if len(b)%8 != 0 {
			n = 4
		}
	}
	if base == TypeSID {
		for len(b) >= 8 {
			sz := 8 + 4*int(b[1])
			if sz > len(b) {
				break
			}
			e, err := decodeValue(base, b[:sz])
			if err != nil {
				return v, err
			}
			v.Array = append(v.Array, e)
			b = b[sz:]
		}
		return v, nil
	}
	if n == 0 {
		return v, fmt.Errorf("array of unsupported value type %#x", uint8(base))
	}
	for len(b) >= n {
		e, err := decodeValue(base, b[:n])
		if err != nil {
			return v, err
		}
		v.Array = append(v.Array, e)
		b = b[n:]
	}
	return v, nil
}

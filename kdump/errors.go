package kdump

import "fmt"

// FormatError reports malformed dump data at a known file offset.
type FormatError struct {
	File   string // file name, when known
	Offset int64  // file offset of the bad data
	Msg    string // what is wrong
}

func (e *FormatError) Error() string {
	name := e.File
	if name == "" {
		name = "dump"
	}
	return fmt.Sprintf("%s: offset %#x: %s", name, e.Offset, e.Msg)
}

// ErrNotDump is wrapped by the error returned for files that are not kernel
// crash dumps at all.
var ErrNotDump = fmt.Errorf("not a Windows kernel crash dump")

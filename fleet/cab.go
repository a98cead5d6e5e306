package fleet

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bugcheck/bugcheck/cab"
)

// cab enumerates the dumps of a Microsoft Cabinet, as Windows Error
// Reporting packs a crash for upload: the minidump next to XML and text
// files. Members are decompressed into memory one at a time by whichever
// worker takes them.
func (w *walker) cab(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return w.fail(p, unwrapPath(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return w.fail(p, err)
	}
	cr, err := cab.NewReader(f, st.Size(), filepath.Base(p))
	if err != nil {
		f.Close()
		return w.fail(p, fmt.Errorf("reading cabinet: %w", err))
	}
	sh := &sharedFile{f: f}
	sh.refs.Store(1)
	defer sh.release()
	for _, cf := range cr.Files() {
		member := strings.ReplaceAll(cf.Name, `\`, "/") // cabinets name folders with backslashes
		if kindOf(member) != kindDump {
			continue
		}
		dir := p
		if d := path.Dir(member); d != "." && d != "/" {
			dir = p + "!" + d
		}
		sh.refs.Add(1)
		in := input{name: p + "!" + member, base: path.Base(member), dir: dir, machine: memberMachine(p, member), release: sh.release,
			open: func() (*content, error) {
				rd, err := cr.Open(cf)
				if err != nil {
					return nil, fmt.Errorf("cabinet member: %w", err)
				}
				return readLimited(rd, w.maxInflate, "cabinet")
			}}
		if err := w.emit(in); err != nil {
			return err
		}
	}
	return nil
}

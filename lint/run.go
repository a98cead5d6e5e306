package lint

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// FileResult is the outcome of linting one file.
type FileResult struct {
	Path       string    `json:"file"`
	Lines      int       `json:"lines"`
	Functions  int       `json:"functions"`
	Nodes      int       `json:"syntax_nodes"`
	ErrorNodes int       `json:"error_nodes"`
	ErrorShare float64   `json:"error_share"` // parse quality: share of nodes the grammar could not place
	Findings   []Finding `json:"findings"`
	Err        string    `json:"error,omitempty"`
}

// Linter lints files with one reusable parser. It is not safe for
// concurrent use; Close frees the parser.
type Linter struct {
	p *csrc.Parser
}

// New returns a linter with the default C front end (csrc.DefaultFrontEnd,
// the pure-Go parser, available in every build).
func New() (*Linter, error) { return NewWith(csrc.DefaultFrontEnd) }

// NewWith returns a linter with the named C front end: csrc.FrontEndGo or
// csrc.FrontEndTreeSitter ("" is the default). The tree-sitter front end
// gives csrc.ErrNoFrontEnd in builds without cgo.
func NewWith(frontEnd string) (*Linter, error) {
	p, err := csrc.NewParserFor(frontEnd)
	if err != nil {
		return nil, err
	}
	return &Linter{p: p}, nil
}

// Close frees the parser.
func (l *Linter) Close() { l.p.Close() }

// Source lints one file's text.
func (l *Linter) Source(path string, src []byte) FileResult {
	r := FileResult{Path: path}
	f, err := l.p.Parse(path, src)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Lines, r.Functions, r.Nodes, r.ErrorNodes, r.ErrorShare = f.Lines, len(f.Funcs), f.Nodes, f.ErrorNodes, f.ErrorShare()
	r.Findings = Check(f)
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return r
}

// Files lints files on disk. The headers (*.h) of each directory are
// parsed first and their declarations (role typedefs such as
// "DRIVER_DISPATCH Foo;", annotated prototypes, #pragma alloc_text
// placements, globals) are shared with the sources of the same
// directory, as the compiler would see them through #include. Results
// come back in the order of paths.
func (l *Linter) Files(paths []string) []FileResult {
	results := make([]FileResult, len(paths))
	byDir := map[string][]int{}
	var dirs []string
	for i, p := range paths {
		d := filepath.Dir(p)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], i)
	}
	for _, d := range dirs {
		var headers []*csrc.File
		for _, i := range byDir[d] {
			if isHeader(paths[i]) {
				f, r := l.parse(paths[i])
				if f != nil {
					headers = append(headers, f)
					r.Findings = checked(f)
				}
				results[i] = r
			}
		}
		for _, i := range byDir[d] {
			if isHeader(paths[i]) {
				continue
			}
			f, r := l.parse(paths[i])
			if f != nil {
				for _, h := range headers {
					shareFacts(f, h)
				}
				r.Findings = checked(f)
			}
			results[i] = r
		}
	}
	return results
}

func isHeader(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".h", ".hpp":
		return true
	}
	return false
}

// parse reads and parses one file; the result carries the error or the
// parse quality.
func (l *Linter) parse(path string) (*csrc.File, FileResult) {
	r := FileResult{Path: path, Findings: []Finding{}}
	st, err := os.Stat(path)
	if err == nil && st.Size() > csrc.MaxSource {
		r.Err = (&csrc.Error{Path: path, Msg: "too large for a source file"}).Error()
		return nil, r
	}
	src, err := os.ReadFile(path)
	if err != nil {
		r.Err = err.Error()
		return nil, r
	}
	f, err := l.p.Parse(path, src)
	if err != nil {
		r.Err = err.Error()
		return nil, r
	}
	r.Lines, r.Functions, r.Nodes, r.ErrorNodes, r.ErrorShare = f.Lines, len(f.Funcs), f.Nodes, f.ErrorNodes, f.ErrorShare()
	return f, r
}

func checked(f *csrc.File) []Finding {
	fs := Check(f)
	if fs == nil {
		fs = []Finding{}
	}
	return fs
}

// shareFacts adds a header's declarations to a source file's model.
func shareFacts(f, h *csrc.File) {
	for name, role := range h.Roles {
		if _, ok := f.Roles[name]; !ok {
			f.Roles[name] = role
		}
	}
	for name, sec := range h.Sections {
		if _, ok := f.Sections[name]; !ok {
			f.Sections[name] = sec
		}
	}
	have := map[string]bool{}
	for _, p := range f.Protos {
		have[p.Name] = true
	}
	for _, p := range h.Protos {
		if !have[p.Name] {
			f.Protos = append(f.Protos, p)
			have[p.Name] = true
		}
	}
	for _, g := range h.Globals {
		if f.Global(g.Name) == nil {
			f.Globals = append(f.Globals, g)
		}
	}
}

// File lints a file on disk.
func (l *Linter) File(path string) FileResult {
	st, err := os.Stat(path)
	if err == nil && st.Size() > csrc.MaxSource {
		return FileResult{Path: path, Err: (&csrc.Error{Path: path, Msg: "too large for a source file"}).Error()}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return FileResult{Path: path, Err: err.Error()}
	}
	return l.Source(path, src)
}

// IsSource reports whether a path names a C or C++ source or header.
func IsSource(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".c", ".cpp", ".cc", ".cxx", ".h", ".hpp":
		return true
	}
	return false
}

// Expand turns files and directories into the source files to lint:
// directories are walked recursively for *.c, *.cpp and *.h. Files named
// explicitly are kept whatever their extension.
func Expand(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Type().IsRegular() && IsSource(path) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

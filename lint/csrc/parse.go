package csrc

import (
	"bytes"
	"fmt"
	"sort"
)

// MaxSource is the largest source file Parse accepts.
const MaxSource = 16 << 20

// Error is a failure to parse one source file.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// The front ends NewParserFor accepts.
const (
	// FrontEndGo is the pure-Go recursive-descent parser (goparse.go),
	// available in every build.
	FrontEndGo = "go"
	// FrontEndTreeSitter is tree-sitter's C grammar, available in cgo
	// builds only.
	FrontEndTreeSitter = "tree-sitter"
)

// frontEnd turns prepared text into a syntax tree, returning the count
// of nodes and of nodes in or under errors.
type frontEnd interface {
	parse(src []byte) (root *Node, nodes, errNodes int, err error)
	close()
}

// Parser parses C sources into the model. It must be closed (the
// tree-sitter front end holds C memory); it is not safe for concurrent
// use.
type Parser struct {
	fe    frontEnd
	spare pools  // what one file leaves for the next
	buf   []byte // the prepared text of the last file
}

// keepPrepared bounds the prepared-text buffer a Parser keeps.
const keepPrepared = 4 << 20

// NewParser returns a parser with the default front end
// (DefaultFrontEnd), or ErrNoFrontEnd when this build lacks it.
func NewParser() (*Parser, error) { return NewParserFor(DefaultFrontEnd) }

// NewParserFor returns a parser with the named front end (FrontEndGo or
// FrontEndTreeSitter; "" is DefaultFrontEnd). The tree-sitter front end
// in a build without cgo gives ErrNoFrontEnd.
func NewParserFor(name string) (*Parser, error) {
	switch name {
	case "":
		return NewParserFor(DefaultFrontEnd)
	case FrontEndGo:
		return &Parser{fe: newGoParser()}, nil
	case FrontEndTreeSitter:
		tp, err := newTreeParser()
		if err != nil {
			return nil, err
		}
		return &Parser{fe: tp}, nil
	}
	return nil, fmt.Errorf("unknown C front end %q (%s or %s)", name, FrontEndGo, FrontEndTreeSitter)
}

// Close frees the parser.
func (p *Parser) Close() {
	if p != nil && p.fe != nil {
		p.fe.close()
		p.fe = nil
	}
}

// Parse builds the model of one source file. Syntax errors do not fail
// the parse: what the grammar could not place is counted in
// File.ErrorNodes and the rest is kept.
func (p *Parser) Parse(path string, src []byte) (*File, error) {
	if p == nil || p.fe == nil {
		return nil, ErrNoFrontEnd
	}
	if len(src) > MaxSource {
		return nil, &Error{path, fmt.Sprintf("%d bytes is larger than the %d-byte limit for a source file", len(src), MaxSource)}
	}
	// The prepared text is needed only while parsing (the model keeps the
	// original), so one buffer serves every file.
	prepared, annots, pragmas := prepare(p.buf, src)
	if cap(prepared) <= keepPrepared {
		p.buf = prepared
	}
	b := newBuilder(path, src, prepared, annots, pragmas, &p.spare)
	if gp, ok := p.fe.(*goParser); ok {
		gp.b = b // the Go front end makes the expressions itself
		defer func() { gp.b = nil }()
	}
	root, total, bad, err := p.fe.parse(prepared)
	if err != nil {
		return nil, &Error{path, err.Error()}
	}
	f := b.finish(root, total, bad)
	if gp, ok := p.fe.(*goParser); ok {
		// The tree is garbage now; clearing it at once, not at the next
		// parse, keeps the parser from holding this model (its nodes carry
		// expressions) for the collector to scan meanwhile.
		gp.recycle()
	}
	return f, nil
}

// Build assembles the model from a syntax tree of the prepared text;
// Parse calls it, and tests may call it with trees of their own.
func Build(path string, src, prepared []byte, root *Node, nodes, errNodes int, annots []Annotation, pragmas []Pragma) *File {
	return newBuilder(path, src, prepared, annots, pragmas, &pools{}).finish(root, nodes, errNodes)
}

func newBuilder(path string, src, prepared []byte, annots []Annotation, pragmas []Pragma, pool *pools) *builder {
	f := &File{
		Path: path, Src: src, Lines: countLines(src),
		Roles: map[string]Role{}, Sections: map[string]string{},
		Pragmas: pragmas, Annotations: annots,
	}
	sorted := sort.SliceIsSorted(annots, func(i, j int) bool { return annots[i].Pos.Off < annots[j].Pos.Off })
	return &builder{f: f, src: prepared, annots: annots, annotsSorted: sorted, pool: pool, left: len(prepared)}
}

// finish builds the model from the tree rooted at root (nil: none).
func (b *builder) finish(root *Node, nodes, errNodes int) *File {
	f := b.f
	f.Nodes, f.ErrorNodes = nodes, errNodes
	if root != nil {
		b.build(root)
		// One array holds every function's expression list.
		all := make([]*Expr, 0, b.exprs)
		for _, fn := range f.Funcs {
			start := len(all)
			all = appendExprs(all, fn.Body)
			fn.exprs = all[start:len(all):len(all)]
		}
	}
	return f
}

func countLines(src []byte) int {
	n := bytes.Count(src, []byte{'\n'})
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	return n
}

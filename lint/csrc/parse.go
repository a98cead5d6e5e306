package csrc

import (
	"fmt"
)

// MaxSource is the largest source file Parse accepts.
const MaxSource = 16 << 20

// Error is a failure to parse one source file.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// Parser parses C sources into the model. It holds a tree-sitter parser
// (C memory) and must be closed; it is not safe for concurrent use.
type Parser struct {
	tp *treeParser
}

// NewParser returns a parser, or ErrNoFrontEnd in builds without cgo.
func NewParser() (*Parser, error) {
	tp, err := newTreeParser()
	if err != nil {
		return nil, err
	}
	return &Parser{tp: tp}, nil
}

// Close frees the parser.
func (p *Parser) Close() {
	if p != nil && p.tp != nil {
		p.tp.close()
		p.tp = nil
	}
}

// Parse builds the model of one source file. Syntax errors do not fail
// the parse: what the grammar could not place is counted in
// File.ErrorNodes and the rest is kept.
func (p *Parser) Parse(path string, src []byte) (*File, error) {
	if p == nil || p.tp == nil {
		return nil, ErrNoFrontEnd
	}
	if len(src) > MaxSource {
		return nil, &Error{path, fmt.Sprintf("%d bytes is larger than the %d-byte limit for a source file", len(src), MaxSource)}
	}
	prepared, annots, pragmas := Prepare(src)
	root, total, bad, err := p.tp.parse(prepared)
	if err != nil {
		return nil, &Error{path, err.Error()}
	}
	return Build(path, src, prepared, root, total, bad, annots, pragmas), nil
}

// Build assembles the model from a syntax tree of the prepared text;
// Parse calls it, and tests may call it with trees of their own.
func Build(path string, src, prepared []byte, root *Node, nodes, errNodes int, annots []Annotation, pragmas []Pragma) *File {
	f := &File{
		Path: path, Src: src, Lines: countLines(src),
		Roles: map[string]Role{}, Sections: map[string]string{},
		Pragmas: pragmas, Annotations: annots,
		Nodes: nodes, ErrorNodes: errNodes,
	}
	if root != nil {
		b := &builder{f: f, src: prepared, annots: annots}
		b.build(root)
	}
	return f
}

func countLines(src []byte) int {
	n := 0
	for _, c := range src {
		if c == '\n' {
			n++
		}
	}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	return n
}

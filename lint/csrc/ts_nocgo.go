//go:build !cgo

package csrc

// HasTreeSitter reports whether this build links tree-sitter's C grammar
// (it was built with cgo), the FrontEndTreeSitter front end.
const HasTreeSitter = false

type treeParser struct{}

func newTreeParser() (*treeParser, error) { return nil, ErrNoFrontEnd }

func (tp *treeParser) close() {}

func (tp *treeParser) parse([]byte) (*Node, int, int, error) {
	return nil, 0, 0, ErrNoFrontEnd
}

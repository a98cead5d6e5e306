//go:build !cgo

package csrc

// HasFrontEnd reports whether this build can parse C (it was built with
// cgo and links tree-sitter's C grammar).
const HasFrontEnd = false

type treeParser struct{}

func newTreeParser() (*treeParser, error) { return nil, ErrNoFrontEnd }

func (tp *treeParser) close() {}

func (tp *treeParser) parse([]byte) (*Node, int, int, error) {
	return nil, 0, 0, ErrNoFrontEnd
}

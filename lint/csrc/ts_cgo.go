//go:build cgo

package csrc

/*
#include <stdint.h>
#include <stdlib.h>
#include <stdbool.h>

// Declarations of the tree-sitter core API (tree_sitter/api.h, v0.25),
// which github.com/tree-sitter/go-tree-sitter compiles and links.
typedef struct TSParser TSParser;
typedef struct TSTree TSTree;
typedef struct TSLanguage TSLanguage;
typedef struct { uint32_t row, column; } TSPoint;
typedef struct { uint32_t context[4]; const void *id; const TSTree *tree; } TSNode;
typedef struct { const void *tree; const void *id; uint32_t context[3]; } TSTreeCursor;
TSParser *ts_parser_new(void);
void ts_parser_delete(TSParser *);
bool ts_parser_set_language(TSParser *, const TSLanguage *);
TSTree *ts_parser_parse_string(TSParser *, const TSTree *, const char *, uint32_t);
void ts_tree_delete(TSTree *);
TSNode ts_tree_root_node(const TSTree *);
uint32_t ts_node_descendant_count(TSNode);
uint16_t ts_node_symbol(TSNode);
uint32_t ts_node_start_byte(TSNode);
uint32_t ts_node_end_byte(TSNode);
TSPoint ts_node_start_point(TSNode);
bool ts_node_is_named(TSNode);
bool ts_node_is_missing(TSNode);
bool ts_node_is_error(TSNode);
TSTreeCursor ts_tree_cursor_new(TSNode);
void ts_tree_cursor_delete(TSTreeCursor *);
TSNode ts_tree_cursor_current_node(const TSTreeCursor *);
uint16_t ts_tree_cursor_current_field_id(const TSTreeCursor *);
bool ts_tree_cursor_goto_first_child(TSTreeCursor *);
bool ts_tree_cursor_goto_next_sibling(TSTreeCursor *);
bool ts_tree_cursor_goto_parent(TSTreeCursor *);
void ts_set_allocator(void *(*)(size_t), void *(*)(size_t, size_t), void *(*)(void *, size_t), void (*)(void *));

typedef struct {
	uint32_t start, end, row, col, depth;
	uint16_t sym, field;
	uint8_t named, error;
} bc_rec;

// go-tree-sitter routes every allocation of the C library through Go
// callbacks; the C allocator is many times faster for a parse.
static void bc_use_libc(void) { ts_set_allocator(malloc, calloc, realloc, free); }

// bc_dump copies the tree into recs in pre-order, at most cap records and
// max_depth levels; it returns the count and sets *total to the nodes in
// the tree and *bad to those in or under ERROR/MISSING nodes (including
// the ones cut off by depth).
static int bc_dump(const TSTree *tree, bc_rec *recs, int cap, int max_depth, int *total, int *bad) {
	TSNode root = ts_tree_root_node(tree);
	*total = (int)ts_node_descendant_count(root);
	*bad = 0;
	TSTreeCursor c = ts_tree_cursor_new(root);
	int n = 0, depth = 0;
	int err_depth = -1; // depth of the outermost ERROR ancestor, -1 when none
	for (;;) {
		TSNode node = ts_tree_cursor_current_node(&c);
		bool is_err = ts_node_is_error(node) || ts_node_is_missing(node);
		if (is_err && err_depth < 0) err_depth = depth;
		bool in_err = err_depth >= 0;
		if (in_err) (*bad)++;
		if (n < cap) {
			bc_rec *r = &recs[n++];
			TSPoint p = ts_node_start_point(node);
			r->start = ts_node_start_byte(node);
			r->end = ts_node_end_byte(node);
			r->row = p.row;
			r->col = p.column;
			r->depth = depth;
			r->sym = ts_node_symbol(node);
			r->field = ts_tree_cursor_current_field_id(&c);
			r->named = ts_node_is_named(node);
			r->error = in_err;
		}
		if (depth < max_depth && ts_tree_cursor_goto_first_child(&c)) {
			depth++;
			continue;
		}
		if (depth >= max_depth) {
			int cut = (int)ts_node_descendant_count(node) - 1;
			*bad += cut;
		}
		for (;;) {
			if (err_depth == depth) err_depth = -1;
			if (ts_tree_cursor_goto_next_sibling(&c)) break;
			if (depth == 0 || !ts_tree_cursor_goto_parent(&c)) {
				ts_tree_cursor_delete(&c);
				return n;
			}
			depth--;
		}
	}
}
*/
import "C"

import (
	"errors"
	"sync"
	"unsafe"

	sitter "github.com/tree-sitter/go-tree-sitter"
	tsc "github.com/tree-sitter/tree-sitter-c/bindings/go"
)

var errParseAbandoned = errors.New("the C grammar could not be loaded or gave no tree")

// HasTreeSitter reports whether this build links tree-sitter's C grammar
// (it was built with cgo), the FrontEndTreeSitter front end.
const HasTreeSitter = true

// grammar holds the C grammar's kind and field names, looked up once.
type grammar struct {
	lang   unsafe.Pointer
	kinds  []string
	fields []string
}

var loadGrammar = sync.OnceValue(func() *grammar {
	C.bc_use_libc()
	ptr := tsc.Language()
	lang := sitter.NewLanguage(ptr)
	g := &grammar{lang: ptr, kinds: make([]string, lang.NodeKindCount()), fields: make([]string, lang.FieldCount()+1)}
	for i := range g.kinds {
		g.kinds[i] = lang.NodeKindForId(uint16(i))
	}
	for i := 1; i < len(g.fields); i++ {
		g.fields[i] = lang.FieldNameForId(uint16(i))
	}
	return g
})

// treeParser wraps a tree-sitter parser. The walk over the tree runs in C
// (bc_dump) and hands back a flat array, so a file costs a few cgo calls
// rather than several per node.
type treeParser struct {
	p *C.TSParser
	g *grammar

	// Buffers reused from one parse to the next (a parse's Nodes are
	// garbage once the model is built); dropped after very large files.
	recs   []C.bc_rec
	nodes  []Node
	parent []int32
	kids   []*Node
}

// keepNodes bounds the buffers a parser keeps between files.
const keepNodes = 1 << 20

func newTreeParser() (*treeParser, error) {
	g := loadGrammar()
	p := C.ts_parser_new()
	if !C.ts_parser_set_language(p, (*C.TSLanguage)(g.lang)) {
		C.ts_parser_delete(p)
		return nil, errParseAbandoned
	}
	return &treeParser{p: p, g: g}, nil
}

func (tp *treeParser) close() {
	if tp.p != nil {
		C.ts_parser_delete(tp.p)
		tp.p = nil
	}
}

// parse runs tree-sitter over src and rebuilds the tree as Nodes.
func (tp *treeParser) parse(src []byte) (*Node, int, int, error) {
	var cs *C.char
	if len(src) > 0 {
		cs = (*C.char)(C.CBytes(src))
		defer C.free(unsafe.Pointer(cs))
	}
	tree := C.ts_parser_parse_string(tp.p, nil, cs, C.uint32_t(len(src)))
	if tree == nil {
		return nil, 0, 0, errParseAbandoned
	}
	defer C.ts_tree_delete(tree)
	count := int(C.ts_node_descendant_count(C.ts_tree_root_node(tree)))
	if count < 1 {
		count = 1
	}
	if cap(tp.recs) < count {
		tp.recs = make([]C.bc_rec, count)
	}
	recs := tp.recs[:count]
	var total, bad C.int
	n := int(C.bc_dump(tree, &recs[0], C.int(count), C.int(maxDepth), &total, &bad))
	// Two passes: find each node's parent and count children, then hand
	// every node its exact slice of one shared array of child pointers.
	if cap(tp.nodes) < n {
		tp.nodes, tp.parent, tp.kids = make([]Node, n), make([]int32, n), make([]*Node, n)
	}
	nodes, parent := tp.nodes[:n], tp.parent[:n]
	clear(nodes)
	stack := make([]int32, 0, 64)
	for i := 0; i < n; i++ {
		d := int(recs[i].depth)
		if d > len(stack) {
			d = len(stack) // cannot happen in pre-order; keeps hostile trees safe
		}
		stack = stack[:d]
		parent[i] = -1
		if d > 0 {
			parent[i] = stack[d-1]
			nodes[stack[d-1]].Start++ // child count, until the second pass sets Start
		}
		stack = append(stack, int32(i))
	}
	kids := tp.kids[:max(n-1, 0)]
	next := 0
	for i := 0; i < n; i++ {
		nd := &nodes[i]
		if c := nd.Start; c > 0 {
			nd.Kids = kids[next : next : next+c]
			next += c
		}
		r := &recs[i]
		nd.Start, nd.End = int(r.start), int(r.end)
		nd.Line, nd.Col = int(r.row)+1, int(r.col)+1
		nd.Named, nd.Error = r.named != 0, r.error != 0
		switch {
		case r.sym == 0xFFFF: // ts_builtin_sym_error
			nd.Kind = "ERROR"
		case int(r.sym) < len(tp.g.kinds):
			nd.Kind = tp.g.kinds[r.sym]
		}
		if f := int(r.field); f > 0 && f < len(tp.g.fields) {
			nd.Field = tp.g.fields[f]
		}
		if p := parent[i]; p >= 0 {
			nodes[p].Kids = append(nodes[p].Kids, nd)
		}
	}
	if n == 0 {
		return &Node{Kind: "translation_unit"}, int(total), int(bad), nil
	}
	root := &nodes[0]
	if n > keepNodes {
		tp.recs, tp.nodes, tp.parent, tp.kids = nil, nil, nil, nil
	}
	return root, int(total), int(bad), nil
}

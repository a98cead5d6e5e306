package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Binary XML tokens; the 0x40 bit on some of them means "more follows"
// (attributes for an element, another attribute or value).
const (
	tokEOF          = 0x00
	tokOpenStart    = 0x01
	tokCloseStart   = 0x02
	tokCloseEmpty   = 0x03
	tokEndElement   = 0x04
	tokValue        = 0x05
	tokAttribute    = 0x06
	tokCDATA        = 0x07
	tokCharRef      = 0x08
	tokEntityRef    = 0x09
	tokPITarget     = 0x0a
	tokPIData       = 0x0b
	tokTemplate     = 0x0c
	tokSubst        = 0x0d
	tokOptSubst     = 0x0e
	tokFragmentHead = 0x0f
	tokMore         = 0x40
)

// Limits that keep hostile input from recursing or expanding without end.
const (
	maxElementDepth = 64    // element nesting within one fragment
	maxExpandDepth  = 16    // templates and nested BinXML within one record
	maxNodes        = 20000 // elements and values produced by one record
)

var errTooDeep = errors.New("binary XML nested too deeply (template or element loop)")

// Element is one element of an event's XML, with templates and
// substitutions already applied.
type Element struct {
	Name     string
	Attrs    []Attr
	Children []*Element
	Values   []Value // text content in document order (strings, typed substitutions)
}

// Attr is one attribute of an element.
type Attr struct {
	Name  string
	Value Value
}

// Text returns the element's text content.
func (e *Element) Text() string {
	if e == nil {
		return ""
	}
	if len(e.Values) == 1 {
		return e.Values[0].String()
	}
	var sb strings.Builder
	for _, v := range e.Values {
		sb.WriteString(v.String())
	}
	return sb.String()
}

// Attr returns the attribute named name, if present.
func (e *Element) Attr(name string) (Value, bool) {
	if e == nil {
		return Value{}, false
	}
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return Value{}, false
}

// Child returns the first child element named name, or nil.
func (e *Element) Child(name string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// node kinds of the parsed (not yet substituted) binary XML.
const (
	nElement = iota
	nValue
	nSubst
	nTemplate
	nPI
)

type node struct {
	kind     int
	name     string
	attrs    []xattr
	kids     []node
	val      Value
	sub      uint16
	optional bool
	tmpl     *instance
}

type xattr struct {
	name string
	val  []node
}

// instance is a template instance: the chunk offset of its definition and
// the substitution values (raw, decoded on use).
type instance struct {
	def    uint32
	values []rawValue
}

type rawValue struct {
	typ ValueType
	off int // chunk offset of the data
	n   int
}

// template is a parsed template definition.
type template struct {
	nodes []node
	err   error
}

// chunkParser parses the binary XML of one chunk. Offsets are chunk
// relative, as names and templates refer to each other by chunk offset.
type chunkParser struct {
	b         []byte
	templates map[uint32]*template
	names     map[uint32]string // names referred to by offset
	nodes     int               // budget used by the current record
}

type cursor struct {
	p   *chunkParser
	pos int
	end int
}

func (c *cursor) fail(format string, a ...any) error {
	return &offsetError{c.pos, fmt.Sprintf(format, a...)}
}

// offsetError is a binary XML error at a chunk offset; the reader turns it
// into a Warning with the file offset.
type offsetError struct {
	off int
	msg string
}

func (e *offsetError) Error() string { return e.msg }

func (c *cursor) need(n int) error {
	if n < 0 || c.pos+n > c.end {
		return c.fail("binary XML truncated: need %d bytes at chunk offset %#x", n, c.pos)
	}
	return nil
}

func (c *cursor) u8() (byte, error) {
	if err := c.need(1); err != nil {
		return 0, err
	}
	c.pos++
	return c.p.b[c.pos-1], nil
}

func (c *cursor) u16() (uint16, error) {
	if err := c.need(2); err != nil {
		return 0, err
	}
	c.pos += 2
	return binary.LittleEndian.Uint16(c.p.b[c.pos-2:]), nil
}

func (c *cursor) u32() (uint32, error) {
	if err := c.need(4); err != nil {
		return 0, err
	}
	c.pos += 4
	return binary.LittleEndian.Uint32(c.p.b[c.pos-4:]), nil
}

func (c *cursor) peek() (byte, error) {
	if err := c.need(1); err != nil {
		return 0, err
	}
	return c.p.b[c.pos], nil
}

// utf16 reads a length-prefixed UTF-16 string (count in characters).
func (c *cursor) utf16() (string, error) {
	n, err := c.u16()
	if err != nil {
		return "", err
	}
	if err := c.need(2 * int(n)); err != nil {
		return "", err
	}
	s := utf16String(c.p.b[c.pos : c.pos+2*int(n)])
	c.pos += 2 * int(n)
	return s, nil
}

// name reads a name reference. The name structure (next offset, hash,
// length, UTF-16, NUL) is inline when its offset is the current position;
// otherwise it was written earlier in the chunk.
func (c *cursor) name() (string, error) {
	off, err := c.u32()
	if err != nil {
		return "", err
	}
	if int(off) == c.pos {
		s, n, err := c.p.nameAt(int(off), c.end)
		if err != nil {
			return "", err
		}
		c.pos += n
		return s, nil
	}
	if s, ok := c.p.names[off]; ok {
		return s, nil
	}
	s, _, err := c.p.nameAt(int(off), len(c.p.b))
	if err == nil {
		c.p.names[off] = s
	}
	return s, err
}

func (p *chunkParser) nameAt(off, end int) (string, int, error) {
	if off < chunkHeaderSize || off+8 > end {
		return "", 0, &offsetError{off, fmt.Sprintf("name at chunk offset %#x is outside the chunk data", off)}
	}
	n := int(binary.LittleEndian.Uint16(p.b[off+6:]))
	size := 8 + 2*n + 2
	if off+size > end {
		return "", 0, &offsetError{off, fmt.Sprintf("name at chunk offset %#x (%d characters) runs past its data", off, n)}
	}
	return utf16String(p.b[off+8 : off+8+2*n]), size, nil
}

// fragment parses tokens up to EOF or end. inTemplate says whether element
// starts carry a dependency identifier: they do inside template
// definitions, not in records or nested BinXML values.
func (c *cursor) fragment(inTemplate bool) ([]node, error) {
	var out []node
	for c.pos < c.end {
		t, err := c.u8()
		if err != nil {
			return nil, err
		}
		switch t &^ tokMore {
		case tokEOF:
			return out, nil
		case tokFragmentHead:
			if err := c.need(3); err != nil {
				return nil, err
			}
			c.pos += 3
		case tokTemplate:
			n, err := c.instance()
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		case tokOpenStart:
			n, err := c.element(t, inTemplate, 0)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		default:
			c.pos--
			n, ok, err := c.content(inTemplate, 0)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, c.fail("unexpected binary XML token %#02x at chunk offset %#x", t, c.pos)
			}
			out = append(out, n...)
		}
	}
	return out, nil
}

// content parses one content token (value, substitution, reference, CDATA,
// PI, nested element or template instance); ok is false when the next
// token is none of those.
func (c *cursor) content(inTemplate bool, depth int) ([]node, bool, error) {
	start := c.pos
	t, err := c.u8()
	if err != nil {
		return nil, false, err
	}
	switch t &^ tokMore {
	case tokOpenStart:
		n, err := c.element(t, inTemplate, depth+1)
		return []node{n}, true, err
	case tokValue:
		vt, err := c.u8()
		if err != nil {
			return nil, true, err
		}
		var v Value
		switch ValueType(vt) {
		case TypeString:
			s, err := c.utf16()
			if err != nil {
				return nil, true, err
			}
			v = Value{Type: TypeString, Str: s}
		default:
			n := fixedSize(ValueType(vt))
			if n == 0 {
				return nil, true, c.fail("value token of unsupported type %#x", vt)
			}
			if err := c.need(n); err != nil {
				return nil, true, err
			}
			v, err = decodeValue(ValueType(vt), c.p.b[c.pos:c.pos+n])
			if err != nil {
				return nil, true, err
			}
			c.pos += n
		}
		return []node{{kind: nValue, val: v}}, true, nil
	case tokCDATA:
		s, err := c.utf16()
		return []node{{kind: nValue, val: Value{Type: TypeString, Str: s}}}, true, err
	case tokCharRef:
		r, err := c.u16()
		return []node{{kind: nValue, val: Value{Type: TypeString, Str: string(rune(r))}}}, true, err
	case tokEntityRef:
		s, err := c.name()
		return []node{{kind: nValue, val: Value{Type: TypeString, Str: entity(s)}}}, true, err
	case tokSubst, tokOptSubst:
		if t&tokMore != 0 {
			break
		}
		id, err := c.u16()
		if err != nil {
			return nil, true, err
		}
		if _, err := c.u8(); err != nil {
			return nil, true, err
		}
		return []node{{kind: nSubst, sub: id, optional: t == tokOptSubst}}, true, nil
	case tokPITarget:
		s, err := c.name()
		if err != nil {
			return nil, true, err
		}
		n := node{kind: nPI, name: s}
		if b, err := c.peek(); err == nil && b == tokPIData {
			c.pos++
			d, err := c.utf16()
			if err != nil {
				return nil, true, err
			}
			n.val = Value{Type: TypeString, Str: d}
		}
		return []node{n}, true, nil
	case tokTemplate:
		if t&tokMore != 0 {
			break
		}
		n, err := c.instance()
		return []node{n}, true, err
	}
	c.pos = start
	return nil, false, nil
}

func entity(name string) string {
	switch name {
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "amp":
		return "&"
	case "quot":
		return `"`
	case "apos":
		return "'"
	}
	return "&" + name + ";"
}

// element parses an element whose start token t was just read.
func (c *cursor) element(t byte, inTemplate bool, depth int) (node, error) {
	if depth > maxElementDepth {
		return node{}, errTooDeep
	}
	if inTemplate {
		if _, err := c.u16(); err != nil {
			return node{}, err
		}
	}
	if _, err := c.u32(); err != nil { // data size: we parse tokens instead
		return node{}, err
	}
	name, err := c.name()
	if err != nil {
		return node{}, err
	}
	n := node{kind: nElement, name: name}
	if t&tokMore != 0 {
		if _, err := c.u32(); err != nil { // attribute list size
			return node{}, err
		}
		for {
			b, err := c.peek()
			if err != nil {
				return node{}, err
			}
			if b&^tokMore != tokAttribute {
				break
			}
			c.pos++
			an, err := c.name()
			if err != nil {
				return node{}, err
			}
			a := xattr{name: an}
			for {
				b, err := c.peek()
				if err != nil {
					return node{}, err
				}
				switch b &^ tokMore {
				case tokValue, tokSubst, tokOptSubst, tokCharRef, tokEntityRef:
				default:
					goto done
				}
				v, _, err := c.content(inTemplate, depth)
				if err != nil {
					return node{}, err
				}
				a.val = append(a.val, v...)
			}
		done:
			n.attrs = append(n.attrs, a)
		}
	}
	b, err := c.u8()
	if err != nil {
		return node{}, err
	}
	switch b {
	case tokCloseEmpty:
		return n, nil
	case tokCloseStart:
	default:
		return node{}, c.fail("element %q: expected end of start tag, found token %#02x", name, b)
	}
	for {
		b, err := c.peek()
		if err != nil {
			return node{}, err
		}
		if b == tokEndElement {
			c.pos++
			return n, nil
		}
		kids, ok, err := c.content(inTemplate, depth)
		if err != nil {
			return node{}, err
		}
		if !ok {
			return node{}, c.fail("element %q: unexpected token %#02x in content", name, b)
		}
		n.kids = append(n.kids, kids...)
	}
}

// instance parses a template instance (token already read): the
// definition reference, an inline definition when this is its first use in
// the chunk, and the substitution array.
func (c *cursor) instance() (node, error) {
	if _, err := c.u8(); err != nil {
		return node{}, err
	}
	if _, err := c.u32(); err != nil { // template id
		return node{}, err
	}
	def, err := c.u32()
	if err != nil {
		return node{}, err
	}
	if int(def) == c.pos {
		if err := c.need(24); err != nil {
			return node{}, err
		}
		size := int(binary.LittleEndian.Uint32(c.p.b[c.pos+20:]))
		if err := c.need(24 + size); err != nil {
			return node{}, err
		}
		c.pos += 24 + size
	}
	count, err := c.u32()
	if err != nil {
		return node{}, err
	}
	// Each descriptor takes 4 bytes: a hostile count cannot exceed the data.
	if err := c.need(4 * int(count)); err != nil {
		return node{}, c.fail("template instance declares %d substitutions, more than its data holds", count)
	}
	in := &instance{def: def, values: make([]rawValue, count)}
	for i := range in.values {
		size, _ := c.u16()
		typ, _ := c.u8()
		c.pos++
		in.values[i] = rawValue{typ: ValueType(typ), n: int(size)}
	}
	for i := range in.values {
		if err := c.need(in.values[i].n); err != nil {
			return node{}, c.fail("substitution %d of %d bytes runs past the record", i, in.values[i].n)
		}
		in.values[i].off = c.pos
		c.pos += in.values[i].n
	}
	return node{kind: nTemplate, tmpl: in}, nil
}

// template returns the parsed template definition at chunk offset off.
func (p *chunkParser) template(off uint32) *template {
	if t, ok := p.templates[off]; ok {
		return t
	}
	t := &template{}
	p.templates[off] = t
	o := int(off)
	if o < chunkHeaderSize || o+24 > len(p.b) {
		t.err = &offsetError{o, fmt.Sprintf("template definition offset %#x is outside the chunk data", off)}
		return t
	}
	size := int(binary.LittleEndian.Uint32(p.b[o+20:]))
	if size > len(p.b)-o-24 {
		t.err = &offsetError{o, fmt.Sprintf("template definition at %#x: data size %d runs past the chunk", off, size)}
		return t
	}
	c := &cursor{p: p, pos: o + 24, end: o + 24 + size}
	t.nodes, t.err = c.fragment(true)
	return t
}

// expander applies substitutions and instantiates templates.
type expander struct {
	p *chunkParser
}

func (x *expander) count() error {
	x.p.nodes++
	if x.p.nodes > maxNodes {
		return errors.New("record expands to more than 20000 XML nodes (template loop?)")
	}
	return nil
}

// expand appends the nodes, with subs substituted, to parent.
func (x *expander) expand(nodes []node, subs []rawValue, parent *Element, depth int) error {
	if depth > maxExpandDepth {
		return errTooDeep
	}
	for i := range nodes {
		n := &nodes[i]
		if err := x.count(); err != nil {
			return err
		}
		switch n.kind {
		case nElement:
			e := &Element{Name: n.name}
			if len(n.attrs) > 0 {
				e.Attrs = make([]Attr, 0, len(n.attrs))
			}
			for _, a := range n.attrs {
				v, ok, err := x.attrValue(a.val, subs, depth)
				if err != nil {
					return err
				}
				if ok {
					e.Attrs = append(e.Attrs, Attr{Name: a.name, Value: v})
				}
			}
			if err := x.expand(n.kids, subs, e, depth); err != nil {
				return err
			}
			parent.Children = append(parent.Children, e)
		case nValue:
			parent.Values = append(parent.Values, n.val)
		case nPI:
		case nSubst:
			if int(n.sub) >= len(subs) {
				continue // missing substitution renders as nothing
			}
			rv := subs[n.sub]
			if rv.typ == TypeBinXML {
				if err := x.binXML(rv, parent, depth+1); err != nil {
					return err
				}
				continue
			}
			if rv.typ == TypeNull {
				continue
			}
			v, err := decodeValue(rv.typ, x.p.b[rv.off:rv.off+rv.n])
			if err != nil {
				return &offsetError{rv.off, fmt.Sprintf("substitution %d: %v", n.sub, err)}
			}
			parent.Values = append(parent.Values, v)
		case nTemplate:
			t := x.p.template(n.tmpl.def)
			if t.err != nil {
				return t.err
			}
			if err := x.expand(t.nodes, n.tmpl.values, parent, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// binXML expands a nested binary XML substitution value.
func (x *expander) binXML(rv rawValue, parent *Element, depth int) error {
	if depth > maxExpandDepth {
		return errTooDeep
	}
	c := &cursor{p: x.p, pos: rv.off, end: rv.off + rv.n}
	nodes, err := c.fragment(false)
	if err != nil {
		return err
	}
	return x.expand(nodes, nil, parent, depth)
}

// attrValue evaluates an attribute's value nodes; ok is false when it is an
// optional substitution with no value (the attribute is then omitted).
func (x *expander) attrValue(nodes []node, subs []rawValue, depth int) (Value, bool, error) {
	tmp := &Element{}
	if err := x.expand(nodes, subs, tmp, depth); err != nil {
		return Value{}, false, err
	}
	switch len(tmp.Values) {
	case 0:
		if len(nodes) == 1 && nodes[0].kind == nSubst && nodes[0].optional {
			return Value{}, false, nil
		}
		return Value{Type: TypeString}, true, nil
	case 1:
		return tmp.Values[0], true, nil
	}
	return Value{Type: TypeString, Str: tmp.Text()}, true, nil
}

package csrc

import (
	"bytes"
	"strings"
)

// Prepare returns a copy of src in which every SAL/WDK annotation (_In_,
// _IRQL_requires_max_(DISPATCH_LEVEL), __drv_maxIRQL(2), IN, OUT,
// OPTIONAL, NTAPI, ...) is overwritten with spaces (newlines kept, so
// offsets, lines and columns do not move), with the annotations and the
// #pragma alloc_text / code_seg directives recorded. String and character
// literals are never touched; comments outside directives are blanked
// whole, since the checks never read them and the parse is cheaper
// without them.
func Prepare(src []byte) ([]byte, []Annotation, []Pragma) {
	return prepare(nil, src)
}

// prepare is Prepare writing the text into buf when it is large enough.
func prepare(buf, src []byte) ([]byte, []Annotation, []Pragma) {
	out := buf[:0]
	if cap(out) < len(src) {
		out = make([]byte, len(src))
	}
	out = out[:len(src)]
	copy(out, src)
	var annots []Annotation
	var pragmas []Pragma
	lx := lineIndex{src: src}
	n := len(src)
	lineStart := true // only blanks since the last newline
	for i := 0; i < n; {
		c := src[i]
		switch {
		case c == '\n':
			lineStart = true
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			for i < n && src[i] == ' ' {
				i++
			}
			continue
		case c == '#' && lineStart:
			end := directiveEnd(src, i)
			if e, ok := externCBlock(src, i, end); ok {
				// #ifdef __cplusplus / extern "C" { / #endif opens a brace
				// the grammar never sees closed; C needs none of it.
				blank(out, i, e)
				i = e
				continue
			}
			if p, ok := parsePragma(src[i:end]); ok {
				p.Pos = lx.pos(i)
				pragmas = append(pragmas, p)
			}
			if isPragma(src[i:end]) {
				// Pragmas are recorded above; blanking them lets the
				// grammar parse "VOID\n#pragma warning(...)\nName(...)".
				blank(out, i, end)
				i = end
				continue
			}
			// Directives keep their text (tree-sitter parses them), but
			// annotations inside #define bodies are blanked below as well.
			i = blankInDirective(out, src, i, end, &annots, &lx)
			continue
		}
		lineStart = false
		switch {
		case c == '/' && i+1 < n && src[i+1] == '/':
			j := i
			if k := bytes.IndexByte(src[i:], '\n'); k >= 0 {
				i += k
			} else {
				i = n
			}
			blankComment(out, j, i)
		case c == '/' && i+1 < n && src[i+1] == '*':
			j := i
			i = commentEnd(src, i)
			blankComment(out, j, i)
		case c == '"' || c == '\'':
			i = literalEnd(src, i)
		case isIdentStart(c):
			j := i
			for j < n && isIdentChar(src[j]) {
				j++
			}
			i = annotate(out, src, i, j, &annots, &lx)
		default:
			i++
		}
	}
	return out, annots, pragmas
}

// annotate handles the identifier src[i:j]; it blanks and records it when
// it is an annotation and returns where scanning continues.
func annotate(out, src []byte, i, j int, annots *[]Annotation, lx *lineIndex) int {
	if !maybeAnnotation(src[i:j]) {
		return j // most names: no string made for them
	}
	name := string(src[i:j])
	kind := annotationKind(name)
	if kind == notAnnotation {
		if name == "WHILE" && nextNonSpace(src, j) == '(' {
			// "do { } WHILE (FALSE);" macro of the WDK samples.
			copy(out[i:j], "while")
		}
		if (name == "TRY" || name == "FINALLY") && nextNonSpace(src, j) == '{' {
			// classpnp-style TRY { } FINALLY { } macros: plain blocks.
			*annots = append(*annots, Annotation{Name: name, Pos: lx.pos(i), End: j})
			blank(out, i, j)
		}
		return j
	}
	end := j
	args := ""
	if kind != bareWord {
		k := j
		for k < len(src) && (src[k] == ' ' || src[k] == '\t' || src[k] == '\r' || src[k] == '\n') {
			k++
		}
		if k < len(src) && src[k] == '(' {
			if e, ok := parenEnd(src, k); ok {
				args = strings.TrimSpace(string(src[k+1 : e-1]))
				end = e
			}
		}
	}
	*annots = append(*annots, Annotation{Name: name, Args: collapse(args), Pos: lx.pos(i), End: end})
	blank(out, i, end)
	return end
}

// maybeAnnotation is a cheap first look at an identifier: annotate
// handles only names for which it is true.
func maybeAnnotation(b []byte) bool {
	if len(b) == 0 || b[0] == '_' {
		return true
	}
	if b[0] < 'A' || b[0] > 'Z' {
		return false // every other candidate starts with a capital
	}
	if isBareWord(b) {
		return true
	}
	switch string(b) {
	case "WHILE", "TRY", "FINALLY":
		return true
	}
	return len(b) > 9 && string(b[:9]) == "DECLSPEC_"
}

type annKind uint8

const (
	notAnnotation annKind = iota
	bareWord              // IN, OUT, OPTIONAL, NTAPI: never takes arguments
	withArgs              // may be followed by (...)
)

// isBareWord recognises the WDK macros that expand to nothing or to
// calling conventions and confuse a grammar that has not seen their
// definitions. (A switch: Prepare asks for nearly every capitalised
// name, and a switch costs less than a map lookup.)
func isBareWord(b []byte) bool {
	switch string(b) {
	case "IN", "OUT", "OPTIONAL", "NTAPI", "WINAPI",
		"NTKERNELAPI", "NTSYSAPI", "NTSYSCALLAPI", "NTHALAPI",
		"FORCEINLINE", "EXTERN_C", "CALLBACK", "DECLSPEC_NOINLINE",
		"PAGED_CODE_SEG", "INIT_CODE_SEG", "NONPAGED_CODE_SEG",
		"FASTCALL", "STDCALL", "NTAPI_INLINE", "CONST_FUNCTION",
		"EXTERN_C_START", "EXTERN_C_END",
		"__callback", "__checkReturn", "__nullterminated", "__reserved":
		return true
	}
	return false
}

func annotationKind(name string) annKind {
	if isBareWord([]byte(name)) {
		return bareWord
	}
	if name == "__declspec" || strings.HasPrefix(name, "DECLSPEC_") {
		return withArgs
	}
	if strings.HasPrefix(name, "__drv_") || strings.HasPrefix(name, "__deref_") ||
		strings.HasPrefix(name, "__field_") || strings.HasPrefix(name, "__success") ||
		strings.HasPrefix(name, "__bcount") || strings.HasPrefix(name, "__ecount") {
		return withArgs
	}
	switch {
	case name == "__in" || name == "__out" || name == "__inout",
		strings.HasPrefix(name, "__in_") || strings.HasPrefix(name, "__out_") || strings.HasPrefix(name, "__inout_"):
		return withArgs
	}
	// SAL 2: _Xxx_ with at least one lower-case letter (_In_, _IRQL_requires_,
	// _Out_writes_bytes_); all-caps _NAME_ macros are left alone.
	if len(name) >= 3 && name[0] == '_' && name[1] >= 'A' && name[1] <= 'Z' && name[len(name)-1] == '_' {
		if strings.ContainsFunc(name, func(r rune) bool { return r >= 'a' && r <= 'z' }) {
			return withArgs
		}
	}
	return notAnnotation
}

// blankInDirective blanks annotations inside a preprocessor directive
// (a #define body, say) and returns end.
func blankInDirective(out, src []byte, i, end int, annots *[]Annotation, lx *lineIndex) int {
	// Skip "#" and the directive name so "#define _In_" itself is kept.
	k := i + 1
	for k < end && (src[k] == ' ' || src[k] == '\t') {
		k++
	}
	d := k
	for k < end && isIdentChar(src[k]) {
		k++
	}
	directive := string(src[d:k])
	if directive != "define" && directive != "if" && directive != "elif" {
		return end
	}
	nameEnd := -1
	if directive == "define" {
		// Skip the macro name.
		for k < end && (src[k] == ' ' || src[k] == '\t') {
			k++
		}
		for k < end && isIdentChar(src[k]) {
			k++
		}
		nameEnd = k
	}
	defer func() {
		// A #define whose whole body was blanked would end in blanks, which
		// the C grammar reads as a directive running on into the next
		// lines: give it a body of "1" instead.
		if nameEnd < 0 || nameEnd+1 >= end || out[nameEnd] != ' ' || out[nameEnd+1] != ' ' || allBlank(src[nameEnd:end]) || !allBlank(out[nameEnd:end]) {
			return
		}
		out[nameEnd+1] = '1'
	}()
	for k < end {
		c := src[k]
		switch {
		case c == '/' && k+1 < end && src[k+1] == '*':
			k = min(commentEnd(src, k), end)
		case c == '/' && k+1 < end && src[k+1] == '/':
			for k < end && src[k] != '\n' {
				k++
			}
		case c == '"' || c == '\'':
			k = min(literalEnd(src, k), end)
		case isIdentStart(c):
			j := k
			for j < end && isIdentChar(src[j]) {
				j++
			}
			if annotationKind(string(src[k:j])) != notAnnotation && directive == "define" {
				var tmp []Annotation
				e := annotate(out, src[:end], k, j, &tmp, lx)
				k = e
			} else {
				k = j
			}
		default:
			k++
		}
	}
	return end
}

func allBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\\' {
			return false
		}
	}
	return true
}

// directiveEnd returns the offset of the newline ending the directive at
// i, following backslash continuations and block comments.
func directiveEnd(src []byte, i int) int {
	n := len(src)
	for i < n {
		switch src[i] {
		case '\\':
			if i+1 < n && src[i+1] == '\n' {
				i += 2
				continue
			}
			if i+2 < n && src[i+1] == '\r' && src[i+2] == '\n' {
				i += 3
				continue
			}
		case '/':
			if i+1 < n && src[i+1] == '*' {
				i = commentEnd(src, i)
				continue
			}
		case '\n':
			return i
		}
		i++
	}
	return n
}

func parsePragma(d []byte) (Pragma, bool) {
	s := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(d)), "#"))
	s = strings.ReplaceAll(s, "\\\n", " ")
	if !strings.HasPrefix(s, "pragma") {
		return Pragma{}, false
	}
	s = strings.TrimSpace(s[len("pragma"):])
	name := s
	if k := strings.IndexByte(s, '('); k >= 0 {
		name = strings.TrimSpace(s[:k])
		s = s[k+1:]
	} else {
		return Pragma{}, false
	}
	if k := strings.LastIndexByte(s, ')'); k >= 0 {
		s = s[:k]
	}
	var parts []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p != "" {
			parts = append(parts, p)
		}
	}
	switch name {
	case "alloc_text":
		if len(parts) < 2 {
			return Pragma{}, false
		}
		return Pragma{Kind: "alloc_text", Section: strings.Trim(parts[0], `"`), Funcs: parts[1:]}, true
	case "code_seg":
		// code_seg("PAGE"), code_seg(), code_seg(push, "PAGE"), code_seg(pop)
		sec := ""
		for _, p := range parts {
			if strings.HasPrefix(p, `"`) {
				sec = strings.Trim(p, `"`)
				break
			}
		}
		return Pragma{Kind: "code_seg", Section: sec}, true
	}
	return Pragma{}, false
}

// blankComment overwrites a comment with spaces, carriage returns too:
// the C grammar ends a preprocessor directive early or late at a line of
// blanks ending in "\r\n", which a comment used to fill.
func blankComment(out []byte, i, j int) {
	j = min(j, len(out))
	for i < j {
		// Newlines stay; the runs between them are copied from spaces.
		e := j
		if k := bytes.IndexByte(out[i:j], '\n'); k >= 0 {
			e = i + k
		}
		for i < e {
			i += copy(out[i:e], spaces)
		}
		i++ // the newline
	}
}

var spaces = bytes.Repeat([]byte{' '}, 256)

func blank(out []byte, i, j int) {
	for k := i; k < j && k < len(out); k++ {
		if out[k] != '\n' && out[k] != '\r' {
			out[k] = ' '
		}
	}
}

// parenEnd returns the offset just past the parenthesis matching the one
// at i, skipping literals and comments.
func parenEnd(src []byte, i int) (int, bool) {
	depth := 0
	for k := i; k < len(src); {
		switch c := src[k]; {
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return k + 1, true
			}
		case c == '"' || c == '\'':
			k = literalEnd(src, k)
			continue
		case c == '/' && k+1 < len(src) && src[k+1] == '*':
			k = commentEnd(src, k)
			continue
		case c == ';' || c == '{' || c == '}':
			return 0, false // an annotation argument never holds these
		}
		k++
	}
	return 0, false
}

func commentEnd(src []byte, i int) int {
	if k := bytes.Index(src[i+2:], commentClose); k >= 0 {
		return i + 2 + k + 2
	}
	return len(src)
}

var commentClose = []byte("*/")

// literalEnd returns the offset just past the string or character literal
// starting at i; an unterminated literal ends at the line's end.
func literalEnd(src []byte, i int) int {
	q := src[i]
	for k := i + 1; k < len(src); k++ {
		switch src[k] {
		case '\\':
			k++
		case q:
			return k + 1
		case '\n':
			return k
		}
	}
	return len(src)
}

// nameBytes classifies bytes for the scanners: 1 may start a name
// (letters, _), 2 may continue one (those and digits).
var nameBytes = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			t[c] = 3
		case c >= '0' && c <= '9':
			t[c] = 2
		}
	}
	return t
}()

func isIdentStart(c byte) bool { return nameBytes[c]&1 != 0 }

func isIdentChar(c byte) bool { return nameBytes[c] != 0 }

func collapse(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") && !strings.Contains(s, "  ") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// lineIndex converts offsets to positions; offsets are asked for in
// increasing order, so it scans forward.
type lineIndex struct {
	src       []byte
	off, line int
	lineStart int
}

func (l *lineIndex) pos(off int) Pos {
	if l.line == 0 {
		l.line = 1
	}
	if off < l.off { // restart when asked backwards
		l.off, l.line, l.lineStart = 0, 1, 0
	}
	if end := min(off, len(l.src)); end > l.off {
		seg := l.src[l.off:end]
		if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
			l.line += n
			l.lineStart = l.off + bytes.LastIndexByte(seg, '\n') + 1
		}
		l.off = end
	}
	return Pos{Line: l.line, Col: off - l.lineStart + 1, Off: off}
}

func isPragma(d []byte) bool {
	s := strings.TrimLeft(string(d[1:]), " \t")
	return strings.HasPrefix(s, "pragma")
}

func nextNonSpace(src []byte, i int) byte {
	for ; i < len(src); i++ {
		switch src[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return src[i]
		}
	}
	return 0
}

// externCBlock recognises "#ifdef __cplusplus" blocks whose only content
// is extern "C" { or its closing brace, and returns their end.
func externCBlock(src []byte, i, end int) (int, bool) {
	d := strings.Join(strings.Fields(string(src[i:end])), " ")
	if d != "#ifdef __cplusplus" && d != "#if defined(__cplusplus)" && d != "# ifdef __cplusplus" {
		return 0, false
	}
	body := end
	var text []string
	for k := 0; k < 4 && body < len(src); k++ {
		e := directiveEnd(src, body+1)
		line := strings.TrimSpace(string(src[body+1 : e]))
		if strings.HasPrefix(line, "#endif") {
			joined := strings.Join(text, " ")
			if joined == `extern "C" {` || joined == `extern "C"` || joined == "}" || joined == `extern "C"{` || joined == "} // extern \"C\"" {
				return e, true
			}
			return 0, false
		}
		if line != "" {
			text = append(text, line)
		}
		body = e
	}
	return 0, false
}

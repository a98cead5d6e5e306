package csrc

// Tokens of the Go front end (goparse.go). The lexer runs over the
// prepared text, in which comments outside directives are already blank.

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNum
	tStr
	tChar
	tPunct
	tDir // a whole preprocessor directive, continuations included
)

// Directive kinds of tDir tokens.
const (
	dOther uint8 = iota
	dIf
	dIfdef
	dElif
	dElifdef
	dElse
	dEndif
	dDefine
	dInclude
)

type tok struct {
	kind       tokKind
	dir        uint8
	start, end int32
	line, col  int32
	p          uint16 // punctuator or keyword: an index into tokText
}

// identChars marks the bytes of a name: letters, digits, _, $ and any
// byte of a UTF-8 sequence.
var identChars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isIdentChar(byte(c)) || c == '$' || c >= 0x80
	}
	return t
}()

func isLexIdent(c byte) bool { return identChars[c] }

// lex splits src into tokens, appending to toks; the last token is tEOF.
func lex(src []byte, toks []tok) []tok {
	n := len(src)
	if want := n/4 + 16; cap(toks) < want {
		toks = make([]tok, 0, want) // C runs about one token per 4-6 bytes
	}
	line, lineOff := int32(1), 0
	lineStart := true
	for i := 0; i < n; {
		c := src[i]
		switch c {
		case '\n':
			i++
			line++
			lineOff = i
			lineStart = true
			continue
		case ' ', '\t', '\r', '\f', '\v':
			// Blanked comments and annotations make runs of spaces.
			i++
			for i < n && src[i] == ' ' {
				i++
			}
			continue
		case '\\':
			if i+1 < n && (src[i+1] == '\n' || src[i+1] == '\r') {
				i++
				continue
			}
		}
		t := tok{start: int32(i), line: line, col: int32(i-lineOff) + 1}
		switch {
		case c == '#' && lineStart:
			end := directiveEnd(src, i)
			t.kind, t.end = tDir, int32(end)
			t.dir = directiveKind(src[i:end])
			for k := i; k < end; k++ {
				if src[k] == '\n' {
					line++
					lineOff = k + 1
				}
			}
			i = end
		case c == '"' || c == '\'':
			i = literalEnd(src, i)
			t.kind, t.end = tStr, int32(i)
			if c == '\'' {
				t.kind = tChar
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			for j < n {
				d := src[j]
				if isLexIdent(d) || d == '.' || (d == '+' || d == '-') && (src[j-1]|0x20 == 'e' || src[j-1]|0x20 == 'p') {
					j++
					continue
				}
				break
			}
			t.kind, t.end = tNum, int32(j)
			i = j
		case isLexIdent(c):
			j := i + 1
			for j < n && isLexIdent(src[j]) {
				j++
			}
			if j < n && (src[j] == '"' || src[j] == '\'') && isStrPrefix(src[i:j]) {
				q := src[j]
				j = literalEnd(src, j)
				t.kind = tStr
				if q == '\'' {
					t.kind = tChar
				}
			} else {
				t.kind = tIdent
				t.p = keyword(src[i:j])
			}
			t.end = int32(j)
			i = j
		default:
			t.kind = tPunct
			t.p = punctAt(src, i)
			i += len(tokText[t.p])
			t.end = int32(i)
		}
		if t.kind == tStr || t.kind == tChar {
			// A backslash-newline continues a literal on the next line.
			for k := int(t.start); k < int(t.end); k++ {
				if src[k] == '\n' {
					line++
					lineOff = k + 1
				}
			}
		}
		lineStart = false
		toks = append(toks, t)
	}
	return append(toks, tok{kind: tEOF, start: int32(n), end: int32(n), line: line, col: int32(n-lineOff) + 1})
}

func isStrPrefix(b []byte) bool {
	switch string(b) {
	case "L", "u", "U", "u8":
		return true
	}
	return false
}

// directiveWord returns the directive's name and the offset (in d) just
// after it.
func directiveWord(d []byte) (string, int) {
	i := 1
	for i < len(d) && (d[i] == ' ' || d[i] == '\t') {
		i++
	}
	j := i
	for j < len(d) && isIdentChar(d[j]) {
		j++
	}
	return string(d[i:j]), j
}

func directiveKind(d []byte) uint8 {
	w, _ := directiveWord(d)
	switch w {
	case "if":
		return dIf
	case "ifdef", "ifndef":
		return dIfdef
	case "elif":
		return dElif
	case "elifdef", "elifndef":
		return dElifdef
	case "else":
		return dElse
	case "endif":
		return dEndif
	case "define":
		return dDefine
	case "include":
		return dInclude
	}
	return dOther
}

// Tokens carry their punctuator or keyword as an index into tokText, so
// a token holds no pointer: the token array costs the collector nothing.
// Index c+1 is the single byte c; then come the longer punctuators and
// the keywords the parser looks for.
var tokText = func() []string {
	t := make([]string, 257, 257+105)
	for c := 0; c < 256; c++ {
		t[c+1] = string(rune(c))
	}
	return append(t,
		"<<=",
		">>=",
		"...",
		"->",
		"++",
		"--",
		"<<",
		">>",
		"<=",
		">=",
		"==",
		"!=",
		"&&",
		"||",
		"+=",
		"-=",
		"*=",
		"/=",
		"%=",
		"&=",
		"^=",
		"|=",
		"::",
		"##",
		"static",
		"extern",
		"register",
		"auto",
		"inline",
		"__inline",
		"_inline",
		"__forceinline",
		"thread_local",
		"__thread",
		"_Thread_local",
		"const",
		"volatile",
		"restrict",
		"__restrict",
		"_Atomic",
		"CONST",
		"__unaligned",
		"UNALIGNED",
		"__ptr64",
		"__ptr32",
		"__cdecl",
		"__stdcall",
		"__fastcall",
		"__thiscall",
		"__vectorcall",
		"_cdecl",
		"_stdcall",
		"void",
		"char",
		"short",
		"int",
		"long",
		"float",
		"double",
		"signed",
		"unsigned",
		"_Bool",
		"bool",
		"__int8",
		"__int16",
		"__int32",
		"__int64",
		"__w64",
		"_Complex",
		"struct",
		"union",
		"enum",
		"__declspec",
		"__attribute__",
		"__pragma",
		"_Pragma",
		"__asm",
		"if",
		"else",
		"while",
		"for",
		"do",
		"switch",
		"return",
		"goto",
		"break",
		"continue",
		"case",
		"default",
		"__try",
		"try",
		"__except",
		"except",
		"__finally",
		"finally",
		"__leave",
		"typedef",
		"sizeof",
		"__alignof",
		"_Alignof",
		"alignof",
		"class",
		"public",
		"private",
		"protected",
	)
}()

// punctAt returns the tokText index of the longest punctuator at src[i:].
func punctAt(src []byte, i int) uint16 {
	switch src[i] {
	case '(', ')', '{', '}', '[', ']', ';', ',', '?', '~':
		return uint16(src[i]) + 1 // never the start of a longer one
	}
	if i+3 <= len(src) {
		switch string(src[i : i+3]) {
		case "<<=":
			return 257
		case ">>=":
			return 258
		case "...":
			return 259
		}
	}
	if i+2 <= len(src) {
		switch string(src[i : i+2]) {
		case "->":
			return 260
		case "++":
			return 261
		case "--":
			return 262
		case "<<":
			return 263
		case ">>":
			return 264
		case "<=":
			return 265
		case ">=":
			return 266
		case "==":
			return 267
		case "!=":
			return 268
		case "&&":
			return 269
		case "||":
			return 270
		case "+=":
			return 271
		case "-=":
			return 272
		case "*=":
			return 273
		case "/=":
			return 274
		case "%=":
			return 275
		case "&=":
			return 276
		case "^=":
			return 277
		case "|=":
			return 278
		case "::":
			return 279
		case "##":
			return 280
		}
	}
	return uint16(src[i]) + 1
}

// keyword returns the tokText index of a word the parser looks for, or 0
// for any other name.
func keyword(b []byte) uint16 {
	if len(b) < 2 || len(b) > maxKeyword {
		return 0
	}
	for _, k := range keywords[keywordHash(b)] {
		if k != 0 && tokText[k] == string(b) {
			return k
		}
	}
	return 0
}

// firstKeyword is the tokText index of the first keyword; maxKeyword is
// the longest keyword's length.
const (
	firstKeyword = 281
	maxKeyword   = 13
)

// keywords is a hash table of the keywords' tokText indexes: nearly
// every token is a name, and a probe costs less than a switch over a
// hundred words.
var keywords = func() (t [512][2]uint16) {
	for i := firstKeyword; i < len(tokText); i++ {
		w := []byte(tokText[i])
		if len(w) > maxKeyword {
			panic("csrc: keyword longer than maxKeyword: " + tokText[i])
		}
		h := keywordHash(w)
		switch {
		case t[h][0] == 0:
			t[h][0] = uint16(i)
		case t[h][1] == 0:
			t[h][1] = uint16(i)
		default:
			panic("csrc: keyword hash collision: " + tokText[i])
		}
	}
	return t
}()

func keywordHash(b []byte) int {
	n := len(b)
	return (n*61 + int(b[0])*7 + int(b[n-1])*3 + int(b[n/2])*11 + int(b[1])) & 511
}

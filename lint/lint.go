package lint

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/bugcheck/bugcheck/lint/csrc"
)

// Finding is one defect found in a source file.
type Finding struct {
	Rule      string     `json:"rule"`
	Name      string     `json:"name"`
	Severity  Severity   `json:"-"`
	Level     string     `json:"severity"`
	Path      string     `json:"file"`
	Line      int        `json:"line"`
	Col       int        `json:"column"`
	Function  string     `json:"function,omitempty"`
	Message   string     `json:"message"`
	Fix       string     `json:"fix"`
	BugChecks []BugCheck `json:"bug_checks"`
	Excerpt   string     `json:"excerpt,omitempty"`

	caret int // column of the finding within Excerpt (tabs expanded), 1-based
}

// checker holds the state of checking one file.
type checker struct {
	f       *csrc.File
	out     []Finding
	seen    map[string]bool
	roles   map[string]csrc.Role
	entry   map[string][2]int // function -> min, max IRQL at entry
	sites   []callSite
	globals []globalAlloc
	funcs   map[string]*csrc.Func
	protos  map[string]*csrc.Proto
	refs    map[string]bool // names used other than as a callee
	pagedFn map[string]bool
	exits   map[*csrc.Func][]*state // exit states of the functions that raise the IRQL
	// ctlFinish: does the file call WdfControlFinishInitializing (1 yes,
	// -1 no, 0 not looked yet).
	ctlFinish int8
}

type globalAlloc struct {
	fn   *csrc.Func
	name string
	site *csrc.Expr
}

// Check runs every check over one parsed file and returns the findings
// ordered by position.
func Check(f *csrc.File) []Finding {
	c := &checker{f: f, seen: map[string]bool{}, roles: map[string]csrc.Role{}, entry: map[string][2]int{},
		funcs: map[string]*csrc.Func{}, protos: map[string]*csrc.Proto{}, pagedFn: map[string]bool{},
		exits: map[*csrc.Func][]*state{}}
	for _, fn := range f.Funcs {
		if _, dup := c.funcs[fn.Name]; !dup {
			c.funcs[fn.Name] = fn
		}
	}
	for _, p := range f.Protos {
		c.protos[p.Name] = p
	}
	c.inferRoles()
	c.inferQueueRoles()
	sites := make([][]callSite, len(f.Funcs))
	n := 0
	for i, fn := range f.Funcs {
		w := &walker{c: c, fn: fn}
		w.run()
		sites[i] = w.sites
		if raisesIRQL(fn) {
			c.exits[fn] = w.exits // for BCL037
		}
		n += len(w.sites)
	}
	c.sites = make([]callSite, 0, n)
	for _, s := range sites {
		c.sites = append(c.sites, s...)
	}
	c.irqlEntries()
	for i := range c.sites {
		c.checkSite(&c.sites[i])
		c.checkCallRules(&c.sites[i])
		c.checkStopAcknowledge(&c.sites[i])
	}
	for _, fn := range f.Funcs {
		c.checkFunc(fn)
		c.checkBounds(fn)
		c.checkIrqlParams(fn)
		c.checkLowerStatus(fn)
		c.checkHandles(fn)
		c.checkRefRace(fn)
		c.checkDriverCreate(fn)
	}
	c.checkGlobals()
	c.checkExamined()
	sort.SliceStable(c.out, func(i, j int) bool {
		a, b := c.out[i], c.out[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Rule < b.Rule
	})
	return c.out
}

func (c *checker) report(rule string, fn *csrc.Func, at csrc.Pos, format string, args ...any) {
	c.reportFix(rule, fn, at, "", format, args...)
}

func (c *checker) reportFix(rule string, fn *csrc.Func, at csrc.Pos, fix, format string, args ...any) {
	r, _ := RuleByID(rule)
	msg := fmt.Sprintf(format, args...)
	key := fmt.Sprintf("%s:%d:%d:%s", rule, at.Line, at.Col, msg)
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	if fix == "" {
		fix = r.Fix
	}
	fd := Finding{Rule: r.ID, Name: r.Name, Severity: r.Severity, Level: r.Severity.String(), Path: c.f.Path,
		Line: at.Line, Col: at.Col, Message: msg, Fix: fix, BugChecks: bugChecks(r.BugChecks)}
	fd.Excerpt, fd.caret = c.line(at.Line, at.Col)
	if fn != nil {
		fd.Function = fn.Name
	}
	c.out = append(c.out, fd)
}

// line returns source line n with tabs expanded, trimmed to 200 bytes,
// and where column col (1-based, in bytes of the original) falls in it.
func (c *checker) line(n, col int) (string, int) {
	src := c.f.Src
	for l := 1; l < n; l++ {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return "", 0
		}
		src = src[i+1:]
	}
	if i := bytes.IndexByte(src, '\n'); i >= 0 {
		src = src[:i]
	}
	caret := 0
	if col >= 1 && col-1 <= len(src) {
		caret = len(strings.ReplaceAll(string(src[:col-1]), "\t", "    ")) + 1
	}
	s := strings.TrimRight(strings.ReplaceAll(string(src), "\t", "    "), "\r ")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if caret > len(s) {
		caret = 0
	}
	return s, caret
}

// ---- roles and IRQL at entry ----

func (c *checker) inferRoles() {
	for k, v := range c.f.Roles {
		c.roles[k] = v
	}
	for _, fn := range c.f.Funcs {
		for _, call := range fn.Calls() {
			r, ok := registrations[call.Callee()]
			if !ok {
				continue
			}
			a := call.Arg(r.arg).Strip()
			if a != nil && a.Kind == csrc.EUnary && a.Op == "&" {
				a = a.X
			}
			if a != nil && a.Kind == csrc.EIdent {
				if _, known := c.roles[a.Name]; !known {
					c.roles[a.Name] = r.role
				}
			}
		}
	}
}

// annotIRQL reads a function's IRQL annotations: min, max at entry.
func annotIRQL(as []csrc.Annotation) (lo, hi int, ok bool) {
	lo, hi = unknown, unknown
	for _, a := range as {
		switch a.Name {
		case "_IRQL_requires_", "__drv_requiresIRQL":
			l := parseIRQL(a.Args)
			lo, hi, ok = l, l, true
		case "_IRQL_requires_max_", "__drv_maxIRQL", "_IRQL_always_function_max_":
			hi, ok = parseIRQL(a.Args), true
		case "_IRQL_requires_min_", "__drv_minIRQL", "_IRQL_always_function_min_":
			lo, ok = parseIRQL(a.Args), true
		}
	}
	return lo, hi, ok
}

func (c *checker) annots(name string) []csrc.Annotation {
	var as []csrc.Annotation
	if fn := c.funcs[name]; fn != nil {
		as = append(as, fn.Annots...)
	}
	if p := c.protos[name]; p != nil {
		as = append(as, p.Annots...)
	}
	return as
}

// irqlEntries computes each function's IRQL range at entry: from its
// annotations, its role, or, for helpers, from where it is called in
// this file (a helper only called at DISPATCH_LEVEL runs at
// DISPATCH_LEVEL; an uncalled unannotated one is taken to run at
// PASSIVE_LEVEL, as the CodeQL IRQL queries do).
func (c *checker) irqlEntries() {
	fixed := map[string]bool{}
	for name := range c.funcs {
		lo, hi, ok := annotIRQL(c.annots(name))
		if rlo, rhi, rok := roleIRQL(c.roles[name]); rok {
			if lo == unknown {
				lo = rlo
			}
			if hi == unknown {
				hi = rhi
			}
			ok = true
		}
		if ok {
			if lo == unknown {
				lo = passive
			}
			c.entry[name] = [2]int{lo, hi}
			fixed[name] = true
		}
	}
	callers := map[string][]*callSite{}
	for i := range c.sites {
		s := &c.sites[i]
		if n := s.call.Callee(); c.funcs[n] != nil {
			callers[n] = append(callers[n], s)
		}
		// A function passed as a callback is called from elsewhere.
		for _, a := range s.call.Args {
			if a = a.Strip(); a != nil && a.Kind == csrc.EIdent && c.funcs[a.Name] != nil && !fixed[a.Name] {
				callers[a.Name] = append(callers[a.Name], nil)
			}
		}
	}
	for name := range c.funcs {
		if !fixed[name] {
			if len(callers[name]) == 0 && !c.referenced(name) {
				c.entry[name] = [2]int{passive, passive}
			} else {
				c.entry[name] = [2]int{passive, unknown}
			}
		}
	}
	for iter := 0; iter < 8; iter++ {
		changed := false
		for name, sites := range callers {
			if fixed[name] {
				continue
			}
			lo, hi := 1<<30, 0
			for _, s := range sites {
				if s == nil {
					lo, hi = passive, unknown
					break
				}
				e := c.entry[s.fn.Name]
				slo := max(e[0], s.raisedAll)
				shi := e[1]
				if shi != unknown {
					shi = max(shi, s.raisedAny)
				}
				lo = min(lo, slo)
				if shi == unknown || hi == unknown {
					hi = unknown
				} else {
					hi = max(hi, shi)
				}
			}
			if lo == 1<<30 {
				continue
			}
			if c.entry[name] != [2]int{lo, hi} {
				c.entry[name] = [2]int{lo, hi}
				changed = true
			}
		}
		if !changed {
			break
		}
	}
}

// referenced reports whether a function's name is used other than in a
// call (stored in a dispatch table or passed on), so it is called from
// outside.
func (c *checker) referenced(name string) bool {
	if c.refs == nil {
		c.refs = map[string]bool{}
		note := func(e *csrc.Expr) {
			e = e.Strip()
			if e != nil && e.Kind == csrc.EUnary && e.Op == "&" {
				e = e.X.Strip()
			}
			if e != nil && e.Kind == csrc.EIdent {
				c.refs[e.Name] = true
			}
		}
		for _, fn := range c.f.Funcs {
			for _, x := range fn.Exprs() {
				switch x.Kind {
				case csrc.ECall:
					for _, a := range x.Args {
						note(a)
					}
				case csrc.EAssign:
					note(x.Y)
				}
			}
			csrc.WalkStmt(fn.Body, func(s *csrc.Stmt) bool {
				for _, d := range s.Decls {
					note(d.Init)
				}
				return true
			})
		}
		for _, g := range c.f.Globals {
			csrc.WalkExpr(g.Init, func(x *csrc.Expr) bool {
				if x.Kind == csrc.EIdent {
					c.refs[x.Name] = true
				}
				return true
			})
		}
	}
	return c.refs[name]
}

// isPaged reports whether a function of this file is pageable.
func (c *checker) isPaged(name string) bool {
	if sec, ok := c.f.Sections[name]; ok {
		return strings.HasPrefix(strings.ToUpper(sec), "PAGE")
	}
	if fn := c.funcs[name]; fn != nil {
		if p, ok := c.pagedFn[name]; ok {
			return p
		}
		p := pagedCodeCount(fn) > 0
		c.pagedFn[name] = p
		return p
	}
	return false
}

func pagedCodeCount(fn *csrc.Func) int {
	n := 0
	for _, call := range fn.Calls() {
		if call.Callee() == "PAGED_CODE" {
			n++
		}
	}
	return n
}

// holdsOnExit reports functions meant to return with a lock held or the
// IRQL raised (annotated, or named as lock helpers).
func (c *checker) holdsOnExit(fn *csrc.Func) bool {
	for _, a := range c.annots(fn.Name) {
		switch a.Name {
		case "_IRQL_raises_", "_Acquires_lock_", "_Acquires_exclusive_lock_", "_Acquires_shared_lock_",
			"_IRQL_saves_global_", "__drv_raisesIRQL", "__drv_acquiresResource", "_Requires_lock_held_":
			return true
		}
	}
	for _, p := range fn.Params {
		for _, a := range p.Annots {
			if a.Name == "_IRQL_saves_" || a.Name == "__drv_savesIRQL" {
				return true
			}
		}
	}
	n := strings.ToLower(fn.Name)
	return strings.Contains(n, "acquire") || strings.Contains(n, "lock") && !strings.Contains(n, "unlock") && !strings.Contains(n, "release")
}

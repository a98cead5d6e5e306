package lint

import "github.com/bugcheck/bugcheck/lint/csrc"

// The path analyses (the walker of flow.go and the handle analysis of
// handles.go) walk a function's statements once, splitting their state
// at branches and joining it where paths meet. paths is that shared
// walk: branches, #if arms, loops, switch, labels, goto, break, return
// and __try; each analysis brings its state and what happens at
// expressions, declarations, conditions and returns.

// pathState is one path's state, a pointer; nil stands for no path.
type pathState interface {
	comparable
	isDead() bool
}

// pathSteps is what an analysis does where the walk leaves it to it.
type pathSteps[S pathState] interface {
	exprStmt(e *csrc.Expr, st S) // an expression statement
	eval(e *csrc.Expr, st S)     // a loop's initialiser or update
	decl(d *csrc.VarDecl, st S)
	cond(e *csrc.Expr, st S) (S, S) // the states where e is true and false
	ret(s *csrc.Stmt, st S)         // a return statement, before the path ends
	clone(st S) S
	merge(a, b S) S // joins two paths; either may be nil or dead
	kill(st S) S    // the state once the path has jumped away
	dead() S        // a state no path reaches
	try(enter bool) // entering (true) or leaving a __try body
}

// paths walks statements for one function.
type paths[S pathState] struct {
	steps  pathSteps[S]
	labels map[string]S
	breaks []S // innermost loop or switch last
}

func newPaths[S pathState](steps pathSteps[S]) paths[S] {
	return paths[S]{steps: steps, labels: map[string]S{}}
}

func (p *paths[S]) stmts(list []*csrc.Stmt, st S, depth int) S {
	for _, s := range list {
		st = p.stmt(s, st, depth+1)
	}
	return st
}

// block walks an optional statement.
func (p *paths[S]) block(s *csrc.Stmt, st S, depth int) S {
	if s == nil {
		return st
	}
	return p.stmt(s, st, depth+1)
}

func (p *paths[S]) stmt(s *csrc.Stmt, st S, depth int) S {
	if s == nil || depth > 300 {
		return st
	}
	if st.isDead() && s.Kind != csrc.SLabel && s.Kind != csrc.SCase {
		return st
	}
	ps := p.steps
	switch s.Kind {
	case csrc.SBlock:
		return p.stmts(s.Body, st, depth)
	case csrc.SExpr:
		ps.exprStmt(s.Expr, st)
	case csrc.SDecl:
		for _, d := range s.Decls {
			ps.decl(d, st)
		}
	case csrc.SIf:
		if s.Preproc {
			// Both arms of #if/#else are analysed, as alternatives.
			t := p.block(s.Then, ps.clone(st), depth)
			e := st
			if s.Else != nil {
				e = p.block(s.Else, ps.clone(st), depth)
			}
			return ps.merge(t, e)
		}
		t, f := ps.cond(s.Expr, st)
		if x := s.Expr.Strip(); x != nil && (x.Name == "TRUE" && x.Kind == csrc.EIdent || x.Kind == csrc.ENumber && x.Name == "1") {
			f = ps.kill(f) // if (TRUE): only the then arm runs
		}
		t = p.block(s.Then, t, depth)
		if s.Else != nil {
			f = p.block(s.Else, f, depth)
		}
		return ps.merge(t, f)
	case csrc.SLoop:
		for _, d := range s.Body {
			st = p.stmt(d, st, depth+1)
		}
		if s.Init != nil {
			ps.eval(s.Init, st)
		}
		var t, f S
		if s.Expr != nil {
			t, f = ps.cond(s.Expr, st)
		} else {
			t, f = ps.clone(st), ps.clone(st)
		}
		var none S
		p.breaks = append(p.breaks, none)
		body := p.block(s.Then, t, depth)
		if s.Post != nil && !body.isDead() {
			ps.eval(s.Post, body)
		}
		br := p.breaks[len(p.breaks)-1]
		p.breaks = p.breaks[:len(p.breaks)-1]
		if s.Expr != nil && !body.isDead() {
			// The loop ends where its condition fails.
			_, body = ps.cond(s.Expr, body)
		}
		return ps.merge(ps.merge(f, body), br)
	case csrc.SSwitch:
		ps.eval(s.Expr, st)
		entry := st
		cur := ps.dead()
		hasDefault := false
		var none S
		p.breaks = append(p.breaks, none)
		for _, c := range s.Body {
			if c.Kind == csrc.SCase {
				if c.Expr == nil {
					hasDefault = true
				}
				cur = ps.merge(cur, entry)
				cur = p.stmts(c.Body, cur, depth)
				continue
			}
			cur = p.stmt(c, cur, depth+1)
		}
		br := p.breaks[len(p.breaks)-1]
		p.breaks = p.breaks[:len(p.breaks)-1]
		out := ps.merge(cur, br)
		if !hasDefault {
			out = ps.merge(out, entry)
		}
		return out
	case csrc.SCase:
		return p.stmts(s.Body, st, depth)
	case csrc.SReturn:
		ps.ret(s, st)
		return ps.kill(st)
	case csrc.SBreak, csrc.SLeave:
		if n := len(p.breaks); n > 0 && s.Kind == csrc.SBreak {
			p.breaks[n-1] = ps.merge(p.breaks[n-1], st)
		}
		return ps.kill(st)
	case csrc.SContinue:
		return ps.kill(st)
	case csrc.SGoto:
		p.labels[s.Label] = ps.merge(p.labels[s.Label], st)
		return ps.kill(st)
	case csrc.SLabel:
		if prev, ok := p.labels[s.Label]; ok {
			st = ps.merge(st, prev)
		}
		return p.stmts(s.Body, st, depth)
	case csrc.STry:
		ps.try(true)
		before := ps.clone(st)
		body := p.block(s.Then, st, depth)
		ps.try(false)
		if s.Else == nil {
			return body
		}
		h := p.block(s.Else, ps.merge(before, body), depth)
		return ps.merge(body, h)
	}
	return st
}

// joinTrivial does the joins in which one side has no path: the result
// is a copy of the other side. ok is false when both sides have a path.
func joinTrivial[S pathState](a, b S, clone func(S) S) (c S, ok bool) {
	var none S
	switch {
	case a == none || a.isDead():
		if b == none {
			return a, true
		}
		return clone(b), true
	case b == none || b.isDead():
		return clone(a), true
	}
	return none, false
}

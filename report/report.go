// Package report renders analysis results for people (text) and programs
// (JSON). The text report reads top to bottom: the verdict and what to do
// first, then the detail a driver developer needs, in the spirit of
// WinDbg's !analyze -v.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/bugcheck/bugcheck/analyze"
)

// JSON writes the report as indented JSON.
func JSON(w io.Writer, r *analyze.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// TextOptions tune the text report.
type TextOptions struct {
	AllModules bool // list every loaded module, not only those on the stack
	AllStack   bool // list stack slots below the faulting frame too
	Width      int  // wrap paragraphs at this width; 0 means 100
}

// Text writes the human-readable report.
func Text(w io.Writer, r *analyze.Report, o TextOptions) error {
	if o.Width <= 0 {
		o.Width = 100
	}
	p := &printer{w: w, width: o.Width}
	p.line("bugcheck report — %s", r.File)
	p.line("%s", strings.Repeat("=", min(o.Width, len("bugcheck report — ")+len([]rune(r.File)))))
	p.blank()
	p.heading("SUMMARY")
	p.kv("Bug check", fmt.Sprintf("%s %s", r.BugCheck.Code, r.BugCheck.Name))
	if r.Culprit.Module != "" {
		origin := ""
		if r.Culprit.Origin != "" && r.Culprit.Origin != "unknown" {
			origin = ", " + strings.ReplaceAll(r.Culprit.Origin, "-", " ")
		}
		p.kv("Probably caused by", fmt.Sprintf("%s (%s confidence%s)", r.Culprit.Module, r.Culprit.Confidence, origin))
		if c := r.Culprit; c.Description != "" || c.Company != "" {
			p.kv("Driver", strings.TrimSpace(fmt.Sprintf("%s — %s, version %s", c.Description, c.Company, c.FileVersion)))
		}
	} else {
		p.kv("Probably caused by", fmt.Sprintf("no single driver (%s, %s confidence)", r.Culprit.Kind, r.Culprit.Confidence))
	}
	if f := r.FaultingIP; f != nil {
		if f.Function != "" {
			p.kv("Faulting code", f.Function+" ("+f.Symbol+")")
		} else {
			p.kv("Faulting code", f.Symbol)
		}
	}
	if r.Access != nil {
		p.kv("Memory access", fmt.Sprintf("%s of %s", r.Access.Kind, r.Access.Address))
	}
	p.kv("Bucket", r.Bucket)
	p.blank()
	p.wrap("  ", r.Explanation)
	if len(r.Culprit.Evidence) > 0 {
		p.blank()
		p.line("  Evidence:")
		for _, e := range r.Culprit.Evidence {
			p.wrapHanging("    - ", e)
		}
	}
	p.blank()
	p.heading("WHAT TO DO")
	p.steps(r.Playbook, analyze.AudienceAdmin)
	if hasAudience(r.Playbook, analyze.AudienceDeveloper) {
		p.blank()
		p.heading("FOR THE DRIVER'S DEVELOPER")
		p.steps(r.Playbook, analyze.AudienceDeveloper)
	}
	p.blank()
	if len(r.SourceFindings) > 0 {
		sourceSection(p, r.SourceFindings)
		p.blank()
	}

	p.heading("CRASH DETAILS")
	p.kv("Dump", fmt.Sprintf("%s, %s, %d bytes", r.DumpType, r.Arch, r.FileSize))
	osLine := fmt.Sprintf("%s (build %d), %s, %d processors", r.OS.Name, r.OS.Build, r.OS.ProductType, r.OS.Processors)
	if r.OS.Checked {
		osLine += ", checked build"
	}
	p.kv("Windows", osLine)
	if r.CrashTime != "" {
		p.kv("Crash time", fmt.Sprintf("%s (up %s)", r.CrashTime, uptime(r.UptimeSeconds)))
	}
	if r.BugCheck.Processor != nil {
		p.kv("Processor", fmt.Sprintf("%d (the one that stopped the system)", *r.BugCheck.Processor))
	}
	if r.Process != nil {
		p.kv("Running process", r.Process.Name)
	}
	if m := r.Machine; m != nil {
		if m.CommitLimitPages > 0 {
			p.kv("Commit charge", fmt.Sprintf("%d of %d pages (%.1f%%), peak %d", m.CommittedPages, m.CommitLimitPages, m.CommitPercent, m.CommitPeakPages))
		}
		if m.NonPagedPoolMax > 0 || m.PagedPoolMax > 0 {
			p.kv("Pool", fmt.Sprintf("nonpaged %d of %d, paged %d of %d", m.NonPagedPoolUsed, m.NonPagedPoolMax, m.PagedPoolUsed, m.PagedPoolMax))
		}
		if m.SpecialPoolTag != "" {
			p.kv("Special pool tag", m.SpecialPoolTag)
		}
		for _, n := range m.Notes {
			p.kv("Note", n)
		}
	}
	p.blank()
	p.line("  Bug check %s %s", r.BugCheck.Code, r.BugCheck.Name)
	for _, m := range r.BugCheck.Meanings {
		s := fmt.Sprintf("    Arg%d: %-18s", m.Index, m.Value)
		if m.Meaning != "" {
			s += " " + m.Meaning
		}
		if m.Decoded != "" {
			s += " [" + m.Decoded + "]"
		}
		p.line("%s", s)
	}
	if len(r.BugCheck.Causes) > 0 {
		p.line("    Usual causes of this bug check, most likely first:")
		for _, c := range r.BugCheck.Causes {
			p.wrapHanging("      - ", c)
		}
	}
	if e := r.Exception; e != nil {
		p.blank()
		name := e.Name
		if e.Text != "" {
			name += " — " + e.Text
		}
		p.line("  Exception %s %s", e.Code, name)
		p.line("    at %s, flags %s, parameters [%s] (from %s)", e.Address, e.Flags, strings.Join(e.Parameters, " "), e.Source)
	}
	if a := r.Access; a != nil {
		p.line("  Memory access: %s of %s (from %s)", a.Kind, a.Address, a.Source)
		if a.Note != "" {
			p.wrapHanging("    note: ", a.Note)
		}
		if t := a.PTE; t != nil {
			p.wrapHanging("    page tables: ", fmt.Sprintf("%s %s: %s", t.Entry, t.Value, t.Explanation))
		}
		if pl := a.Pool; pl != nil {
			s := fmt.Sprintf("the access lands %s of a %s-byte pool buffer at %s tagged '%s'", pl.Where, pl.Size, pl.Address, pl.Tag)
			if len(pl.Owners) > 0 {
				s += " (the tag is in the code of " + strings.Join(pl.Owners, ", ") + ")"
			}
			p.wrapHanging("    pool: ", s)
		}
	}
	if f := r.FaultingIP; f != nil {
		p.blank()
		p.line("  Faulting instruction (%s):", f.Source)
		if f.Instruction != "" {
			p.line("    %s  %-20s %s", f.Address, f.Bytes, f.Instruction)
			if f.Access != "" {
				s := fmt.Sprintf("    %s of %d bytes", f.Access, f.AccessSize)
				if f.EffectiveAddress != "" {
					s += " at " + f.EffectiveAddress
				}
				p.line("%s", s)
			}
		} else {
			p.line("    %s  %s", f.Address, f.Symbol)
		}
		if f.Note != "" {
			p.wrapHanging("    note: ", f.Note)
		}
	}
	if c := r.Context; c != nil {
		p.blank()
		p.line("  Registers (%s%s):", c.Source, map[bool]string{true: "", false: "; a trap frame holds only some registers"}[c.Complete])
		p.registers(r)
	}
	if r.Process != nil {
		s := fmt.Sprintf("  Process: %s", r.Process.Name)
		if r.Process.ID != 0 {
			s += fmt.Sprintf(" (pid %d)", r.Process.ID)
		}
		p.line("%s", s)
	}
	if r.Thread != nil {
		s := "  Current thread: " + r.Thread.Address
		if r.Thread.ID != 0 {
			s += fmt.Sprintf(" (tid %#x)", r.Thread.ID)
		}
		p.line("%s", s)
	}
	p.blank()
	if ev := r.Events; ev != nil {
		eventSection(p, ev)
	}
	p.heading("STACK")
	if len(r.Frames) > 0 {
		p.line("  Call stack unwound with the modules' unwind data (innermost first):")
		p.blank()
		tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tChild-SP\tIP\tCall site")
		for _, f := range r.Frames {
			site := f.Symbol
			if f.Function != "" {
				site = f.Function
			}
			if t := f.Trap; t != nil {
				note := fmt.Sprintf("(%s @ %s", t.Kind, t.Address)
				if t.FaultAddress != "" {
					note += ", fault address " + t.FaultAddress
				}
				if t.ErrorCode != "" {
					note += ", error code " + t.ErrorCode
				}
				fmt.Fprintf(tw, "  \t\t\t%s)\n", note)
			}
			fmt.Fprintf(tw, "  %02d\t%s\t%s\t%s\n", f.Number, f.ChildSP, f.IP, site)
		}
		tw.Flush()
		if r.FramesNote != "" {
			p.wrapHanging("  ", "("+r.FramesNote+")")
		}
		p.blank()
	} else if r.FramesNote != "" {
		p.wrapHanging("  ", "("+r.FramesNote+")")
	}
	p.line("  Values on the captured stack that point into loaded modules (innermost first). Without")
	p.line("  unwind data this is a scan: 'call' marks values that follow a call instruction, as return")
	p.line("  addresses do; '-' means the code bytes were not captured.")
	p.blank()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  Stack address\tValue\tSymbol\tCall")
	shown := 0
	onStack := map[string]bool{}
	for _, s := range r.Stack {
		onStack[strings.ToLower(s.Module)] = true
		if !o.AllStack && r.FaultingIP != nil && hasAfter(r) && !s.AfterFault {
			continue
		}
		call := "-"
		if s.CallVerified != nil {
			call = map[bool]string{true: "call", false: "no"}[*s.CallVerified]
		}
		sym := s.Symbol
		if s.Function != "" {
			sym += "  " + s.Function
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Address, s.Value, sym, call)
		shown++
	}
	tw.Flush()
	if hidden := len(r.Stack) - shown; hidden > 0 {
		p.line("  (%d entries below the faulting frame not shown: --all-stack shows them)", hidden)
	}
	if len(r.Stack) == 0 {
		p.line("  (no captured stack values point into loaded modules)")
	}
	p.blank()
	p.heading("MODULES")
	p.line("  %d loaded, %d recently unloaded.", len(r.Modules), len(r.Unloaded))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  Base\tEnd\tTimestamp\tName\tPath")
	for _, m := range r.Modules {
		if !o.AllModules && !onStack[strings.ToLower(m.Name)] && !strings.EqualFold(m.Name, r.Culprit.Module) {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", m.Base, m.End, m.Timestamp, m.Name, m.Path)
	}
	tw.Flush()
	if !o.AllModules {
		p.line("  (modules on the stack only: --all-modules lists all %d)", len(r.Modules))
	}
	if len(r.Unloaded) > 0 {
		p.line("  Unloaded:")
		for _, u := range r.Unloaded {
			p.line("    %s  %s-%s", u.Name, u.Start, u.End)
		}
	}
	if len(r.Warnings) > 0 {
		p.blank()
		p.heading("WARNINGS")
		for _, s := range r.Warnings {
			p.wrapHanging("  - ", s)
		}
	}
	return p.err
}

func hasAudience(steps []analyze.Step, aud string) bool {
	for _, s := range steps {
		if s.Audience == aud {
			return true
		}
	}
	return false
}

// steps prints the playbook steps for one audience, numbered, with their
// commands on their own lines so they can be copied.
func (p *printer) steps(steps []analyze.Step, aud string) {
	n := 0
	for _, s := range steps {
		if s.Audience != aud {
			continue
		}
		n++
		p.wrapHanging(fmt.Sprintf("  %d. ", n), s.Action)
		for _, c := range s.Commands {
			p.line("       > %s", c)
		}
	}
}

func hasAfter(r *analyze.Report) bool {
	for _, s := range r.Stack {
		if s.AfterFault {
			return true
		}
	}
	return false
}

func uptime(sec float64) string {
	if sec < 60 {
		return fmt.Sprintf("%.1f s", sec)
	}
	s := int64(sec)
	d, h, m := s/86400, s/3600%24, s/60%60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh %dm", d, h, m)
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, s%60)
	}
	return fmt.Sprintf("%dm %ds", m, s%60)
}

type printer struct {
	w     io.Writer
	width int
	err   error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p *printer) blank() { p.line("") }

func (p *printer) heading(s string) { p.line("%s", s) }

func (p *printer) kv(k, v string) { p.line("  %-20s %s", k+":", v) }

func (p *printer) wrap(indent, text string) { p.wrapHanging(indent, text) }

// wrapHanging wraps text, starting with first and indenting continuation
// lines to its width.
func (p *printer) wrapHanging(first, text string) {
	pad := strings.Repeat(" ", len([]rune(first)))
	cur := first
	n := len([]rune(cur))
	fresh := true
	for _, word := range strings.Fields(text) {
		wl := len([]rune(word))
		if !fresh && n+1+wl > p.width {
			p.line("%s", cur)
			cur, n, fresh = pad, len(pad), true
		}
		if !fresh {
			cur += " "
			n++
		}
		cur += word
		n += wl
		fresh = false
	}
	p.line("%s", cur)
}

func (p *printer) registers(r *analyze.Report) {
	var names []string
	for _, n := range analyze.RegisterOrder(r.Context) {
		if !strings.HasPrefix(n, "dr") && n != "mxcsr" { // debug and SSE control state: JSON only
			names = append(names, n)
		}
	}
	const perLine = 3
	for i := 0; i < len(names); i += perLine {
		var parts []string
		for _, n := range names[i:min(i+perLine, len(names))] {
			parts = append(parts, fmt.Sprintf("%4s=%-18s", n, r.Context.Registers[n]))
		}
		p.line("    %s", strings.TrimRight(strings.Join(parts, " "), " "))
	}
}

// eventSection prints what the System event log says about the crash.
func eventSection(p *printer, ev *analyze.EventEvidence) {
	p.heading("EVENT LOG")
	if ev.Matched {
		p.wrapHanging("  This crash in the log: ", ev.Crash+" (matched by "+ev.How+")")
		for _, e := range ev.Events {
			p.line("    - %s", e)
		}
	} else {
		note := ev.Note
		if note != "" {
			note = " (" + note + ")"
		}
		p.wrapHanging("  ", "The log has no record of this crash"+note+".")
	}
	lists := []struct {
		title string
		items []string
	}{
		{"Hardware errors before it (WHEA):", ev.HardwareErrors},
		{"Storage errors before it:", ev.StorageErrors},
		{"Drivers installed or updated shortly before it:", ev.DriverChanges},
		{"Crashes in the log without a dump here:", ev.Unmatched},
	}
	for _, l := range lists {
		if len(l.items) == 0 {
			continue
		}
		p.line("  %s", l.title)
		for _, it := range l.items {
			p.wrapHanging("    - ", it)
		}
	}
	if h := ev.Hardware; h != nil {
		p.wrapHanging("  Hardware suspected ("+h.Confidence+" confidence): ", strings.Join(h.Reasons, "; "))
	}
	p.blank()
}

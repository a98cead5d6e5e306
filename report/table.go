package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bugcheck/bugcheck/fleet"
)

// column is a column of the crash table: its heading, its width in the
// text table and how to get its cell.
type column struct {
	head  string
	width int
	cell  func(*Row) string
	code  bool // shown as code in Markdown
}

func param(i int) func(*Row) string { return func(r *Row) string { return r.Parameters[i] } }

// crashColumns are BlueScreenView's columns, in its order, then the
// bucket. Widths fit the usual values; longer cells are shortened in the
// text table only.
var crashColumns = []column{
	{"Dump File", 36, func(r *Row) string { return r.Dump }, false},
	{"Crash Time", 19, func(r *Row) string { return tableTime(r.CrashTime) }, false},
	{"Bug Check String", 34, func(r *Row) string { return r.BugCheckName }, false},
	{"Bug Check Code", 14, func(r *Row) string { return r.BugCheckCode }, false},
	{"Parameter 1", 18, param(0), false},
	{"Parameter 2", 18, param(1), false},
	{"Parameter 3", 18, param(2), false},
	{"Parameter 4", 18, param(3), false},
	{"Caused By Driver", 20, func(r *Row) string { return r.Driver }, true},
	{"Caused By Address", 26, func(r *Row) string { return r.Address }, true},
	{"File Description", 24, func(r *Row) string { return r.Description }, false},
	{"File Version", 22, func(r *Row) string { return r.DriverVersion }, false},
	{"OS Build", 8, func(r *Row) string { return uintCell(r.OSBuild) }, false},
	{"Processors", 10, func(r *Row) string { return uintCell(r.Processors) }, false},
	{"Bucket", 0, func(r *Row) string { return r.Bucket }, true},
}

func uintCell(v uint32) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(v), 10)
}

// tableTime shows an RFC 3339 UTC time as "2006-01-02 15:04:05".
func tableTime(s string) string {
	return strings.TrimSuffix(strings.Replace(s, "T", " ", 1), "Z")
}

// statusNote is what a failed or duplicate row says in place of a crash.
func statusNote(r *Row) string {
	switch r.Status {
	case string(fleet.StatusFailed):
		return "FAILED: " + r.Error
	case string(fleet.StatusDuplicate):
		return "duplicate of " + r.DuplicateOf
	}
	return ""
}

// table is the text table, written as rows arrive: fixed column widths
// keep it aligned without holding rows.
type table struct {
	w      io.Writer
	header bool
}

func newTable(w io.Writer) *table { return &table{w: w} }

// fit pads s to width runes, shortening it with "…" at the left (paths
// end with the informative part).
func fit(s string, width int) string {
	if width == 0 {
		return s
	}
	n := utf8.RuneCountInString(s)
	if n > width {
		r := []rune(s)
		return "…" + string(r[n-width+1:])
	}
	return s + strings.Repeat(" ", width-n)
}

// oneLine keeps a cell on its line whatever a hostile name holds.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func (t *table) Write(res *fleet.Result) error {
	var b strings.Builder
	if !t.header {
		t.header = true
		for i, c := range crashColumns {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(fit(c.head, c.width))
		}
		b.WriteString("\n")
	}
	row := NewRow(res)
	b.WriteString(fit(oneLine(row.Dump), crashColumns[0].width))
	if note := statusNote(&row); note != "" {
		b.WriteString("  " + oneLine(note))
	} else {
		for _, c := range crashColumns[1:] {
			b.WriteString("  " + fit(oneLine(c.cell(&row)), c.width))
		}
	}
	_, err := io.WriteString(t.w, strings.TrimRight(b.String(), " ")+"\n")
	return err
}

func (t *table) Close(st fleet.Stats) error {
	_, err := fmt.Fprintf(t.w, "\n%s\n", statsLine(st))
	return err
}

// markdownMany writes a Markdown table for a ticket or a wiki page.
type markdownMany struct {
	w      io.Writer
	header bool
}

func mdCell(s string) string {
	s = oneLine(s)
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return s
}

func (m *markdownMany) Write(res *fleet.Result) error {
	var b strings.Builder
	if !m.header {
		m.header = true
		b.WriteString("# Crash dumps\n\n|")
		for _, c := range crashColumns {
			b.WriteString(" " + c.head + " |")
		}
		b.WriteString("\n|")
		for range crashColumns {
			b.WriteString("---|")
		}
		b.WriteString("\n")
	}
	row := NewRow(res)
	b.WriteString("| " + mdCell(row.Dump) + " |")
	if note := statusNote(&row); note != "" {
		b.WriteString(" **" + mdCell(note) + "** |")
		for range crashColumns[2:] {
			b.WriteString(" |")
		}
	} else {
		for _, c := range crashColumns[1:] {
			v := mdCell(c.cell(&row))
			if c.code && v != "" {
				// Code spans show backslashes as they are; only the pipe
				// needs escaping inside a table.
				v = c.cell(&row)
				v = "`" + strings.ReplaceAll(strings.ReplaceAll(oneLine(v), "`", "'"), "|", `\|`) + "`"
			}
			b.WriteString(" " + v + " |")
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(m.w, b.String())
	return err
}

func (m *markdownMany) Close(st fleet.Stats) error {
	if !m.header {
		if _, err := io.WriteString(m.w, "# Crash dumps\n\nNo dumps.\n"); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(m.w, "\n%s.\n", statsLine(st))
	return err
}

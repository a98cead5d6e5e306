package crashlog

import (
	"fmt"
	"strings"

	"github.com/bugcheck/bugcheck/analyze"
)

// Line is a crash in one line, with its time: the form reports list
// crashes in.
func (c *Crash) Line() string {
	s := c.Time.UTC().Format("2006-01-02 15:04:05Z") + " " + c.Summary()
	if c.NoDump && c.NoDumpReason != "" && !strings.Contains(s, c.NoDumpReason) {
		s += " (" + c.NoDumpReason + ")"
	}
	return s
}

// Evidence is what the log says of the dump of match m, in the form the
// analysis reports and weighs (analyze.Options.Events). all is every crash
// of the timeline (for the hardware verdict), noDump the crashes no dump
// belongs to.
func Evidence(m Match, all, noDump []*Crash) *analyze.EventEvidence {
	ev := &analyze.EventEvidence{Matched: m.Crash != nil, How: m.How, Note: m.Note}
	for _, c := range noDump {
		ev.Unmatched = append(ev.Unmatched, c.Line())
	}
	c := m.Crash
	if c == nil {
		return ev
	}
	ev.Crash = c.Line()
	for _, r := range c.Evidence {
		ev.Events = append(ev.Events, r.String())
	}
	ev.HardwareErrors = entryLines(c.HardwareErrors)
	ev.StorageErrors = entryLines(c.StorageErrors)
	ev.DriverChanges = entryLines(c.DriverChanges)
	if v := HardwareVerdict(c, all); v.Suspect {
		ev.Hardware = &analyze.HardwareEvidence{Confidence: v.Confidence, Reasons: v.Reasons}
	}
	return ev
}

func entryLines(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s %s (%s)", e.Time.UTC().Format("2006-01-02 15:04:05Z"), e.Summary, e.Event))
	}
	return out
}

package report

import (
	"fmt"

	"github.com/bugcheck/bugcheck/analyze"
)

// maxSourceText is how many source findings the text and Markdown reports
// list; the JSON report has them all.
const maxSourceText = 10

// sourceSection prints the findings of the review of the culprit's source
// (analyze --source), most relevant first.
func sourceSection(p *printer, fs []analyze.SourceFinding) {
	p.heading(fmt.Sprintf("SOURCE (%d finding%s in the driver's source, most relevant to this crash first)", len(fs), plural(len(fs))))
	for i, f := range fs {
		if i == maxSourceText {
			p.line("  ... and %d more (--json lists them all)", len(fs)-i)
			break
		}
		where := fmt.Sprintf("%s:%d", f.File, f.Line)
		if f.Function != "" {
			where += " in " + f.Function
		}
		p.wrapHanging(fmt.Sprintf("  %d. ", f.Rank), fmt.Sprintf("%s  %s %s (%s)", where, f.Rule, f.Name, f.Severity))
		p.wrapHanging("     ", f.Message)
		p.wrapHanging("     Why it matters here: ", f.Relevance)
		p.wrapHanging("     Fix: ", f.Fix)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// markdownSource writes the source findings as a Markdown section.
func markdownSource(p *printer, fs []analyze.SourceFinding) {
	p.line("## Source review")
	p.blank()
	p.line("%d finding%s in the driver's source, most relevant to this crash first.", len(fs), plural(len(fs)))
	p.blank()
	p.line("| # | Where | Rule | Finding | Why it matters here | Fix |")
	p.line("|---|---|---|---|---|---|")
	for i, f := range fs {
		if i == maxSourceText {
			break
		}
		where := fmt.Sprintf("`%s:%d`", f.File, f.Line)
		if f.Function != "" {
			where += " in `" + f.Function + "`"
		}
		p.line("| %d | %s | %s %s (%s) | %s | %s | %s |", f.Rank, where, f.Rule, f.Name, f.Severity, mdCell(f.Message), mdCell(f.Relevance), mdCell(f.Fix))
	}
	if len(fs) > maxSourceText {
		p.blank()
		p.line("_%d more in the JSON report._", len(fs)-maxSourceText)
	}
	p.blank()
}

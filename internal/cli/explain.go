package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bugcheck/bugcheck/bugcode"
	"github.com/bugcheck/bugcheck/lint"
)

// parseCode accepts 0x50, 50, 0x00000050, 0x10000050 or a name such as
// PAGE_FAULT_IN_NONPAGED_AREA (any case).
func parseCode(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	if v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(t), "0x"), 16, 32); err == nil {
		return uint32(v), nil
	}
	if c, ok := bugcode.ByName(t); ok {
		return c, nil
	}
	return 0, fmt.Errorf("%q is neither a bug check code (hex, like 0x50 or 50) nor a bug check name", s)
}

func explainCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "explain CODE|NAME|RULE",
		Short: "Explain a bug check code or a lint rule offline: name, parameters, meaning, fix",
		Example: `  bugcheck explain 0x50
  bugcheck explain 50
  bugcheck explain PAGE_FAULT_IN_NONPAGED_AREA
  bugcheck explain BCL040`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if r, ok := lint.RuleByID(args[0]); ok {
				return explainRule(stdout, r, asJSON)
			}
			code, err := parseCode(args[0])
			if err != nil {
				return err
			}
			in, ok := bugcode.Lookup(code)
			if !ok {
				return fmt.Errorf("bug check %#x is not a code Windows documents", code)
			}
			if asJSON {
				return writeJSON(stdout, struct {
					Code       string   `json:"code"`
					Name       string   `json:"name"`
					Base       string   `json:"base_code"`
					Variant    bool     `json:"variant"`
					Summary    string   `json:"summary,omitempty"`
					Parameters []string `json:"parameters"`
					Causes     []string `json:"likely_causes"`
					Rules      []string `json:"lint_rules"`
				}{fmt.Sprintf("%#x", in.Code), in.Name, fmt.Sprintf("%#x", in.Base), in.Variant, in.Summary, in.Params[:], append([]string{}, in.Causes...), ruleIDs(rulesFor(in.Base))})
			}
			fmt.Fprintf(stdout, "Bug check 0x%08X %s\n", in.Code, in.Name)
			if in.Variant {
				fmt.Fprintf(stdout, "  (the _M variant of 0x%X: same meaning, raised on another path)\n", in.Base)
			}
			if in.Summary != "" {
				fmt.Fprintf(stdout, "\n  %s\n", in.Summary)
			}
			fmt.Fprintln(stdout, "\n  Parameters:")
			for i, p := range in.Params {
				if p == "" {
					p = "(reserved, or not described yet)"
				}
				fmt.Fprintf(stdout, "    %d: %s\n", i+1, p)
			}
			if len(in.Causes) > 0 {
				fmt.Fprintln(stdout, "\n  Usual causes, most likely first:")
				for _, c := range in.Causes {
					fmt.Fprintf(stdout, "    - %s\n", c)
				}
			}
			if rs := rulesFor(in.Base); len(rs) > 0 {
				fmt.Fprintln(stdout, "\n  Driver source defects that lead to it ('bugcheck lint', 'bugcheck explain RULE'):")
				for _, r := range rs {
					fmt.Fprintf(stdout, "    %s %s\n", r.ID, r.Name)
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return c
}

// rulesFor lists the lint rules whose defects lead to the bug check.
func rulesFor(code uint32) []lint.Rule {
	var out []lint.Rule
	for _, r := range lint.Rules() {
		for _, c := range r.BugChecks {
			if c == code {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func ruleIDs(rs []lint.Rule) []string {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// explainRule writes what a lint rule finds, why it crashes and the fix.
func explainRule(w io.Writer, r lint.Rule, asJSON bool) error {
	d := r.Doc()
	if asJSON {
		return writeJSON(w, d)
	}
	fmt.Fprintf(w, "Lint rule %s %s (%s)\n\n%s\n\n%s\n", d.ID, d.Name, d.Severity, wrapText(d.Summary, "  ", 100), wrapText("Fix: "+d.Fix, "  ", 100))
	if len(d.BugChecks) > 0 {
		fmt.Fprintln(w, "\n  Leads to:")
		for _, b := range d.BugChecks {
			fmt.Fprintf(w, "    %s\n", b)
		}
	}
	if len(d.CodeQL) > 0 {
		fmt.Fprintf(w, "\n  Microsoft CodeQL driver queries for the same defect: %s\n", strings.Join(d.CodeQL, ", "))
	}
	return nil
}

// wrapText breaks s into lines of at most width bytes (words longer than
// that stay whole), each starting with indent.
func wrapText(s, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(s) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line)
			b.WriteByte('\n')
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}

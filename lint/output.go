package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Text writes findings as file:line:col blocks with the source line, the
// fix and the bug checks, then a summary line per file with parse quality.
func Text(w io.Writer, results []FileResult) error {
	total := 0
	for _, r := range results {
		if r.Err != "" {
			fmt.Fprintf(w, "%s: error: %s\n", r.Path, r.Err)
			continue
		}
		for _, f := range r.Findings {
			total++
			fmt.Fprintf(w, "%s:%d:%d: %s %s [%s]: %s\n", f.Path, f.Line, f.Col, f.Level, f.Rule, f.Name, f.Message)
			if f.Excerpt != "" {
				fmt.Fprintf(w, "    %5d | %s\n", f.Line, f.Excerpt)
				if f.caret > 0 {
					fmt.Fprintf(w, "          | %s^\n", strings.Repeat(" ", f.caret-1))
				}
			}
			fmt.Fprintf(w, "    fix: %s\n", f.Fix)
			if len(f.BugChecks) > 0 {
				var bc []string
				for _, b := range f.BugChecks {
					bc = append(bc, b.Hex+" "+b.Name)
				}
				fmt.Fprintf(w, "    leads to: %s\n", strings.Join(bc, ", "))
			}
		}
	}
	files, lines := 0, 0
	for _, r := range results {
		if r.Err == "" {
			files++
			lines += r.Lines
		}
	}
	fmt.Fprintf(w, "%d finding(s) in %d file(s), %d lines\n", total, files, lines)
	clean, worst := 0, -1
	for i, r := range results {
		if r.Err != "" {
			continue
		}
		if r.ErrorNodes == 0 {
			clean++
		}
		if worst < 0 || r.ErrorShare > results[worst].ErrorShare {
			worst = i
		}
	}
	if files > 0 {
		fmt.Fprintf(w, "parse quality: %d of %d file(s) parsed without syntax errors", clean, files)
		if bad := results[worst]; bad.ErrorShare > 0 {
			fmt.Fprintf(w, "; worst: %s, %.1f%% of its syntax unparsed (without the WDK headers)", bad.Path, 100*bad.ErrorShare)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// JSONReport is the --format json document.
type JSONReport struct {
	Files    []FileResult `json:"files"`
	Findings int          `json:"findings"`
}

// JSON writes the results as one indented JSON document.
func JSON(w io.Writer, results []FileResult) error {
	n := 0
	for _, r := range results {
		n += len(r.Findings)
	}
	if results == nil {
		results = []FileResult{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(JSONReport{Files: results, Findings: n})
}

// SARIF writes the results as a SARIF 2.1.0 log with one run, every rule
// described, and each finding's fix as text.
func SARIF(w io.Writer, results []FileResult, version string) error {
	type msg struct {
		Text string `json:"text"`
	}
	type region struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
	}
	type artifact struct {
		URI string `json:"uri"`
	}
	type physical struct {
		ArtifactLocation artifact `json:"artifactLocation"`
		Region           region   `json:"region"`
	}
	type location struct {
		PhysicalLocation physical `json:"physicalLocation"`
	}
	type fix struct {
		Description     msg   `json:"description"`
		ArtifactChanges []any `json:"artifactChanges"`
	}
	type result struct {
		RuleID     string         `json:"ruleId"`
		RuleIndex  int            `json:"ruleIndex"`
		Level      string         `json:"level"`
		Message    msg            `json:"message"`
		Locations  []location     `json:"locations"`
		Fixes      []fix          `json:"fixes,omitempty"`
		Properties map[string]any `json:"properties,omitempty"`
	}
	type rule struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		ShortDescription msg            `json:"shortDescription"`
		FullDescription  msg            `json:"fullDescription"`
		Help             msg            `json:"help"`
		DefaultConfig    map[string]any `json:"defaultConfiguration"`
		Properties       map[string]any `json:"properties"`
	}
	index := map[string]int{}
	var rs []rule
	for i, r := range Rules() {
		index[r.ID] = i
		var bc []string
		for _, b := range bugChecks(r.BugChecks) {
			bc = append(bc, b.Hex+" "+b.Name)
		}
		rs = append(rs, rule{ID: r.ID, Name: r.Name, ShortDescription: msg{r.Name}, FullDescription: msg{r.Summary},
			Help: msg{r.Fix}, DefaultConfig: map[string]any{"level": sarifLevel(r.Severity)},
			Properties: map[string]any{"bugChecks": bc, "codeqlQueries": r.CodeQL}})
	}
	out := []result{}
	for _, fr := range results {
		for _, f := range fr.Findings {
			var bc []string
			for _, b := range f.BugChecks {
				bc = append(bc, b.Hex+" "+b.Name)
			}
			out = append(out, result{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity),
				Message:    msg{f.Message},
				Locations:  []location{{physical{artifact{filepath.ToSlash(f.Path)}, region{f.Line, f.Col}}}},
				Fixes:      []fix{{Description: msg{f.Fix}, ArtifactChanges: []any{}}},
				Properties: map[string]any{"bugChecks": bc, "function": f.Function}})
		}
	}
	doc := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "bugcheck lint", "version": version,
				"informationUri": "https://github.com/bugcheck/bugcheck",
				"rules":          rs,
			}},
			"results": out,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

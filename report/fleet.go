package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/fleet"
)

// Row is one crash in the table of many dumps, with the columns of
// NirSoft's BlueScreenView, and what became of inputs that were not
// analysed. Its JSON form is an element of `bugcheck analyze --json` over
// several dumps (docs/json-schema.md).
type Row struct {
	Dump          string    `json:"dump"`   // the path, with "!member" for archive members
	Status        string    `json:"status"` // ok, failed or duplicate
	Folder        string    `json:"folder"`
	Machine       string    `json:"machine"` // the machine, by the dump's path (fleet.Machine)
	Size          int64     `json:"size,omitempty"`
	SHA256        string    `json:"sha256,omitempty"`
	DuplicateOf   string    `json:"duplicate_of,omitempty"`
	Error         string    `json:"error,omitempty"`
	CrashTime     string    `json:"crash_time,omitempty"`
	BugCheckName  string    `json:"bugcheck_name,omitempty"`
	BugCheckCode  string    `json:"bugcheck_code,omitempty"`
	Parameters    [4]string `json:"parameters,omitzero"`
	Driver        string    `json:"culprit_driver,omitempty"`
	Address       string    `json:"culprit_address,omitempty"` // module+offset of the faulting instruction in the culprit
	Description   string    `json:"driver_description,omitempty"`
	DriverVersion string    `json:"driver_version,omitempty"` // file version, or "timestamp 0x..." without the image
	OSBuild       uint32    `json:"os_build,omitempty"`
	Processors    uint32    `json:"processors,omitempty"`
	Bucket        string    `json:"bucket,omitempty"`
	Confidence    string    `json:"confidence,omitempty"`
	Summary       string    `json:"summary,omitempty"`

	Report *analyze.Report `json:"report,omitempty"` // the full report (schema version 1)
}

// NewRow builds the row of one result.
func NewRow(res *fleet.Result) Row {
	row := Row{Dump: res.Name, Status: string(res.Status), Folder: res.Dir, Machine: fleet.Machine(res), Size: res.Size, SHA256: res.SHA256, DuplicateOf: res.DuplicateOf}
	if res.Err != nil {
		row.Error = fleet.ErrorText(res.Err)
	}
	r := res.Report
	if r == nil {
		return row
	}
	row.Report = r
	row.CrashTime = r.CrashTime
	row.BugCheckName, row.BugCheckCode = r.BugCheck.Name, r.BugCheck.Code
	copy(row.Parameters[:], r.BugCheck.Parameters)
	row.Driver = r.Culprit.Module
	if f := r.FaultingIP; f != nil && f.Module != "" && strings.EqualFold(f.Module, r.Culprit.Module) {
		row.Address = f.Symbol
	}
	row.Description = r.Culprit.Description
	row.DriverVersion = fleet.DriverVersion(r)
	row.OSBuild, row.Processors = r.OS.Build, r.OS.Processors
	row.Bucket, row.Confidence, row.Summary = r.Bucket, r.Culprit.Confidence, r.Summary
	return row
}

// Formats returns the formats of the many-dump and bucket writers.
func Formats() []string { return []string{"table", "json", "jsonl", "csv", "markdown", "html"} }

// Many writes the results of many dumps as they arrive, without holding
// them: Write each result in order, then Close with the run's counts.
type Many interface {
	Write(res *fleet.Result) error
	Close(st fleet.Stats) error
}

// ManyOptions tune the many-dump writers.
type ManyOptions struct {
	Title     string      // HTML page title; default "bugcheck crash triage"
	Generated string      // HTML "generated" note, e.g. the time; empty leaves it out
	Text      TextOptions // for the text format
}

// NewMany returns the writer for format: table, json, jsonl, csv,
// markdown, html, or text (the full text report of every dump).
func NewMany(w io.Writer, format string, o ManyOptions) (Many, error) {
	switch format {
	case "table":
		return newTable(w), nil
	case "json":
		return &jsonMany{w: w}, nil
	case "jsonl":
		return &jsonlMany{w: w}, nil
	case "csv":
		return newCSV(w), nil
	case "markdown", "md":
		return &markdownMany{w: w}, nil
	case "html":
		return newHTML(w, o), nil
	case "text":
		return &textMany{w: w, o: o.Text}, nil
	}
	return nil, fmt.Errorf("unknown format %q (%s)", format, strings.Join(Formats(), ", "))
}

// textMany writes today's full text report for each analysed dump, a blank
// line before each, as `bugcheck analyze a.dmp b.dmp` always has.
type textMany struct {
	w io.Writer
	o TextOptions
}

func (t *textMany) Write(res *fleet.Result) error {
	if res.Report == nil {
		return nil
	}
	if _, err := fmt.Fprintln(t.w); err != nil {
		return err
	}
	return Text(t.w, res.Report, t.o)
}

func (t *textMany) Close(fleet.Stats) error { return nil }

// statsLine summarises a run in one sentence.
func statsLine(st fleet.Stats) string {
	return fmt.Sprintf("%d inputs: %d analysed, %d failed, %d duplicates", st.Inputs, st.Analysed, st.Failed, st.Duplicates)
}

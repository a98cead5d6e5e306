package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/bugcheck/bugcheck/fleet"
)

// csvHeader names the CSV columns: BlueScreenView's, then what a
// spreadsheet needs to sort and filter by.
var csvHeader = []string{
	"dump", "status", "crash_time", "bugcheck_name", "bugcheck_code",
	"parameter1", "parameter2", "parameter3", "parameter4",
	"culprit_driver", "culprit_address", "driver_description", "driver_version",
	"os_build", "processors", "bucket", "confidence", "folder", "machine", "size", "sha256", "duplicate_of", "error",
}

// csvMany writes RFC 4180 CSV, one row per input.
type csvMany struct {
	w      *csv.Writer
	header bool
}

func newCSV(w io.Writer) *csvMany { return &csvMany{w: csv.NewWriter(w)} }

// csvSafe keeps spreadsheets from running a cell as a formula: dump and
// driver names come from the dumps and the file system, not from us.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (c *csvMany) Write(res *fleet.Result) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(csvHeader); err != nil {
			return err
		}
	}
	r := NewRow(res)
	size := ""
	if r.Size > 0 {
		size = strconv.FormatInt(r.Size, 10)
	}
	rec := []string{
		r.Dump, r.Status, r.CrashTime, r.BugCheckName, r.BugCheckCode,
		r.Parameters[0], r.Parameters[1], r.Parameters[2], r.Parameters[3],
		r.Driver, r.Address, r.Description, r.DriverVersion,
		uintCell(r.OSBuild), uintCell(r.Processors), r.Bucket, r.Confidence, r.Folder, r.Machine, size, r.SHA256, r.DuplicateOf, r.Error,
	}
	for i := range rec {
		rec[i] = csvSafe(rec[i])
	}
	return c.w.Write(rec)
}

func (c *csvMany) Close(fleet.Stats) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(csvHeader); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

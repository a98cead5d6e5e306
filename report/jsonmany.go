package report

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/bugcheck/bugcheck/fleet"
)

// jsonMany writes a JSON array of rows, each carrying its full report,
// streamed element by element.
type jsonMany struct {
	w     io.Writer
	count int
}

func (j *jsonMany) Write(res *fleet.Result) error {
	b, err := json.MarshalIndent(NewRow(res), "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if j.count == 0 {
		sep = "[\n  "
	}
	j.count++
	_, err = io.WriteString(j.w, sep+string(b))
	return err
}

func (j *jsonMany) Close(fleet.Stats) error {
	end := "\n]\n"
	if j.count == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

// jsonlMany writes one compact JSON row per line (JSON Lines), for log
// pipelines.
type jsonlMany struct{ w io.Writer }

func (j *jsonlMany) Write(res *fleet.Result) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(NewRow(res)); err != nil {
		return err
	}
	_, err := j.w.Write(b.Bytes())
	return err
}

func (j *jsonlMany) Close(fleet.Stats) error { return nil }

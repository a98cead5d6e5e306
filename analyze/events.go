package analyze

import (
	"fmt"
	"strings"
)

// EventEvidence is what a machine's System event log says about the crash
// in a dump. The command line fills it from the log (package crashlog);
// the analysis reports it and weighs its hardware evidence.
type EventEvidence struct {
	Matched bool   `json:"matched"`       // the log recorded this crash
	How     string `json:"how,omitempty"` // how the log's crash was matched to this dump
	Note    string `json:"note,omitempty"`
	Crash   string `json:"crash,omitempty"` // the log's one-line account of the crash

	Events         []string `json:"events,omitempty"` // the records that report it
	HardwareErrors []string `json:"hardware_errors,omitempty"`
	StorageErrors  []string `json:"storage_errors,omitempty"`
	DriverChanges  []string `json:"driver_changes,omitempty"`

	// Hardware is set when the log points at hardware rather than a driver.
	Hardware *HardwareEvidence `json:"hardware,omitempty"`

	// Unmatched lists crashes the log recorded that no analysed dump
	// belongs to (power losses, dumps that were never written).
	Unmatched []string `json:"crashes_without_dump,omitempty"`
}

// HardwareEvidence is the log's case for failing hardware.
type HardwareEvidence struct {
	Confidence string   `json:"confidence"` // high, medium or low
	Reasons    []string `json:"reasons"`
}

// applyEvents adds the event log's evidence to the verdict. Repeated
// hardware errors outweigh a weak driver attribution; a strong one (the
// driver's own instruction faulted) stands, with the log noted beside it.
// The bucket is computed before this, so it stays the same with or
// without a log.
func (a *analysis) applyEvents() {
	ev := a.opt.Events
	if ev == nil {
		return
	}
	a.r.Events = ev
	hw := ev.Hardware
	if hw == nil || (hw.Confidence != ConfidenceHigh && hw.Confidence != ConfidenceMedium) {
		return
	}
	c := &a.r.Culprit
	why := "the System event log: " + strings.Join(hw.Reasons, "; ")
	switch {
	case c.Kind == KindHardware:
		c.Evidence = append(c.Evidence, why)
	case c.Kind == KindManual:
	case c.Confidence == ConfidenceHigh && c.Kind == KindDriver:
		c.Evidence = append(c.Evidence, why+" — test the hardware as well")
	default:
		was := "no driver"
		if c.Module != "" {
			was = c.Module
		}
		*c = Culprit{Kind: KindHardware, Confidence: hw.Confidence,
			Reason:   fmt.Sprintf("the System event log shows hardware errors around this crash, and the dump alone does not convict a driver (it pointed at %s with %s confidence)", was, or(c.Confidence, ConfidenceLow)),
			Evidence: append([]string{why}, c.Evidence...)}
	}
}

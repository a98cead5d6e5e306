package crashlog

import (
	"fmt"
	"time"
)

// Verdict says whether the log points at hardware rather than a driver.
type Verdict struct {
	Suspect    bool       `json:"suspect_hardware"`
	Confidence string     `json:"confidence,omitempty"` // high, medium, low
	Reasons    []string   `json:"reasons"`
	Evidence   []EventRef `json:"evidence"`
}

// Bug checks that bad memory, CPUs or power typically produce, besides
// 0x124: memory corruption seen as page faults, memory-management and
// pool damage, exceptions at odd addresses.
var memoryLike = map[uint32]bool{0x50: true, 0x1a: true, 0x3b: true, 0x0a: true, 0xd1: true, 0x7e: true, 0x1000007e: true, 0x19: true, 0xc5: true, 0x139: true, 0xef: true, 0x101: true}

// Bug checks of failed paging I/O, where storage errors are the usual cause.
var storageLike = map[uint32]bool{0x7a: true, 0x77: true, 0xf4: true, 0xed: true, 0x24: true}

// HardwareVerdict weighs the hardware evidence around crash c; all is
// every crash of the timeline (repeated, varied bug checks point at
// hardware too).
func HardwareVerdict(c *Crash, all []*Crash) Verdict {
	v := Verdict{Reasons: []string{}, Evidence: []EventRef{}}
	rank := 0 // 3 high, 2 medium, 1 low
	raise := func(r int, why string) {
		v.Reasons = append(v.Reasons, why)
		rank = max(rank, r)
	}
	var fatal, corrected int
	for _, h := range c.HardwareErrors {
		if h.Fatal {
			fatal++
		} else {
			corrected++
		}
		v.Evidence = append(v.Evidence, h.Event)
	}
	if c.BugCheck && c.Code == 0x124 {
		raise(3, "bug check 0x124 (WHEA_UNCORRECTABLE_ERROR): the processor or chipset reported an uncorrectable hardware error")
	}
	if fatal > 0 {
		raise(3, fmt.Sprintf("%d fatal hardware error(s) logged by WHEA (%s)", fatal, firstComponent(c, true)))
	}
	if corrected >= 3 {
		r := 2
		if c.BugCheck && (c.Code == 0x124 || memoryLike[c.Code]) {
			r = 3
		}
		raise(r, fmt.Sprintf("%d corrected hardware errors logged by WHEA before the crash (%s): the hardware is failing", corrected, firstComponent(c, false)))
	} else if corrected > 0 {
		raise(1, fmt.Sprintf("%d corrected hardware error(s) logged by WHEA before the crash (%s)", corrected, firstComponent(c, false)))
	}
	if c.BugCheck && c.Code == 0x50 && !canonical(c.Params[0]) {
		raise(2, fmt.Sprintf("bug check 0x50 at %#x, a non-canonical address no pointer can hold: typical of a flipped bit (memory)", c.Params[0]))
	}
	if len(c.StorageErrors) > 0 {
		for _, s := range c.StorageErrors {
			v.Evidence = append(v.Evidence, s.Event)
		}
		r := 1
		if c.BugCheck && storageLike[c.Code] {
			r = 2
		}
		raise(r, fmt.Sprintf("%d storage error(s) before the crash (%s)", len(c.StorageErrors), c.StorageErrors[len(c.StorageErrors)-1].Summary))
	}
	// Different bug checks within a week suggest memory, CPU or power.
	codes := map[uint32]bool{}
	for _, o := range all {
		if o.BugCheck && absDur(o.Time.Sub(c.Time)) <= 7*24*time.Hour {
			codes[o.Code] = true
		}
	}
	if len(codes) >= 3 {
		raise(1, fmt.Sprintf("%d different bug check codes within a week: varied crashes are typical of failing memory, CPU or power", len(codes)))
	}
	v.Suspect = rank >= 2
	v.Confidence = [...]string{"", "low", "medium", "high"}[rank]
	return v
}

func firstComponent(c *Crash, fatal bool) string {
	for _, h := range c.HardwareErrors {
		if h.Fatal == fatal && h.Component != "" {
			return h.Component
		}
	}
	return "component not recorded"
}

// canonical says whether an x64 address is canonical (bits 47-63 equal).
func canonical(a uint64) bool {
	top := a >> 47
	return top == 0 || top == 0x1ffff
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

package analyze

import "sort"

// SchemaVersion is the version of the JSON report schema (docs/json-schema.md).
// It changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// Report is the result of analysing one crash dump. Its JSON form is the
// documented, stable output of `bugcheck analyze --json`. Addresses, codes
// and sizes are lowercase 0x-prefixed hex strings.
type Report struct {
	SchemaVersion int      `json:"schema_version"`
	File          string   `json:"file"`
	FileSize      int64    `json:"file_size"`
	Format        string   `json:"format"`
	DumpType      string   `json:"dump_type"`
	Arch          string   `json:"arch"`
	OS            OS       `json:"os"`
	CrashTime     string   `json:"crash_time,omitempty"`
	UptimeSeconds float64  `json:"uptime_seconds"`
	BugCheck      BugCheck `json:"bugcheck"`

	Exception   *Exception     `json:"exception,omitempty"`
	Context     *Registers     `json:"context,omitempty"`
	FaultingIP  *FaultingIP    `json:"faulting_ip,omitempty"`
	Access      *Access        `json:"memory_access,omitempty"`
	Events      *EventEvidence `json:"events,omitempty"` // from the System event log, with --events
	Culprit     Culprit        `json:"culprit"`
	Bucket      string         `json:"bucket"`
	Summary     string         `json:"summary"`
	Explanation string         `json:"explanation"`
	Playbook    []Step         `json:"playbook"`
	Thread      *Thread        `json:"thread,omitempty"`
	Process     *Process       `json:"process,omitempty"`
	Frames      []StackFrame   `json:"frames"`
	FramesNote  string         `json:"frames_note,omitempty"`
	Stack       []StackSlot    `json:"stack"`
	Modules     []Module       `json:"modules"`
	Unloaded    []Unloaded     `json:"unloaded_modules"`
	Machine     *MachineState  `json:"machine_state,omitempty"`
	Captured    CapturedInfo   `json:"captured"`
	Warnings    []string       `json:"warnings"`

	// SourceFindings are the defects a review of the culprit's source
	// found (--source), most relevant to this crash first.
	SourceFindings []SourceFinding `json:"source_findings,omitempty"`
}

// OS describes the crashed system.
type OS struct {
	Build        uint32 `json:"build"`
	Name         string `json:"name"`
	MajorVersion uint32 `json:"major_version"`
	Checked      bool   `json:"checked_build"`
	ProductType  string `json:"product_type"`
	SuiteMask    string `json:"suite_mask"`
	Processors   uint32 `json:"processors"`
}

// BugCheck is the stop code and its parameters.
type BugCheck struct {
	Code       string      `json:"code"`
	Name       string      `json:"name"`
	Parameters []string    `json:"parameters"`
	Meanings   []ParamNote `json:"parameter_meanings"`
	Causes     []string    `json:"likely_causes"`
	Processor  *uint32     `json:"processor,omitempty"`
}

// ParamNote says what one bug check parameter means.
type ParamNote struct {
	Index   int    `json:"index"` // 1-based, as Microsoft's documentation numbers them
	Value   string `json:"value"`
	Meaning string `json:"meaning,omitempty"`
	Decoded string `json:"decoded,omitempty"`
}

// Exception is the exception record a bug check points to.
type Exception struct {
	Code       string   `json:"code"`
	Name       string   `json:"name,omitempty"`
	Text       string   `json:"description,omitempty"`
	Address    string   `json:"address"`
	Flags      string   `json:"flags"`
	Parameters []string `json:"parameters"`
	Source     string   `json:"source"`
}

// Registers is a register set and where it was found.
type Registers struct {
	Source    string            `json:"source"`
	Complete  bool              `json:"complete"` // false for trap frames, which save only some registers
	Registers map[string]string `json:"registers"`
	order     []string
}

// FaultingIP is the instruction that faulted.
type FaultingIP struct {
	Address          string `json:"address"`
	Module           string `json:"module,omitempty"`
	Offset           string `json:"offset,omitempty"`
	Symbol           string `json:"symbol"`
	Function         string `json:"function,omitempty"`
	Instruction      string `json:"instruction,omitempty"`
	Bytes            string `json:"bytes,omitempty"`
	Access           string `json:"access,omitempty"`
	AccessSize       int    `json:"access_size,omitempty"`
	EffectiveAddress string `json:"effective_address,omitempty"`
	Source           string `json:"source"`
	Note             string `json:"note,omitempty"`
}

// Access is the memory access that caused the crash, as the bug check or
// exception reports it.
type Access struct {
	Address string `json:"address"`
	Kind    string `json:"kind"` // read, write, execute or unknown
	Source  string `json:"source"`
	Note    string `json:"note,omitempty"`
	// PTE is what the page tables say of the address, in dumps that hold
	// them (kernel, automatic, active and complete dumps).
	PTE *PTE `json:"pte,omitempty"`
	// Pool is the pool allocation the access was aimed at, when the
	// registers lead to one (dumps that captured its header).
	Pool *PoolAllocation `json:"pool,omitempty"`
}

// PTE is the outcome of a page-table walk, like WinDbg's !pte.
type PTE struct {
	State       string `json:"state"` // Valid, NotMapped, PageFile, Transition, Prototype, DemandZero, ...
	Entry       string `json:"entry,omitempty"`
	Value       string `json:"value,omitempty"`
	Explanation string `json:"explanation"`
}

// Culprit is the module blamed and why.
type Culprit struct {
	Module     string   `json:"module,omitempty"`
	Path       string   `json:"path,omitempty"`
	Kind       string   `json:"kind"`             // driver, core, hardware, manual, unknown
	Origin     string   `json:"origin,omitempty"` // microsoft-inbox, third-party, unknown
	Reason     string   `json:"reason"`
	Confidence string   `json:"confidence"` // high, medium, low
	Evidence   []string `json:"evidence"`
	Version    string   `json:"timestamp,omitempty"`

	// From the image's version resource, when the image was available.
	Description string `json:"description,omitempty"`
	Company     string `json:"company,omitempty"`
	FileVersion string `json:"file_version,omitempty"`
	Product     string `json:"product,omitempty"`
}

// Thread is what the dump says about the thread that crashed.
type Thread struct {
	Address string `json:"address,omitempty"`
	ID      uint64 `json:"tid,omitempty"`
}

// Process is the process whose thread was running when the system stopped.
type Process struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	ID      uint64 `json:"pid,omitempty"`
}

// StackFrame is a frame of the unwound call stack, like a line of WinDbg's k.
type StackFrame struct {
	Number   int    `json:"number"`
	ChildSP  string `json:"child_sp"`
	IP       string `json:"ip"`
	Module   string `json:"module,omitempty"`
	Offset   string `json:"offset,omitempty"`
	Symbol   string `json:"symbol"`
	Function string `json:"function,omitempty"`
	Method   string `json:"method"` // context, unwind, leaf, trap or frame pointer
	// Trap is the interrupt or exception record the frame's registers were
	// restored from (method "trap"), like the frames WinDbg's k marks with
	// "TrapFrame @".
	Trap *TrapRecord `json:"trap,omitempty"`
}

// TrapRecord is a machine frame, KTRAP_FRAME or CONTEXT record crossed by
// the unwind.
type TrapRecord struct {
	Kind         string `json:"kind"` // machine frame, trap frame or context
	Address      string `json:"address"`
	FaultAddress string `json:"fault_address,omitempty"` // KTRAP_FRAME.FaultAddress (CR2 of a page fault)
	ErrorCode    string `json:"error_code,omitempty"`
}

// StackSlot is a captured stack slot whose value points into a module.
type StackSlot struct {
	Address      string `json:"address"` // where on the stack
	Value        string `json:"value"`
	Module       string `json:"module"`
	Offset       string `json:"offset"`
	Symbol       string `json:"symbol"`
	Function     string `json:"function,omitempty"`
	AfterFault   bool   `json:"after_fault"`             // at or above the faulting frame's stack pointer
	CallVerified *bool  `json:"call_verified,omitempty"` // the bytes before the value decode as a call (nil: code not captured)
}

// Module is a loaded module.
type Module struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Base      string `json:"base"`
	Size      string `json:"size"`
	End       string `json:"end"`
	Timestamp string `json:"timestamp"`
	Checksum  string `json:"checksum"`

	// From the image's version resource (modules command with images).
	Description string `json:"description,omitempty"`
	Company     string `json:"company,omitempty"`
	FileVersion string `json:"file_version,omitempty"`
}

// Unloaded is a recently unloaded module.
type Unloaded struct {
	Name  string `json:"name"`
	Start string `json:"start"`
	End   string `json:"end"`
}

// MachineState is what the dump records about the memory manager at the
// crash; counters are as the kernel keeps them (pages for commit).
type MachineState struct {
	VerifierFlags    string   `json:"driver_verifier_flags,omitempty"`
	SpecialPoolTag   string   `json:"special_pool_tag,omitempty"`
	CommittedPages   uint64   `json:"committed_pages,omitempty"`
	CommitPeakPages  uint64   `json:"commit_peak_pages,omitempty"`
	CommitLimitPages uint64   `json:"commit_limit_pages,omitempty"`
	CommitPercent    float64  `json:"commit_percent,omitempty"`
	NonPagedPoolUsed uint64   `json:"nonpaged_pool_allocated,omitempty"`
	NonPagedPoolMax  uint64   `json:"nonpaged_pool_maximum,omitempty"`
	PagedPoolUsed    uint64   `json:"paged_pool_allocated,omitempty"`
	PagedPoolMax     uint64   `json:"paged_pool_maximum,omitempty"`
	PhysicalPages    uint64   `json:"physical_pages,omitempty"`  // bigger dumps: MmNumberOfPhysicalPages
	AvailablePages   uint64   `json:"available_pages,omitempty"` // bigger dumps: MmAvailablePages
	Notes            []string `json:"notes,omitempty"`
}

// CapturedInfo summarises what memory the dump holds.
type CapturedInfo struct {
	Regions    int    `json:"regions"`
	Bytes      uint64 `json:"bytes"`
	StackBase  string `json:"stack_top,omitempty"`
	StackBytes uint32 `json:"stack_bytes"`
	DataBlocks int    `json:"data_blocks"`
	// PhysicalPages counts the 4 KiB pages of physical memory a full or
	// bitmap dump holds.
	PhysicalPages uint64 `json:"physical_pages,omitempty"`
}

// RegisterOrder returns the register names of r in the order a debugger
// shows them (JSON objects have no order of their own).
func RegisterOrder(r *Registers) []string {
	if r == nil {
		return nil
	}
	if len(r.order) == len(r.Registers) {
		return r.order
	}
	var names []string
	for n := range r.Registers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

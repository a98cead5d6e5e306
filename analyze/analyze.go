// Package analyze turns a parsed crash dump into an answer: the bug check
// and what its parameters mean, the exception and register context, the
// faulting instruction and the memory it touched, a scan of the captured
// stack, and the module most probably to blame, with the reason.
//
// It sits above the format readers (kdump, cpuctx, vmem) and the
// knowledge tables (bugcode, ntstatus, winver), and below the outputs.
package analyze

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bugcheck/bugcheck/bugcode"
	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/disasm"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/ntkernel"
	"github.com/bugcheck/bugcheck/ntstatus"
	"github.com/bugcheck/bugcheck/unwind"
	"github.com/bugcheck/bugcheck/vmem"
	"github.com/bugcheck/bugcheck/winver"
)

// Options tune the analysis.
type Options struct {
	// Skip lists module names (case-insensitive, "*" wildcard at the end)
	// that are never blamed while another module is on the stack: the core
	// kernel and frameworks that only run on behalf of drivers. Nil means
	// DefaultSkip.
	Skip []string

	// Events is what the machine's System event log says about the crash
	// (bugcheck analyze --events); nil without a log.
	Events *EventEvidence

	// Images supplies module images (for their unwind data) so x64 stacks
	// can be unwound into real frames; nil means scan the stack only.
	Images unwind.Images

	// Symbols names functions from PDBs; nil means module+offset only.
	Symbols Symbolizer

	// Versions describes modules from their images' version resources;
	// nil leaves the culprit without description and version.
	Versions VersionSource

	// Source holds the findings of a review of the culprit driver's source
	// code (bugcheck analyze --source); Analyze ranks them by relevance to
	// the crash into Report.SourceFindings. Nil means no review.
	Source []SourceFinding
}

// VersionSource returns the version resource strings of a module's image
// (CompanyName, FileDescription, FileVersion, ProductName, ...).
type VersionSource interface {
	Version(module string, timestamp, size uint32) (map[string]string, bool)
}

// Symbolizer names the function at an RVA of a module, identified as the
// dump's module list identifies it.
type Symbolizer interface {
	Function(module string, timestamp, size, rva uint32) (name string, offset uint32, ok bool)
}

// DefaultSkip is the default list of core modules, in the spirit of
// WinDbg's triage.ini: the kernel, HAL and kernel debugger transport, and
// the driver frameworks that run on behalf of a client driver.
var DefaultSkip = []string{
	"ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe", "ntkrla57.exe",
	"hal.dll", "halmacpi.dll", "halacpi.dll", "halaacpi.dll", "hal*.dll",
	"kd.dll", "kdcom.dll", "kdnet.dll", "kd_*.dll",
	"wdf01000.sys", "wdfldr.sys", "fltmgr.sys",
}

// analysis carries the state of one run.
type analysis struct {
	f        *kdump.File
	mem      *vmem.Space
	arch     cpuctx.Arch
	opt      Options
	r        *Report
	mods     []kdump.Driver // sorted by base
	unloaded []kdump.UnloadedDriver
	ctx      *cpuctx.Context
	ctxFull  bool
	ip       uint64
	ipKnown  bool
	faultSP  uint64
	inst     *disasm.Inst
	byParam  bool // the culprit was found through a bug check parameter
	exc      kdump.ExceptionRecord
	hasExc   bool

	// The stack scanned for return addresses and trap frames (capturedStack).
	stackRead             bool
	stackTop              uint64
	stack                 []byte
	kstackLow, kstackHigh uint64 // a bigger dump's kernel stack bounds

	ksymsDone bool
	ksyms     ntkernel.Symbols // the kernel's PDB, when the symbol source has it
}

// Analyze analyses a parsed dump.
func Analyze(f *kdump.File, opt Options) *Report {
	if opt.Skip == nil {
		opt.Skip = DefaultSkip
	}
	a := &analysis{f: f, mem: f.Memory(), arch: f.Arch, opt: opt}
	a.r = &Report{SchemaVersion: SchemaVersion, File: f.Name, FileSize: f.Size(),
		Format: f.Header.DumpType.Format(), DumpType: f.Header.DumpType.String(), Arch: f.Arch.String(),
		Stack: []StackSlot{}, Frames: []StackFrame{}, Modules: []Module{}, Unloaded: []Unloaded{}, Warnings: []string{}, Playbook: []Step{}}
	a.r.Warnings = append(a.r.Warnings, f.Warnings...)
	a.header()
	a.processContext()
	a.machineState()
	a.modules()
	a.bugcheck()
	a.kernelContext()
	a.faultContext()
	a.faultingInstruction()
	a.unwindStack()
	a.stackScan()
	a.poolContext()
	a.blame()
	a.poolEvidence()
	a.r.Bucket = a.bucket()
	a.applyEvents()
	a.explain()
	a.r.SourceFindings = rankSource(a.r, opt.Source)
	return a.r
}

func hex64(v uint64) string { return fmt.Sprintf("%#x", v) }

func (a *analysis) ptrHex(v uint64) string {
	if a.arch == cpuctx.ArchX86 {
		v &= 0xffffffff
	}
	return hex64(v)
}

var productNames = map[uint32]string{1: "workstation", 2: "domain controller", 3: "server"}

func (a *analysis) header() {
	h := a.f.Header
	r := a.r
	r.OS = OS{Build: h.MinorVersion, Name: winver.Name(h.MinorVersion, h.ProductType), MajorVersion: h.MajorVersion,
		Checked: h.MajorVersion == 0xc, ProductType: productNames[h.ProductType], SuiteMask: hex64(uint64(h.SuiteMask)),
		Processors: h.NumberProcessors}
	if r.OS.ProductType == "" {
		r.OS.ProductType = fmt.Sprintf("unknown (%d)", h.ProductType)
	}
	if !h.SystemTime.IsZero() {
		r.CrashTime = h.SystemTime.UTC().Format(time.RFC3339)
	}
	r.UptimeSeconds = float64(h.SystemUpTime.Microseconds()) / 1e6
	if t := a.f.Triage; t != nil {
		r.Captured = CapturedInfo{Regions: len(a.mem.Regions()), Bytes: a.mem.Captured(), StackBytes: t.SizeOfCallStack, DataBlocks: len(t.DataBlocks)}
		if t.SizeOfCallStack > 0 {
			r.Captured.StackBase = a.ptrHex(t.TopOfStack)
		}
		if th := a.f.CurrentThread(); th != 0 {
			r.Thread = &Thread{Address: a.ptrHex(th)}
		}
	} else if pm := a.f.Physical(); pm != nil {
		r.Captured = CapturedInfo{PhysicalPages: pm.PageCount(), Bytes: pm.PageCount() * 4096}
	} else {
		r.Captured = CapturedInfo{Regions: len(a.mem.Regions()), Bytes: a.mem.Captured()}
		r.Warnings = append(r.Warnings, fmt.Sprintf("the body of a %s is not read yet: only the header was analysed", h.DumpType))
	}
}

// ModuleList returns the loaded and unloaded modules of a dump in report
// form, without analysing anything else. With versions, each module whose
// image can be found also gets its description, company and file version.
func ModuleList(f *kdump.File, versions VersionSource) ([]Module, []Unloaded) {
	drivers, unloaded, _ := Drivers(f)
	a := &analysis{f: f, arch: f.Arch}
	return a.moduleList(drivers, unloaded, versions)
}

func (a *analysis) moduleList(drivers []kdump.Driver, unloaded []kdump.UnloadedDriver, versions VersionSource) ([]Module, []Unloaded) {
	mods, unl := []Module{}, []Unloaded{}
	for _, d := range drivers {
		m := Module{Name: d.BaseName(), Path: d.Name, Base: a.ptrHex(d.Base),
			Size: hex64(uint64(d.Size)), End: a.ptrHex(d.Base + uint64(d.Size)), Timestamp: hex64(uint64(d.Timestamp)),
			Checksum: hex64(uint64(d.Checksum))}
		if versions != nil {
			if v, ok := versions.Version(d.BaseName(), d.Timestamp, d.Size); ok {
				m.Description, m.Company, m.FileVersion = v["FileDescription"], v["CompanyName"], v["FileVersion"]
			}
		}
		mods = append(mods, m)
	}
	for _, u := range unloaded {
		unl = append(unl, Unloaded{Name: u.Name, Start: a.ptrHex(u.Start), End: a.ptrHex(u.End)})
	}
	return mods, unl
}

// Drivers returns a dump's loaded and unloaded drivers: the lists a triage
// dump stores, or for bigger dumps the kernel's own lists walked in the
// dump's memory. Problems met on the walk come back as warnings.
func Drivers(f *kdump.File) ([]kdump.Driver, []kdump.UnloadedDriver, []string) {
	if t := f.Triage; t != nil {
		return t.Drivers, t.Unloaded, nil
	}
	return kernelDrivers(KernelOf(f))
}

// kernelDrivers walks the kernel's module and unloaded-driver lists.
func kernelDrivers(k *ntkernel.Kernel) ([]kdump.Driver, []kdump.UnloadedDriver, []string) {
	var warns []string
	mods, err := k.Modules()
	if err != nil {
		warns = append(warns, "loaded module list: "+err.Error())
	}
	drivers := make([]kdump.Driver, 0, len(mods))
	for _, m := range mods {
		path := m.Path
		if path == "" {
			path = m.Name
		}
		drivers = append(drivers, kdump.Driver{Name: path, Base: m.Base, Size: m.Size, EntryPoint: m.EntryPoint, Checksum: m.Checksum, Timestamp: m.Timestamp})
	}
	var unloaded []kdump.UnloadedDriver
	if u, err := k.Unloaded(); err == nil {
		for _, x := range u {
			unloaded = append(unloaded, kdump.UnloadedDriver{Name: x.Name, Start: x.Start, End: x.End})
		}
	}
	return drivers, unloaded, append(warns, k.Warnings...)
}

func (a *analysis) modules() {
	drivers, unloaded, warns := Drivers(a.f)
	if a.f.Triage == nil {
		// With the kernel's symbols the lists are read even when the
		// debugger data block is encoded.
		drivers, unloaded, warns = kernelDrivers(KernelOfWith(a.f, a.kernelSymbols()))
	}
	if a.f.Triage == nil && len(drivers) == 0 {
		return // a header-only view: nothing to list
	}
	a.r.Warnings = append(a.r.Warnings, warns...)
	a.r.Modules, a.r.Unloaded = a.moduleList(drivers, unloaded, nil)
	a.mods, a.unloaded = append([]kdump.Driver(nil), drivers...), unloaded
	sort.SliceStable(a.mods, func(i, j int) bool { return a.mods[i].Base < a.mods[j].Base })
}

// moduleAt returns the module containing addr.
func (a *analysis) moduleAt(addr uint64) (kdump.Driver, bool) {
	i := sort.Search(len(a.mods), func(i int) bool { return a.mods[i].Base > addr })
	for j := i - 1; j >= 0 && j >= i-4; j-- { // tolerate a few overlapping entries
		if a.mods[j].Contains(addr) {
			return a.mods[j], true
		}
	}
	return kdump.Driver{}, false
}

// symbol renders addr as module+0xoffset, or the bare address.
func (a *analysis) symbol(addr uint64) (string, kdump.Driver, bool) {
	if m, ok := a.moduleAt(addr); ok {
		return fmt.Sprintf("%s+%#x", m.BaseName(), addr-m.Base), m, true
	}
	return a.ptrHex(addr), kdump.Driver{}, false
}

func (a *analysis) bugcheck() {
	h := a.f.Header
	code := h.BugCheckCode
	info, _ := bugcode.Lookup(code)
	bc := BugCheck{Code: fmt.Sprintf("%#x", code), Name: info.Name, Parameters: []string{}, Meanings: []ParamNote{}, Causes: []string{}}
	if bc.Name == "" {
		bc.Name = fmt.Sprintf("UNKNOWN_BUGCHECK_%#X", code)
	}
	bc.Causes = append(bc.Causes, info.Causes...)
	for i, p := range h.BugCheckParameters {
		bc.Parameters = append(bc.Parameters, a.ptrHex(p))
		note := ParamNote{Index: i + 1, Value: a.ptrHex(p), Meaning: info.Params[i], Decoded: a.decodeParam(bugcode.Base(code), i, p)}
		bc.Meanings = append(bc.Meanings, note)
	}
	if n, ok := a.f.ProcessorNumber(); ok {
		bc.Processor = &n
	}
	a.r.BugCheck = bc
}

// decodeParam explains a coded parameter value.
func (a *analysis) decodeParam(base uint32, i int, v uint64) string {
	switch {
	case base == 0x50 && i == 1, (base == 0xd5 || base == 0xd6) && i == 1:
		return accessName(pageFaultAccess(a.f.Header.MinorVersion, v))
	case (base == 0x0a || base == 0xd1) && i == 1:
		return fmt.Sprintf("IRQL %d%s", v, irqlName(v))
	case (base == 0x0a || base == 0xd1) && i == 2:
		return accessName(irqlAccess(base, v))
	case (base == 0x1e || base == 0x7e || base == 0x8e || base == 0x3b) && i == 0:
		if n := ntstatus.Name(uint32(v)); n != "" {
			return n
		}
	case base == 0x50 && i == 3:
		return bugcode.PageFaultType(v)
	case i == 0 && bugcode.Subtype(base, v) != "":
		return bugcode.Subtype(base, v)
	case base == 0x1e && i == 2:
		return accessName(exceptionAccess(v))
	}
	if isCodeParam(base, i) {
		if s, _, ok := a.symbol(v); ok {
			return s
		}
	}
	return ""
}

func isCodeParam(base uint32, i int) bool {
	switch base {
	case 0x1e, 0x7e, 0x8e, 0x3b:
		return i == 1
	case 0x50, 0xd5, 0xd6:
		return i == 2
	case 0x0a, 0xd1, 0xc5:
		return i == 3
	}
	return false
}

var irqlNames = map[uint64]string{0: "PASSIVE_LEVEL", 1: "APC_LEVEL", 2: "DISPATCH_LEVEL"}

func irqlName(v uint64) string {
	if n, ok := irqlNames[v]; ok {
		return " (" + n + ")"
	}
	if v <= 15 {
		return " (device IRQL)"
	}
	return ""
}

// Access kinds.
const (
	accUnknown = iota
	accRead
	accWrite
	accExecute
)

func accessName(k int) string {
	return [...]string{"unknown", "read", "write", "execute"}[k]
}

// pageFaultAccess decodes 0x50's second parameter. From Windows 10 1507
// (build 10240) it is 0 read, 2 write, 10 execute; earlier 0 read, 1 write.
func pageFaultAccess(build uint32, v uint64) int {
	switch {
	case v == 0:
		return accRead
	case v == 2, v == 1 && build < 10240:
		return accWrite
	case v == 10, v == 8:
		return accExecute
	case v == 1:
		return accWrite
	}
	return accUnknown
}

// irqlAccess decodes the third parameter of 0x0A and 0xD1.
func irqlAccess(base uint32, v uint64) int {
	switch {
	case v&8 != 0, base == 0xd1 && v == 2:
		return accExecute
	case v&1 != 0:
		return accWrite
	}
	return accRead
}

// exceptionAccess decodes the first parameter of an access violation.
func exceptionAccess(v uint64) int {
	switch v {
	case 0:
		return accRead
	case 1:
		return accWrite
	case 8:
		return accExecute
	}
	return accUnknown
}

// hexBytes renders instruction bytes.
func hexBytes(b []byte) string { return hex.EncodeToString(b) }

// skip reports whether a module is on the core skip list.
func (a *analysis) skip(name string) bool {
	n := strings.ToLower(name)
	for _, p := range a.opt.Skip {
		p = strings.ToLower(p)
		if strings.HasSuffix(p, "*") && strings.HasPrefix(n, strings.TrimSuffix(p, "*")) {
			return true
		}
		if i := strings.IndexByte(p, '*'); i >= 0 && !strings.HasSuffix(p, "*") {
			if strings.HasPrefix(n, p[:i]) && strings.HasSuffix(n, p[i+1:]) {
				return true
			}
			continue
		}
		if n == p {
			return true
		}
	}
	return false
}

package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/bugcheck/bugcheck/kdump"
)

type kv struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// headerFields lists the header and triage fields in file order.
func headerFields(f *kdump.File) []kv {
	h := f.Header
	x := func(v uint64) string { return fmt.Sprintf("%#x", v) }
	out := []kv{
		{"Signature", h.Signature},
		{"MajorVersion", x(uint64(h.MajorVersion))},
		{"MinorVersion (build)", fmt.Sprint(h.MinorVersion)},
		{"DirectoryTableBase", x(h.DirectoryTableBase)},
		{"PfnDataBase", x(h.PfnDataBase)},
		{"PsLoadedModuleList", x(h.PsLoadedModuleList)},
		{"PsActiveProcessHead", x(h.PsActiveProcessHead)},
		{"MachineImageType", fmt.Sprintf("%#x (%s)", h.MachineImageType, f.Arch)},
		{"NumberProcessors", fmt.Sprint(h.NumberProcessors)},
		{"BugCheckCode", x(uint64(h.BugCheckCode))},
	}
	for i, p := range h.BugCheckParameters {
		out = append(out, kv{fmt.Sprintf("BugCheckParameter%d", i+1), x(p)})
	}
	out = append(out,
		kv{"VersionUser", h.VersionUser},
		kv{"KdDebuggerDataBlock", x(h.KdDebuggerDataBlock)},
		kv{"KdSecondaryVersion", fmt.Sprint(h.KdSecondaryVersion)},
	)
	if !h.Is64 {
		out = append(out, kv{"PaeEnabled", fmt.Sprint(h.PaeEnabled)})
	}
	if pm := h.PhysicalMemory; pm != nil {
		out = append(out, kv{"PhysicalMemoryBlock", fmt.Sprintf("%d runs, %d pages", pm.NumberOfRuns, pm.NumberOfPages)})
	} else {
		out = append(out, kv{"PhysicalMemoryBlock", "(not used)"})
	}
	e := h.Exception
	out = append(out,
		kv{"Exception.Code", x(uint64(e.Code))},
		kv{"Exception.Address", x(e.Address)},
		kv{"Exception.NumberParameters", fmt.Sprint(e.NumberParameters)},
		kv{"DumpType", fmt.Sprintf("%d (%s)", uint32(h.DumpType), h.DumpType)},
		kv{"RequiredDumpSpace", x(h.RequiredDumpSpace)},
		kv{"SystemTime", timeStr(h.SystemTime)},
		kv{"Comment", h.Comment},
		kv{"SystemUpTime", h.SystemUpTime.String()},
		kv{"MiniDumpFields", x(uint64(h.MiniDumpFields))},
		kv{"SecondaryDataState", x(uint64(h.SecondaryDataState))},
		kv{"ProductType", fmt.Sprint(h.ProductType)},
		kv{"SuiteMask", x(uint64(h.SuiteMask))},
		kv{"WriterStatus", x(uint64(h.WriterStatus))},
	)
	if h.Is64 {
		out = append(out, kv{"Attributes", x(uint64(h.Attributes))}, kv{"BootId", x(uint64(h.BootID))})
	}
	if t := f.Triage; t != nil {
		out = append(out,
			kv{"Triage.ServicePackBuild", fmt.Sprint(t.ServicePackBuild)},
			kv{"Triage.SizeOfDump", x(uint64(t.SizeOfDump))},
			kv{"Triage.Valid", fmt.Sprint(t.Valid)},
			kv{"Triage.ContextOffset", x(uint64(t.ContextOffset))},
			kv{"Triage.ExceptionOffset", x(uint64(t.ExceptionOffset))},
			kv{"Triage.MmOffset", x(uint64(t.MmOffset))},
			kv{"Triage.UnloadedDriversOffset", x(uint64(t.UnloadedDriversOffset))},
			kv{"Triage.PrcbOffset", fmt.Sprintf("%#x (%#x bytes)", t.Prcb.Offset, t.Prcb.Size)},
			kv{"Triage.ProcessOffset", fmt.Sprintf("%#x (%#x bytes)", t.Process.Offset, t.Process.Size)},
			kv{"Triage.ThreadOffset", fmt.Sprintf("%#x (%#x bytes)", t.Thread.Offset, t.Thread.Size)},
			kv{"Triage.CallStack", fmt.Sprintf("%#x bytes at file %#x, top of stack %#x", t.SizeOfCallStack, t.CallStackOffset, t.TopOfStack)},
			kv{"Triage.DriverList", fmt.Sprintf("%d entries at %#x", t.DriverCount, t.DriverListOffset)},
			kv{"Triage.StringPool", fmt.Sprintf("%#x bytes at %#x", t.StringPoolSize, t.StringPoolOffset)},
			kv{"Triage.BrokenDriverOffset", x(uint64(t.BrokenDriverOffset))},
			kv{"Triage.TriageOptions", x(uint64(t.TriageOptions))},
			kv{"Triage.DataPage", fmt.Sprintf("%#x bytes at %#x for %#x", t.DataPageSize, t.DataPageOffset, t.DataPageAddress)},
			kv{"Triage.DebuggerData", fmt.Sprintf("%#x bytes at %#x", t.DebuggerDataSize, t.DebuggerDataOffset)},
			kv{"Triage.DataBlocks", fmt.Sprintf("%d at %#x", t.DataBlocksCount, t.DataBlocksOffset)},
			kv{"Triage.UnloadedDrivers", fmt.Sprint(len(t.Unloaded))},
		)
		if f.Debugger != nil {
			out = append(out, kv{"KDDEBUGGER_DATA64", fmt.Sprintf("tag %q, KernBase %#x, PsLoadedModuleList %#x", f.Debugger.OwnerTag, f.Debugger.KernBase, f.Debugger.PsLoadedModuleList)})
		}
		out = append(out, kv{"SecondaryDataBlobs", fmt.Sprint(len(f.Blobs))})
	}
	return out
}

func timeStr(t time.Time) string {
	if t.IsZero() {
		return "(not recorded)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func writeHeader(w io.Writer, f *kdump.File, asJSON bool) error {
	fields := headerFields(f)
	if asJSON {
		return writeJSON(w, fields)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, kv := range fields {
		fmt.Fprintf(tw, "%s\t%s\n", kv.Field, kv.Value)
	}
	for _, s := range f.Warnings {
		fmt.Fprintf(tw, "warning\t%s\n", s)
	}
	return tw.Flush()
}

package ntkernel_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bugcheck/bugcheck/dumpwriter"
	"github.com/bugcheck/bugcheck/internal/sample"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/ntkernel"
	"github.com/bugcheck/bugcheck/paging"
)

// fakeSymbols stands in for ntoskrnl's PDB: members as "struct.path",
// sizes by structure, globals by name.
type fakeSymbols struct {
	fields  map[string]uint64
	sizes   map[string]uint64
	globals map[string]uint32
}

var errNoSymbol = errors.New("no such symbol")

func (s fakeSymbols) FieldOffset(st, path string) (uint64, error) {
	if v, ok := s.fields[st+"."+path]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("%s.%s: %w", st, path, errNoSymbol)
}

func (s fakeSymbols) StructSize(name string) (uint64, error) {
	if v, ok := s.sizes[name]; ok {
		return v, nil
	}
	return 0, errNoSymbol
}

func (s fakeSymbols) GlobalRVA(name string) (uint32, error) {
	if v, ok := s.globals[name]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("%s: %w", name, errNoSymbol)
}

// sampleSymbols are the symbols of the sample kernel (the 19041 x64
// layout), with edit applied to the members.
func sampleSymbols(edit map[string]uint64) fakeSymbols {
	s := fakeSymbols{
		fields: map[string]uint64{
			"_EPROCESS.ActiveProcessLinks": 0x448, "_EPROCESS.ImageFileName": 0x5a8, "_EPROCESS.Pcb.DirectoryTableBase": 0x28,
			"_EPROCESS.InheritedFromUniqueProcessId": 0x540, "_EPROCESS.Peb": 0x550,
			"_KLDR_DATA_TABLE_ENTRY.DllBase": 0x30, "_KLDR_DATA_TABLE_ENTRY.EntryPoint": 0x38, "_KLDR_DATA_TABLE_ENTRY.SizeOfImage": 0x40,
			"_KLDR_DATA_TABLE_ENTRY.FullDllName": 0x48, "_KLDR_DATA_TABLE_ENTRY.BaseDllName": 0x58, "_KLDR_DATA_TABLE_ENTRY.CheckSum": 0x78,
			"_KLDR_DATA_TABLE_ENTRY.TimeDateStamp": 0x9c,
			"_KTHREAD.InitialStack":                0x28, "_KTHREAD.StackLimit": 0x30, "_KTHREAD.KernelStack": 0x58, "_KTHREAD.ApcState.Process": 0xb8,
			"_ETHREAD.Cid": 0x478, "_KPRCB.CurrentThread": 8,
		},
		sizes: map[string]uint64{"_EPROCESS": 0xa40},
		globals: map[string]uint32{
			"KiWaitNever": sample.KiWaitNeverRVA, "KiWaitAlways": sample.KiWaitAlwaysRVA, "KdpDataBlockEncoded": sample.KdpDataBlockEncodedRVA,
			"KiProcessorBlock": sample.ProcessorBlock - sample.NtBase, "MmUnloadedDrivers": sample.UnloadedDriversVar - sample.NtBase,
			"MmLastUnloadedDriver": sample.LastUnloadedVar - sample.NtBase, "PsActiveProcessHead": sample.ActiveProcessHead - sample.NtBase,
			"PsLoadedModuleList": sample.LoadedModuleList - sample.NtBase,
		},
	}
	for k, v := range edit {
		if v == ^uint64(0) {
			delete(s.fields, k)
			continue
		}
		s.fields[k] = v
	}
	return s
}

func openSample(t *testing.T, o sample.KernelOptions) *kdump.File {
	t.Helper()
	d, err := sample.KernelWith(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := kdump.NewFile(strings.NewReader(string(b)), int64(len(b)), "MEMORY.DMP")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// kernel builds a Kernel the way analyze.KernelOfWith does, reading the
// block at the header's KdDebuggerDataBlock.
func kernel(t *testing.T, f *kdump.File, syms ntkernel.Symbols) (*ntkernel.Kernel, error) {
	t.Helper()
	h := f.Header
	k := &ntkernel.Kernel{Mem: f.Memory(), Arch: f.Arch, Build: h.MinorVersion, PsLoadedModuleList: h.PsLoadedModuleList,
		PsActiveProcessHead: h.PsActiveProcessHead, Processors: int(h.NumberProcessors), Symbols: syms}
	raw := make([]byte, 0x380)
	if n, err := f.Memory().Read(h.KdDebuggerDataBlock, raw); n != len(raw) {
		t.Fatalf("debugger data block: %d bytes, %v", n, err)
	}
	d, err := k.DecodeDebuggerData(raw)
	k.KDBG = d
	return k, err
}

// TestEncodedDebuggerData reads the sample kernel dump whose debugger data
// block is encoded: without symbols only the header's lists are usable;
// with the kernel's symbols the block decodes and every list is read.
func TestEncodedDebuggerData(t *testing.T) {
	for _, mode := range []paging.Mode{paging.X64, paging.X64LA57} {
		t.Run(mode.String(), func(t *testing.T) {
			f := openSample(t, sample.KernelOptions{Layout: dumpwriter.LayoutBitmap, Mode: mode, EncodeKDBG: true})
			if f.PageTables().Mode() != mode {
				t.Fatalf("paging mode %v", f.PageTables().Mode())
			}
			plain, err := kernel(t, f, nil)
			if err == nil || plain.KDBG != nil {
				t.Fatalf("an encoded block parsed without symbols: %+v", plain.KDBG)
			}
			if mods, err := plain.Modules(); err != nil || len(mods) != len(sample.Modules) {
				t.Errorf("modules through the header's list: %d, %v", len(mods), err)
			}
			if _, err := plain.CurrentThreads(); err == nil {
				t.Error("processors located without the block or symbols")
			}

			k, err := kernel(t, f, sampleSymbols(nil))
			if err != nil || !k.KDBG.Valid() || k.KDBG.KernBase != sample.NtBase || k.KDBG.KiProcessorBlock != sample.ProcessorBlock || k.KDBG.SizeEProcess != 0xa40 {
				t.Fatalf("decoded block %+v, %v", k.KDBG, err)
			}
			threads, err := k.CurrentThreads()
			if err != nil || len(threads) != 8 || threads[2].Address != sample.ThreadAddress || threads[2].TID != sample.CrashThreadID ||
				threads[2].Process != sample.SystemProcess || threads[2].InitialStack != sample.InitialStack {
				t.Errorf("threads %+v, %v", threads, err)
			}
			lay, err := k.ProcessLayout()
			if err != nil || lay.Source != "kernel symbols" || lay.Links != 0x448 {
				t.Errorf("process layout %+v, %v", lay, err)
			}
			u, err := k.Unloaded()
			if err != nil || len(u) != 2 || u[0].Name != "WdBoot.sys" {
				t.Errorf("unloaded %+v, %v", u, err)
			}
		})
	}
}

// TestSymbolLayouts checks that the symbols' offsets are used, validated
// and completed by the other sources, and that missing keys are named.
func TestSymbolLayouts(t *testing.T) {
	for _, c := range []struct {
		name   string
		mode   paging.Mode
		syms   fakeSymbols
		source string // of the process layout
		warn   string
	}{
		// ARM64 is in no offset table: without symbols the layout is scanned.
		{"arm64 symbols", paging.ARM64, sampleSymbols(nil), "kernel symbols", ""},
		{"arm64 no symbols", paging.ARM64, fakeSymbols{}, "scan of the process list", "lack"},
		{"wrong ImageFileName", paging.X64, sampleSymbols(map[string]uint64{"_EPROCESS.ImageFileName": 0x5b0}), "offset table for build 19045", "does not fit"},
		{"no Peb member", paging.X64, sampleSymbols(map[string]uint64{"_EPROCESS.Peb": ^uint64(0)}), "offset table for build 19045", "_EPROCESS.Peb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := openSample(t, sample.KernelOptions{Layout: dumpwriter.LayoutFull, Mode: c.mode})
			k, err := kernel(t, f, c.syms)
			if err != nil {
				t.Fatal(err)
			}
			procs, err := k.Processes()
			if err != nil || len(procs) != len(sample.Processes) || procs[4].Name != "svchost.exe" || procs[4].ParentPID != 0x2c8 {
				t.Errorf("processes %+v, %v", procs, err)
			}
			if lay, _ := k.ProcessLayout(); lay.Source != c.source {
				t.Errorf("layout from %q, want %q", lay.Source, c.source)
			}
			if threads, err := k.CurrentThreads(); err != nil || len(threads) != 8 || threads[2].TID != sample.CrashThreadID {
				t.Errorf("threads %+v, %v", threads, err)
			}
			if w := strings.Join(k.Warnings, "\n"); (c.warn == "") != (w == "") || !strings.Contains(w, c.warn) {
				t.Errorf("warnings %q, want one with %q", k.Warnings, c.warn)
			}
		})
	}
}

// TestDecodeNeedsSymbols names the missing key when the symbols lack one,
// and refuses to decode a 32-bit block.
func TestDecodeNeedsSymbols(t *testing.T) {
	f := openSample(t, sample.KernelOptions{Layout: dumpwriter.LayoutBitmap, EncodeKDBG: true})
	syms := sampleSymbols(nil)
	delete(syms.globals, "KiWaitAlways")
	if _, err := kernel(t, f, syms); err == nil || !strings.Contains(err.Error(), "KiWaitAlways") {
		t.Errorf("decoding without KiWaitAlways: %v", err)
	}
	syms = sampleSymbols(nil)
	syms.globals["KiWaitNever"] = sample.KiWaitAlwaysRVA // the wrong key
	if _, err := kernel(t, f, syms); err == nil || !strings.Contains(err.Error(), "does not decode") {
		t.Errorf("decoding with a wrong key: %v", err)
	}
	x86 := openSample(t, sample.KernelOptions{Layout: dumpwriter.LayoutBitmap, Mode: paging.X86PAE})
	k, err := kernel(t, x86, nil)
	if err != nil || k.KDBG.PsLoadedModuleList != sample.Addr(paging.X86PAE, sample.LoadedModuleList) {
		t.Errorf("plain x86 block %+v, %v", k.KDBG, err)
	}
	if _, err := k.DecodeDebuggerData(make([]byte, 0x380)); err == nil || !strings.Contains(err.Error(), "64-bit") {
		t.Errorf("decoding an x86 block: %v", err)
	}
}

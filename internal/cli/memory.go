package cli

import (
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/disasm"
	"github.com/bugcheck/bugcheck/kdump"
	"github.com/bugcheck/bugcheck/ntkernel"
)

// maxRead bounds what `read` prints: a hex dump of more is not for reading.
const maxRead = 1 << 20

// parseAddr reads an address the way WinDbg does: hex with or without 0x
// (a ` between the halves is allowed), or module+offset with the module
// named with or without its extension.
func parseAddr(f *kdump.File, s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '+'); i > 0 {
		off, err := parseHex(s[i+1:])
		if err != nil {
			return 0, err
		}
		name := strings.ToLower(s[:i])
		drivers, _, _ := analyze.Drivers(f)
		for _, d := range drivers {
			b := strings.ToLower(d.BaseName())
			if b == name || strings.TrimSuffix(b, path.Ext(b)) == name {
				return d.Base + off, nil
			}
		}
		return 0, fmt.Errorf("no loaded module named %q", s[:i])
	}
	return parseHex(s)
}

func parseHex(s string) (uint64, error) {
	t := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), "`", "")
	v, err := strconv.ParseUint(t, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a hex number", s)
	}
	return v, nil
}

// readMem reads n bytes at addr; present[i] says whether byte i was in the
// dump. Missing bytes are zero.
func readMem(f *kdump.File, addr uint64, n int) ([]byte, []bool) {
	return readPages(f.Memory().Read, addr, n)
}

// readPhysical is readMem over physical addresses. A full or bitmap dump
// lacks pages it did not capture (physmem's NotInDumpError); those bytes
// are reported missing, like unmapped virtual ones.
func readPhysical(f *kdump.File, addr uint64, n int) ([]byte, []bool) {
	pm := f.Physical()
	return readPages(func(a uint64, p []byte) (int, error) {
		if a > math.MaxInt64 {
			return 0, nil
		}
		return pm.ReadAt(p, int64(a))
	}, addr, n)
}

func readPages(read func(uint64, []byte) (int, error), addr uint64, n int) ([]byte, []bool) {
	b := make([]byte, n)
	present := make([]bool, n)
	for off := 0; off < n; {
		step := min(n-off, 0x1000-int((addr+uint64(off))&0xfff))
		got, _ := read(addr+uint64(off), b[off:off+step])
		for i := off; i < off+got; i++ {
			present[i] = true
		}
		off += step
	}
	return b, present
}

type memoryLine struct {
	Address string `json:"address"`
	Hex     string `json:"hex"` // "??" for bytes not in the dump
}

func readCmd(stdout, stderr io.Writer) *cobra.Command {
	var asJSON, physical bool
	c := &cobra.Command{
		Use:   "read DUMP ADDR [LEN]",
		Short: "Hex dump of memory the dump captured (like WinDbg's db, or !db with --physical)",
		Long: `read prints LEN bytes (hex, default 0x80) at ADDR, a virtual address in hex or module+offset
(e.g. amdppm.sys+0x334c). Bytes the dump did not capture show as ??.
With --physical, ADDR is a physical address (hex) in a kernel, automatic, active or complete
memory dump, like WinDbg's !db.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDump(args[:1], stderr, func(f *kdump.File) error {
				var addr uint64
				var err error
				if physical {
					if f.Physical() == nil {
						return fmt.Errorf("this %s holds no physical memory; --physical needs a kernel, automatic, active or complete memory dump", f.Header.DumpType)
					}
					addr, err = parseHex(args[1])
				} else {
					addr, err = parseAddr(f, args[1])
				}
				if err != nil {
					return err
				}
				n := uint64(0x80)
				if len(args) == 3 {
					if n, err = parseHex(args[2]); err != nil {
						return err
					}
				}
				if n == 0 || n > maxRead {
					return fmt.Errorf("length %#x: give 1 to %#x bytes", n, maxRead)
				}
				read, text, hexs := readMem, addrText, ptrHex
				if physical {
					// Physical addresses are as wide as the dump's page tables
					// allow (36 bits and more with PAE), so they are not
					// truncated to the pointer width.
					read, text = readPhysical, physText
					hexs = func(_ *kdump.File, v uint64) string { return fmt.Sprintf("%#x", v) }
				}
				b, present := read(f, addr, int(n))
				var lines []memoryLine
				for off := 0; off < len(b); off += 16 {
					end := min(off+16, len(b))
					var hx, asc strings.Builder
					for i := off; i < end; i++ {
						if i > off {
							hx.WriteByte(' ')
						}
						if !present[i] {
							hx.WriteString("??")
							asc.WriteByte('?')
							continue
						}
						fmt.Fprintf(&hx, "%02x", b[i])
						if b[i] >= 0x20 && b[i] < 0x7f {
							asc.WriteByte(b[i])
						} else {
							asc.WriteByte('.')
						}
					}
					l := memoryLine{Address: hexs(f, addr+uint64(off)), Hex: hx.String()}
					lines = append(lines, l)
					if !asJSON {
						fmt.Fprintf(stdout, "%s  %-47s  %s\n", text(f, addr+uint64(off)), l.Hex, asc.String())
					}
				}
				if asJSON {
					return writeJSON(stdout, struct {
						Address  string       `json:"address"`
						Physical bool         `json:"physical,omitempty"`
						Length   int          `json:"length"`
						Lines    []memoryLine `json:"lines"`
					}{hexs(f, addr), physical, len(b), lines})
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	c.Flags().BoolVar(&physical, "physical", false, "ADDR is a physical address (kernel and complete memory dumps)")
	return c
}

// physText renders a physical address for aligned columns, as WinDbg's !db
// does: a '#' before the hex.
func physText(_ *kdump.File, v uint64) string { return fmt.Sprintf("#%9x", v) }

// ptrHex renders an address in the dump's pointer width.
func ptrHex(f *kdump.File, v uint64) string {
	if f.Arch == cpuctx.ArchX86 {
		v &= 0xffffffff
	}
	return fmt.Sprintf("%#x", v)
}

// addrText renders an address for aligned columns, with WinDbg's ` between
// the halves of a 64-bit address.
func addrText(f *kdump.File, v uint64) string {
	if f.Arch == cpuctx.ArchX86 {
		return fmt.Sprintf("%08x", v&0xffffffff)
	}
	return fmt.Sprintf("%08x`%08x", v>>32, v&0xffffffff)
}

func disasmArch(a cpuctx.Arch) disasm.Arch {
	switch a {
	case cpuctx.ArchX86:
		return disasm.X86
	case cpuctx.ArchARM64:
		return disasm.ARM64
	}
	return disasm.X64
}

type instLine struct {
	Address string `json:"address"`
	Symbol  string `json:"symbol,omitempty"`
	Bytes   string `json:"bytes"`
	Text    string `json:"text"`
}

func disasmCmd(stdout, stderr io.Writer) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "disasm DUMP ADDR [N]",
		Short: "Disassemble captured code (like WinDbg's u)",
		Long: `disasm decodes N instructions (default 10) at ADDR, a virtual address in hex or module+offset.
It stops where the dump did not capture the code or the bytes do not decode.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDump(args[:1], stderr, func(f *kdump.File) error {
				addr, err := parseAddr(f, args[1])
				if err != nil {
					return err
				}
				n := 10
				if len(args) == 3 {
					if n, err = strconv.Atoi(args[2]); err != nil || n <= 0 || n > 10000 {
						return fmt.Errorf("instruction count %q: give 1 to 10000", args[2])
					}
				}
				b, present := readMem(f, addr, n*15)
				avail := 0
				for avail < len(b) && present[avail] {
					avail++
				}
				if avail == 0 {
					return fmt.Errorf("the code at %s is not in the dump", ptrHex(f, addr))
				}
				drivers, _, _ := analyze.Drivers(f)
				var out []instLine
				for _, in := range disasm.DecodeN(disasmArch(f.Arch), b[:avail], addr, n) {
					l := instLine{Address: ptrHex(f, in.Addr), Bytes: fmt.Sprintf("%x", in.Bytes), Text: in.Text}
					for _, d := range drivers {
						if d.Contains(in.Addr) {
							l.Symbol = fmt.Sprintf("%s+%#x", d.BaseName(), in.Addr-d.Base)
						}
					}
					out = append(out, l)
				}
				if asJSON {
					return writeJSON(stdout, out)
				}
				for _, l := range out {
					fmt.Fprintf(stdout, "%s  %-24s %-20s %s\n", addrText(f, mustHex(l.Address)), l.Symbol, l.Bytes, l.Text)
				}
				if len(out) < n {
					fmt.Fprintf(stdout, "(%d of %d instructions: the rest was not captured or does not decode)\n", len(out), n)
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return c
}

func mustHex(s string) uint64 {
	v, _ := parseHex(s)
	return v
}

type processLine struct {
	Address   string `json:"address"`
	PID       uint64 `json:"pid"`
	ParentPID uint64 `json:"parent_pid"`
	Name      string `json:"name"`
	DTB       string `json:"dtb"`
	Peb       string `json:"peb,omitempty"`
}

func psCmd(stdout, stderr io.Writer) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "ps DUMP",
		Short: "List the processes of a kernel or full dump (like WinDbg's !process 0 0)",
		Long: `ps walks the kernel's active process list (PsActiveProcessHead) in the dump's memory. Small
memory (triage) dumps do not capture it; kernel, automatic, active and complete dumps do.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDump(args, stderr, func(f *kdump.File) error {
				k := analyze.KernelOf(f)
				procs, err := k.Processes()
				if len(procs) == 0 && err != nil {
					if f.Triage != nil {
						return fmt.Errorf("a small memory dump does not capture the process list (%v); it names only the crashing process: see 'bugcheck analyze'", err)
					}
					return err
				}
				for _, w := range k.Warnings {
					fmt.Fprintf(stderr, "bugcheck: %s: warning: %s\n", f.Name, w)
				}
				if err != nil {
					fmt.Fprintf(stderr, "bugcheck: %s: warning: the process list ends early: %v\n", f.Name, err)
				}
				return writeProcesses(stdout, f, procs, asJSON)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return c
}

func writeProcesses(w io.Writer, f *kdump.File, procs []ntkernel.Process, asJSON bool) error {
	lines := make([]processLine, 0, len(procs))
	for _, p := range procs {
		l := processLine{Address: ptrHex(f, p.Address), PID: p.PID, ParentPID: p.ParentPID, Name: p.Name, DTB: fmt.Sprintf("%#x", p.DTB)}
		if p.Peb != 0 {
			l.Peb = ptrHex(f, p.Peb)
		}
		lines = append(lines, l)
	}
	if asJSON {
		return writeJSON(w, lines)
	}
	for _, l := range lines {
		fmt.Fprintf(w, "PROCESS %s\n    Cid: %04x    Peb: %s  ParentCid: %04x\n    DirBase: %s  Image: %s\n\n",
			addrText(f, mustHex(l.Address)), l.PID, or(l.Peb, "0"), l.ParentPID, l.DTB, l.Name)
	}
	return nil
}

type pteEntry struct {
	Level string `json:"level"` // WinDbg's name: PXE, PPE, PDE, PTE, ...
	Addr  string `json:"address"`
	Value string `json:"value"`
	State string `json:"state"`
}

type pteReport struct {
	VA          string     `json:"va"`
	Mode        string     `json:"paging"`
	Root        string     `json:"root"`
	Entries     []pteEntry `json:"entries"`
	State       string     `json:"state"`
	PA          string     `json:"pa,omitempty"`
	PageSize    string     `json:"page_size,omitempty"`
	Explanation string     `json:"explanation"`
}

func pteCmd(stdout, stderr io.Writer) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "pte DUMP ADDR",
		Short: "Walk the page tables for an address and say why it is or is not resident (like WinDbg's !pte)",
		Long: `pte walks the kernel's page tables (the header's DirectoryTableBase) of a kernel, automatic,
active or complete dump for ADDR, a virtual address in hex or module+offset, shows every level's
entry, and explains a non-present one: paged out to a page file, in transition (still in RAM),
a prototype PTE, demand-zero, no access, or not mapped at all. That is the question a bug check
0x50 or 0xD1 on a pageable address raises. Small memory dumps hold no page tables.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDump(args[:1], stderr, func(f *kdump.File) error {
				pt := f.PageTables()
				if pt == nil {
					return fmt.Errorf("this %s holds no page tables; pte needs a kernel, automatic, active or complete memory dump", f.Header.DumpType)
				}
				va, err := parseAddr(f, args[1])
				if err != nil {
					return err
				}
				w := pt.Walk(va)
				r := pteReport{VA: ptrHex(f, va), Mode: w.Mode.String(), Root: fmt.Sprintf("%#x", w.Root), State: w.State.String(), Explanation: w.Explain()}
				for _, e := range w.Entries {
					r.Entries = append(r.Entries, pteEntry{Level: e.Name, Addr: fmt.Sprintf("%#x", e.Addr), Value: fmt.Sprintf("%#x", e.Value), State: e.State.String()})
				}
				if w.Resolved() {
					r.PA = fmt.Sprintf("%#x", w.PA)
					if w.PageSize != 0 {
						r.PageSize = fmt.Sprintf("%#x", w.PageSize)
					}
				}
				if asJSON {
					return writeJSON(stdout, r)
				}
				fmt.Fprintf(stdout, "VA %s (%s paging, root %s)\n", r.VA, r.Mode, r.Root)
				for _, e := range r.Entries {
					fmt.Fprintf(stdout, "  %-6s at %-14s contains %-18s %s\n", e.Level, e.Addr, e.Value, e.State)
				}
				if r.PA != "" {
					fmt.Fprintf(stdout, "  physical address %s\n", r.PA)
				}
				fmt.Fprintln(stdout)
				fmt.Fprintln(stdout, r.Explanation)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return c
}

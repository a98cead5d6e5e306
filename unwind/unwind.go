// Package unwind walks Windows stacks the way the Windows unwinder and
// WinDbg's k do, from a register context and the stack memory a dump
// captured:
//
//   - X64 follows each module's x64 exception data (.pdata RUNTIME_FUNCTION
//     and UNWIND_INFO, chained records, epilog detection, machine frames);
//   - ARM64 follows ARM64 .pdata and .xdata (packed and full unwind codes,
//     epilog scopes, the custom trap-frame, machine-frame and context codes);
//   - X86 follows the EBP frame chain with sanity checks.
//
// Crossing an interrupt or exception (an x64 machine frame, an ARM64
// trap frame, machine frame or context record) marks the frame reached as
// a trap frame, with the decoded trap frame when there is one. A walk
// ends with the reason it stopped, such as a module whose image is not
// available; callers fall back to a stack scan for the rest. Every walk is
// bounded: corrupt unwind data and cyclic or backward-running stacks stop
// it, they never loop.
//
// The unwinders are our own, written from Microsoft's x64 and ARM64
// exception-handling specifications; no Go library interprets Windows
// unwind data.
package unwind

import (
	"encoding/binary"
	"fmt"

	"github.com/bugcheck/bugcheck/cpuctx"
	"github.com/bugcheck/bugcheck/peimage"
)

// Memory reads captured virtual memory.
type Memory interface {
	Bytes(addr uint64, n int) ([]byte, error)
}

// Module is a loaded module the walk may cross.
type Module struct {
	Name      string
	Base      uint64
	Size      uint32
	Timestamp uint32
}

// Modules finds the module holding an address.
type Modules interface {
	ModuleAt(addr uint64) (Module, bool)
}

// Images supplies the image file of a module.
type Images interface {
	Image(name string, timestamp, size uint32) (*peimage.File, error)
}

// Frame methods: how the walk arrived at a frame.
const (
	MethodContext      = "context"       // the starting register context
	MethodUnwind       = "unwind"        // restored from the caller's unwind data
	MethodLeaf         = "leaf"          // the callee had no unwind data: a leaf function
	MethodTrap         = "trap"          // restored from a machine frame, trap frame or context record: an interrupted frame
	MethodFramePointer = "frame pointer" // x86: followed the EBP chain
)

// Frame is one frame of the walk.
type Frame struct {
	Number int
	SP     uint64 // the frame's stack pointer (WinDbg's Child-SP)
	IP     uint64 // the frame's instruction pointer (the return address for frames reached through a call)
	Module string // "" when no module holds IP
	Offset uint64
	Method string // one of the Method* values
	Trap   *Trap  // with MethodTrap: the record the frame's registers came from
}

// Trap kinds.
const (
	TrapMachineFrame = "machine frame" // only the hardware's RIP/RSP (x64) or PC/SP (ARM64) frame
	TrapFrame        = "trap frame"    // a KTRAP_FRAME
	TrapContext      = "context"       // a CONTEXT record (ARM64 MSFT_OP_CONTEXT)
)

// Trap is the interruption boundary before a frame, like the frames
// WinDbg's k marks with "TrapFrame @".
type Trap struct {
	Kind    string // one of the Trap* kinds
	Address uint64 // where the record starts on the stack
	// Registers is the decoded KTRAP_FRAME or CONTEXT record; nil for a bare
	// machine frame. A KTRAP_FRAME saves only the registers the kernel chose to.
	Registers    *cpuctx.Context
	FaultAddress uint64 // x64 KTRAP_FRAME.FaultAddress (CR2 of a page fault)
	ErrorCode    uint64 // the error code an x64 exception pushed, when HasErrorCode
	HasErrorCode bool
}

// Stop says why a walk ended.
type Stop int

// Reasons a walk ends.
const (
	StopEnd           Stop = iota + 1 // a zero return address or frame pointer: the base of the stack
	StopNoModule                      // the instruction pointer lies in no loaded module
	StopNoImage                       // the module's image (and so its unwind data) is not available
	StopBadUnwindData                 // the image's unwind data could not be read or interpreted
	StopMemory                        // stack memory the step needed was not captured
	StopNoProgress                    // the stack pointer did not grow, or the walk returned to a frame it had seen
	StopBadFrame                      // x86: the frame pointer or return address failed a sanity check
	StopMaxFrames                     // MaxFrames were walked
)

var stopNames = [...]string{StopEnd: "end of stack", StopNoModule: "no module", StopNoImage: "no image",
	StopBadUnwindData: "bad unwind data", StopMemory: "memory not captured", StopNoProgress: "no progress",
	StopBadFrame: "bad frame", StopMaxFrames: "too many frames"}

// String names the reason in a few words.
func (s Stop) String() string {
	if s > 0 && int(s) < len(stopNames) {
		return stopNames[s]
	}
	return fmt.Sprintf("Stop(%d)", int(s))
}

// Result is a walk and why it stopped.
type Result struct {
	Frames  []Frame
	Reason  Stop
	Stopped string // the reason in words, with the address or module involved
}

// MaxFrames bounds a walk.
const MaxFrames = 256

func (r *Result) stop(why Stop, format string, args ...any) Result {
	r.Reason, r.Stopped = why, fmt.Sprintf(format, args...)
	return *r
}

// walker holds what one walk shares across frames.
type walker struct {
	mem    Memory
	mods   Modules
	images Images
	x64    map[Module][]peimage.RuntimeFunction
	arm64  map[Module][]peimage.ARM64Function
	imgs   map[Module]*peimage.File
	seen   map[[2]uint64]bool // (ip, sp) pairs already walked
}

func newWalker(mem Memory, mods Modules, images Images) *walker {
	return &walker{mem: mem, mods: mods, images: images, x64: map[Module][]peimage.RuntimeFunction{},
		arm64: map[Module][]peimage.ARM64Function{}, imgs: map[Module]*peimage.File{}, seen: map[[2]uint64]bool{}}
}

func (w *walker) image(m Module) (*peimage.File, error) {
	if img, ok := w.imgs[m]; ok {
		return img, nil
	}
	if w.images == nil {
		return nil, fmt.Errorf("no images were supplied")
	}
	img, err := w.images.Image(m.Name, m.Timestamp, m.Size)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, fmt.Errorf("no image")
	}
	w.imgs[m] = img
	return img, nil
}

// revisit records a frame and reports whether the walk was there before.
func (w *walker) revisit(ip, sp uint64) bool {
	k := [2]uint64{ip, sp}
	if w.seen[k] {
		return true
	}
	w.seen[k] = true
	return false
}

// memError marks a failed stack read, so the walk can say memory was missing.
type memError struct {
	addr uint64
	err  error
}

func (e *memError) Error() string { return fmt.Sprintf("reading %#x: %v", e.addr, e.err) }

func (w *walker) u64(addr uint64) (uint64, error) {
	b, err := w.mem.Bytes(addr, 8)
	if err != nil || len(b) < 8 {
		if err == nil {
			err = fmt.Errorf("short read")
		}
		return 0, &memError{addr, err}
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (w *walker) u32(addr uint64) (uint32, error) {
	b, err := w.mem.Bytes(addr, 4)
	if err != nil || len(b) < 4 {
		if err == nil {
			err = fmt.Errorf("short read")
		}
		return 0, &memError{addr, err}
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (w *walker) bytes(addr uint64, n int) ([]byte, error) {
	b, err := w.mem.Bytes(addr, n)
	if err != nil || len(b) < n {
		if err == nil {
			err = fmt.Errorf("short read")
		}
		return nil, &memError{addr, err}
	}
	return b, nil
}

// stepFailed ends a walk after a failed unwind step.
func (r *Result) stepFailed(m Module, rva uint64, err error) Result {
	if _, ok := err.(*memError); ok {
		return r.stop(StopMemory, "unwinding %s+%#x: %v", m.Name, rva, err)
	}
	return r.stop(StopBadUnwindData, "unwinding %s+%#x: %v", m.Name, rva, err)
}

// addFrame appends the frame at ip/sp and returns its module.
func (w *walker) addFrame(r *Result, ip, sp uint64, method string, trap *Trap) (Module, bool) {
	f := Frame{Number: len(r.Frames), SP: sp, IP: ip, Method: method, Trap: trap}
	m, ok := w.mods.ModuleAt(ip)
	if ok {
		f.Module, f.Offset = m.Name, ip-m.Base
	}
	r.Frames = append(r.Frames, f)
	return m, ok
}

// progress checks the stack moved the right way between two frames: up,
// or (for a leaf step of an interrupted frame, which pushed nothing) not
// at all; a trap may return anywhere, but never to a frame already seen.
func (w *walker) progress(r *Result, oldSP, newSP, newIP uint64, method string, exact bool) (Result, bool) {
	switch {
	case newIP == 0:
		return r.stop(StopEnd, "reached the end of the stack (return address 0)"), false
	case method != MethodTrap && newSP < oldSP:
		return r.stop(StopNoProgress, "the stack pointer went backwards at frame %d (%#x to %#x)", len(r.Frames)-1, oldSP, newSP), false
	case method != MethodTrap && newSP == oldSP && !exact:
		return r.stop(StopNoProgress, "the stack pointer did not grow at frame %d", len(r.Frames)-1), false
	case w.revisit(newIP, newSP):
		return r.stop(StopNoProgress, "the walk came back to %#x with sp %#x (a cycle)", newIP, newSP), false
	}
	return Result{}, true
}

package paging

import (
	"errors"
	"fmt"
)

// State is the verdict of a page table walk.
type State int

// Walk verdicts.
const (
	Valid      State = iota + 1 // present 4 KiB page
	LargePage                   // present large page or block (2 MiB, 4 MiB, 1 GiB)
	Transition                  // not present, but the page is still in RAM (standby/modified list)
	Prototype                   // not present; a prototype PTE (section, mapped file) describes it
	PageFile                    // paged out to a page file
	DemandZero                  // committed, never touched: the first access gets a zeroed page
	NoAccess                    // protection forbids access: no-access or decommitted
	NotMapped                   // zero entry (or nothing committed) at some level
	Invalid                     // reserved bits, a table loop, a non-canonical address, a bad root
	Missing                     // a table page is not in the dump
)

var stateNames = [...]string{
	Valid: "Valid", LargePage: "LargePage", Transition: "Transition", Prototype: "Prototype",
	PageFile: "PageFile", DemandZero: "DemandZero", NoAccess: "NoAccess", NotMapped: "NotMapped",
	Invalid: "Invalid", Missing: "Missing",
}

func (s State) String() string {
	if s > 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Present reports whether the walk found the page in physical memory
// (Valid, LargePage or Transition), so Translate succeeds.
func (s State) Present() bool { return s == Valid || s == LargePage || s == Transition }

// Reasons wrapped by the *Error of an Invalid walk; test with errors.Is.
var (
	ErrReservedBits = errors.New("reserved bits set in page table entry")
	ErrLoop         = errors.New("page table loop")
	ErrNonCanonical = errors.New("address is not canonical for the paging mode")
	ErrBadMode      = errors.New("unknown paging mode")
	ErrProtoDepth   = errors.New("prototype PTE chain too long")
)

// Error says why a virtual address has no physical page. State is never
// Valid, LargePage or Transition. Err, when set, is the cause: a physical
// memory read error (State Missing), or one of ErrReservedBits, ErrLoop,
// ErrNonCanonical, ErrProtoDepth (State Invalid).
type Error struct {
	VA    uint64
	State State
	Level string // the entry that decided, e.g. "PDE"; "" for the root
	Entry uint64 // that entry's value
	Err   error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("virtual address %#x: %s", e.VA, e.State)
	if e.Level != "" {
		msg += fmt.Sprintf(" at %s %#x", e.Level, e.Entry)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// tableError wraps a failed read of a table page with where it was.
type tableError struct {
	Addr uint64 // physical address read
	Err  error
}

func (e *tableError) Error() string {
	return fmt.Sprintf("page table at physical %#x: %v", e.Addr, e.Err)
}

func (e *tableError) Unwrap() error { return e.Err }

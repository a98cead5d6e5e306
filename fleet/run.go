package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/kdump"
)

// Status says what became of one input.
type Status string

// Statuses of a Result.
const (
	StatusOK        Status = "ok"        // analysed; Report is set
	StatusFailed    Status = "failed"    // could not be read or parsed; Err is set
	StatusDuplicate Status = "duplicate" // same bytes as DuplicateOf, not analysed again
)

// Result is what became of one input.
type Result struct {
	Seq         int             // position in input order, from 0
	Name        string          // the path, with "!member" for archive members
	Dir         string          // the folder it came from (archive!folder for members)
	Machine     string          // the machine it came from, by its path: see Machine
	Size        int64           // bytes, once opened
	SHA256      string          // hex digest of the dump's bytes; empty when it could not be read or is over MaxHashed
	Status      Status          // what happened
	Err         error           // why it failed
	DuplicateOf string          // the Name of the first input with the same bytes
	Report      *analyze.Report // the analysis, for StatusOK
}

// Options tune Run.
type Options struct {
	// Jobs is the number of dumps analysed at once; 0 means
	// runtime.NumCPU().
	Jobs int

	// Analyze is passed to analyze.Analyze for every dump.
	Analyze analyze.Options

	// MaxInflate caps the decompressed size of a compressed dump, which is
	// held in memory; 0 means DefaultMaxInflate.
	MaxInflate int64

	// Progress, when set, hears of the total (once counted) and of every
	// result.
	Progress Progress
}

// Stats counts the outcome of a run.
type Stats struct {
	Inputs     int // every input, whatever became of it
	Analysed   int // StatusOK
	Failed     int // StatusFailed
	Duplicates int // StatusDuplicate
}

type job struct {
	seq int
	in  input
}

// Run analyses every dump args name and calls emit with each result in
// input order; emit is called from one goroutine at a time and must not
// keep the Result's Report if memory is to stay bounded. Only a window of a
// few results per worker is held at any time. Run returns when every input
// is done, or with the first error of emit or ctx; failed inputs are not
// errors, they are results.
func Run(ctx context.Context, args []string, opt Options, emit func(*Result) error) (Stats, error) {
	jobs := opt.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	limit := opt.MaxInflate
	if limit <= 0 {
		limit = DefaultMaxInflate
	}
	ctx, cancel := context.WithCancel(ctx)
	counted := make(chan struct{})
	defer func() {
		cancel()
		<-counted // no SetTotal after Run returns
	}()

	if opt.Progress == nil {
		close(counted)
	} else {
		go func() {
			defer close(counted)
			n := 0
			_ = walk(ctx, args, limit, func(in input) error {
				n++
				if in.release != nil {
					in.release()
				}
				return nil
			})
			if ctx.Err() == nil {
				opt.Progress.SetTotal(n)
			}
		}()
	}

	// window bounds the results in flight, between the walker and emit:
	// the reorder buffer never holds more.
	window := 4 * jobs
	tokens := make(chan struct{}, window)
	jobsCh := make(chan job)
	results := make(chan *Result, window)
	d := &dedup{claims: map[[32]byte]int{}}

	var walkErr error
	go func() {
		defer close(jobsCh)
		seq := 0
		walkErr = walk(ctx, args, limit, func(in input) error {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				if in.release != nil {
					in.release()
				}
				return ctx.Err()
			}
			jobsCh <- job{seq, in} // workers drain jobsCh until it is closed
			seq++
			return nil
		})
	}()

	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobsCh {
				results <- process(ctx, j, opt.Analyze, d)
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	var st Stats
	var emitErr error
	pending := map[int]*Result{}
	first := map[string]string{} // digest -> name of the first input with it
	next := 0
	for r := range results {
		pending[r.Seq] = r
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-tokens
			if emitErr != nil {
				continue
			}
			if r.SHA256 != "" {
				if orig, seen := first[r.SHA256]; seen {
					r.Status, r.DuplicateOf, r.Report, r.Err = StatusDuplicate, orig, nil, nil
				} else {
					first[r.SHA256] = r.Name
				}
			}
			st.Inputs++
			switch r.Status {
			case StatusOK:
				st.Analysed++
			case StatusFailed:
				st.Failed++
			case StatusDuplicate:
				st.Duplicates++
			}
			if opt.Progress != nil {
				opt.Progress.Done(r)
			}
			if err := emit(r); err != nil {
				emitErr = err
				cancel()
			}
		}
	}
	if emitErr != nil {
		return st, emitErr
	}
	if walkErr != nil {
		return st, walkErr
	}
	return st, ctx.Err()
}

// MaxHashed is the size of the largest dump hashed for duplicate
// detection. Reading a multi-gigabyte complete memory dump whole only to
// hash it would dominate a run whose parser reads just its header, so such
// dumps get no SHA256 and are never reported as duplicates.
const MaxHashed = 256 << 20

// dedup lets a worker skip a dump whose bytes an earlier input (by
// sequence) already has; the earliest input with given bytes is always
// analysed, so results do not depend on scheduling.
type dedup struct {
	mu     sync.Mutex
	claims map[[32]byte]int // digest -> lowest sequence number seen
}

// claim reports whether seq is, so far, the earliest input with digest.
func (d *dedup) claim(sum [32]byte, seq int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.claims[sum]; ok && s < seq {
		return false
	}
	d.claims[sum] = seq
	return true
}

// process opens, hashes and analyses one input.
func process(ctx context.Context, j job, opt analyze.Options, d *dedup) (r *Result) {
	in := j.in
	r = &Result{Seq: j.seq, Name: in.name, Dir: in.dir, Machine: in.machine, Status: StatusFailed}
	if in.release != nil {
		defer in.release()
	}
	if in.err != nil {
		r.Err = in.err
		return r
	}
	if err := ctx.Err(); err != nil {
		r.Err = err
		return r
	}
	c, err := in.open()
	if err != nil {
		r.Err = &InputError{Input: in.name, Err: err}
		return r
	}
	defer c.close()
	r.Size = c.size
	if c.size <= MaxHashed {
		var sum [32]byte
		if c.data != nil {
			sum = sha256.Sum256(c.data)
		} else {
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(c.r, 0, c.size)); err != nil {
				r.Err = &InputError{Input: in.name, Err: err}
				return r
			}
			copy(sum[:], h.Sum(nil))
		}
		r.SHA256 = hex.EncodeToString(sum[:])
		if !d.claim(sum, j.seq) {
			r.Status = StatusDuplicate // the collector names the original
			return r
		}
	}
	defer func() {
		// A parser bug on one hostile dump must not end the run.
		if p := recover(); p != nil {
			r.Status, r.Report = StatusFailed, nil
			r.Err = &InputError{Input: in.name, Err: fmt.Errorf("internal error analysing the dump: %v", p)}
		}
	}()
	f, err := kdump.NewFile(c.r, c.size, in.base)
	if err != nil {
		r.Err = err
		return r
	}
	r.Report = analyze.Analyze(f, opt)
	r.Status = StatusOK
	return r
}

// ErrorText describes a failure without repeating the input's name, which
// the caller shows next to it: "offset 0x0: bad signature".
func ErrorText(err error) string {
	var fe *kdump.FormatError
	if errors.As(err, &fe) {
		return fmt.Sprintf("offset %#x: %s", fe.Offset, fe.Msg)
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return ie.Err.Error()
	}
	return err.Error()
}

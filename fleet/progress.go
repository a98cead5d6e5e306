package fleet

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Progress hears how a run advances. Run calls SetTotal from its own
// goroutine once the inputs are counted, and Done in input order.
type Progress interface {
	SetTotal(n int) // the number of inputs, once counted
	Done(r *Result) // one more input finished
}

// Bar is a terminal progress bar with the rate and the time left.
type Bar struct {
	p   *mpb.Progress
	bar *mpb.Bar
}

// NewBar starts a progress bar drawn on w, which must be a terminal.
func NewBar(w io.Writer) *Bar {
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	bar := p.AddBar(0,
		mpb.PrependDecorators(decor.Name("dumps "), decor.CountersNoUnit("%d / %d", decor.WCSyncWidth)),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(nil, " %.0f/s"),
			decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)),
	)
	return &Bar{p: p, bar: bar}
}

// SetTotal sets the bar's total.
func (b *Bar) SetTotal(n int) { b.bar.SetTotal(int64(n), false) }

// Done advances the bar.
func (b *Bar) Done(*Result) { b.bar.Increment() }

// Write prints a line above the bar, for messages during the run.
func (b *Bar) Write(p []byte) (int, error) { return b.p.Write(p) }

// Close completes the bar and waits for its last drawing.
func (b *Bar) Close() {
	b.bar.SetTotal(-1, true)
	b.p.Wait()
}

// Log writes a plain progress line now and then, for logs and pipes where
// a bar would be noise.
type Log struct {
	w     io.Writer
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	start  time.Time
	last   time.Time
	total  int
	done   int
	failed int
}

// NewLog writes a progress line to w at most once per interval (and once at
// Close).
func NewLog(w io.Writer, every time.Duration) *Log {
	l := &Log{w: w, every: every, now: time.Now}
	l.start = l.now()
	l.last = l.start
	return l
}

// SetTotal records the number of inputs.
func (l *Log) SetTotal(n int) {
	l.mu.Lock()
	l.total = n
	l.mu.Unlock()
}

// Done counts a result and writes a line when the interval has passed.
func (l *Log) Done(r *Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	if r.Status == StatusFailed {
		l.failed++
	}
	if t := l.now(); t.Sub(l.last) >= l.every {
		l.last = t
		l.line(t)
	}
}

// Write passes messages through.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Close writes the final line.
func (l *Log) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line(l.now())
}

func (l *Log) line(t time.Time) {
	el := t.Sub(l.start)
	rate := 0.0
	if el > 0 {
		rate = float64(l.done) / el.Seconds()
	}
	s := fmt.Sprintf("bugcheck: %d", l.done)
	if l.total > 0 {
		s += fmt.Sprintf(" of %d dumps (%d%%)", l.total, 100*l.done/l.total)
	} else {
		s += " dumps"
	}
	if l.failed > 0 {
		s += fmt.Sprintf(", %d failed", l.failed)
	}
	s += fmt.Sprintf(", %.0f/s", rate)
	if l.total > l.done && rate > 0 {
		eta := time.Duration(float64(l.total-l.done) / rate * float64(time.Second))
		s += ", ETA " + eta.Round(time.Second).String()
	} else if l.done > 0 && l.total == l.done {
		s += ", done in " + el.Round(time.Millisecond).String()
	}
	fmt.Fprintln(l.w, s)
}

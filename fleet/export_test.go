package fleet

import "time"

// SetLogClock gives a Log a fake clock, started now.
func SetLogClock(l *Log, now func() time.Time) {
	l.now = now
	l.start = now()
	l.last = l.start
}

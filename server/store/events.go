package store

import (
	"context"
	"time"
)

// LogEvent is one record of a machine's System event log, kept so that
// the machine's crash timeline can be rebuilt (package crashlog) from
// every log the machine sent. A record is identified by its machine,
// provider and record id: a newer export of the same log repeats the
// records of the older one, and storing it again changes nothing.
type LogEvent struct {
	Machine  string            `json:"machine"`
	UploadID int64             `json:"upload_id"` // the upload that last brought it
	File     string            `json:"file"`      // the log's file name, as uploaded
	RecordID uint64            `json:"record_id"`
	Time     time.Time         `json:"time"`
	Provider string            `json:"provider"`
	Source   string            `json:"source,omitempty"` // classic event source name
	EventID  uint16            `json:"event_id"`
	Level    uint8             `json:"level"`
	Computer string            `json:"computer"`
	Data     map[string]string `json:"data,omitempty"`
}

// EventStore is what a Store implements to keep machines' event logs
// (.evtx uploads). It is optional: a server whose store lacks it refuses
// event logs and shows crash timelines from dumps only.
type EventStore interface {
	// CompleteEventJob stores the events read from the job's upload for
	// machine, replacing stored events with the same machine, provider
	// and record id; sets the upload's machine when it had none, its
	// status and error; and removes the job — all in one transaction.
	CompleteEventJob(ctx context.Context, j *Job, machine string, events []LogEvent, status, errText string) error
	// MachineEvents returns the events stored for machine, oldest first,
	// at most limit of the newest (0 means all).
	MachineEvents(ctx context.Context, machine string, limit int) ([]LogEvent, error)
	// EventMachines lists the machines with stored events, the one with
	// the newest event first.
	EventMachines(ctx context.Context, limit int) ([]MachineLog, error)
}

// MachineLog summarises the events stored for one machine.
type MachineLog struct {
	Machine string    `json:"machine"`
	Events  int       `json:"events"`
	First   time.Time `json:"first_event"`
	Last    time.Time `json:"last_event"`
}

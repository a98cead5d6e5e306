package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bugcheck/bugcheck/server/store"
)

// testEvents checks a store.EventStore: records merge by machine,
// provider and record id; a job's events, its upload's status and machine
// and the job's removal are stored together; the newest events and the
// machines with logs are listed in order.
func testEvents(t *testing.T, db store.Store) {
	es := db.(store.EventStore)
	ctx := context.Background()
	at := time.Date(2012, 4, 6, 13, 59, 13, 29e6, time.UTC)
	ev := func(prov string, rec uint64, min int) store.LogEvent {
		return store.LogEvent{File: "System.evtx", RecordID: rec, Time: at.Add(time.Duration(min) * time.Minute), Provider: prov,
			EventID: 41, Level: 1, Computer: "pc01.example", Data: map[string]string{"BugcheckCode": "65537"}}
	}
	complete := func(i int, machine, to string, evs []store.LogEvent) int64 {
		t.Helper()
		u := &store.Upload{SHA256: strings.Repeat(string("0123456789abcdef"[i]), 64), Kind: "evtx", Size: 4096, Name: "System.evtx", Machine: machine}
		got, _, err := db.AddUpload(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		j, err := db.ClaimJob(ctx, "w", time.Minute)
		if err != nil || j == nil || j.UploadID != got.ID {
			t.Fatalf("claim: %+v %v", j, err)
		}
		if err := es.CompleteEventJob(ctx, j, to, evs, store.UploadDone, ""); err != nil {
			t.Fatal(err)
		}
		return got.ID
	}
	u1 := complete(1, "", "PC01", []store.LogEvent{ev("Microsoft-Windows-Kernel-Power", 13392, 0), ev("EventLog", 13392, 1), ev("EventLog", 13388, -1)})
	// A newer export repeats two records and adds one; another machine's
	// log has the same record ids.
	u2 := complete(2, "PC01", "PC01", []store.LogEvent{ev("EventLog", 13392, 1), ev("EventLog", 13388, -1), ev("EventLog", 13400, 5)})
	complete(3, "PC02", "PC02", []store.LogEvent{ev("EventLog", 13392, 1)})

	got, err := es.MachineEvents(ctx, "PC01", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		prov   string
		rec    uint64
		upload int64
	}{{"EventLog", 13388, u2}, {"Microsoft-Windows-Kernel-Power", 13392, u1}, {"EventLog", 13392, u2}, {"EventLog", 13400, u2}}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Provider != w.prov || g.RecordID != w.rec || g.UploadID != w.upload || g.Machine != "PC01" || g.EventID != 41 || g.Level != 1 ||
			g.Computer != "pc01.example" || g.Data["BugcheckCode"] != "65537" || g.File != "System.evtx" {
			t.Errorf("event %d: %+v, want %+v", i, g, w)
		}
	}
	if !got[1].Time.Equal(at) {
		t.Errorf("time %v, want %v (milliseconds kept)", got[1].Time, at)
	}
	if last, err := es.MachineEvents(ctx, "PC01", 2); err != nil || len(last) != 2 || last[0].RecordID != 13392 || last[1].RecordID != 13400 {
		t.Errorf("newest 2 events: %+v %v", last, err)
	}
	up, err := db.Upload(ctx, u1)
	if err != nil || up.Machine != "PC01" || up.Status != store.UploadDone || up.Dumps != 0 {
		t.Errorf("upload without a machine after its log was read: %+v %v", up, err)
	}
	if q, _ := db.Queue(ctx); q.Queued+q.Running != 0 {
		t.Errorf("jobs left: %+v", q)
	}
	ms, err := es.EventMachines(ctx, 10)
	if err != nil || len(ms) != 2 || ms[0].Machine != "PC01" || ms[0].Events != 4 || ms[1].Machine != "PC02" || ms[1].Events != 1 ||
		!ms[0].First.Equal(at.Add(-time.Minute)) || !ms[0].Last.Equal(at.Add(5*time.Minute)) {
		t.Errorf("machines with logs: %+v %v", ms, err)
	}
	if none, err := es.MachineEvents(ctx, "PC03", 0); err != nil || len(none) != 0 {
		t.Errorf("machine without a log: %+v %v", none, err)
	}
}

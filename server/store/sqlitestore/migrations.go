package sqlitestore

// migrations are applied in order, each in its own transaction; the
// database records how many it has had (PRAGMA user_version). Never edit
// a released migration: append a new one.
var migrations = []string{
	// 1: uploads, the job queue, crashes, tokens.
	`
CREATE TABLE uploads (
	id          INTEGER PRIMARY KEY,
	sha256      TEXT    NOT NULL UNIQUE,
	kind        TEXT    NOT NULL,
	size        INTEGER NOT NULL,
	name        TEXT    NOT NULL,
	machine     TEXT    NOT NULL,
	received_ms INTEGER NOT NULL,
	status      TEXT    NOT NULL,
	error       TEXT    NOT NULL DEFAULT '',
	dumps       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX uploads_received ON uploads(received_ms);

CREATE TABLE jobs (
	id             INTEGER PRIMARY KEY,
	upload_id      INTEGER NOT NULL REFERENCES uploads(id),
	state          TEXT    NOT NULL CHECK (state IN ('queued', 'running')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	run_after_ms   INTEGER NOT NULL,
	lease_until_ms INTEGER NOT NULL DEFAULT 0,
	worker         TEXT    NOT NULL DEFAULT '',
	last_error     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX jobs_ready ON jobs(state, run_after_ms);
CREATE INDEX jobs_upload ON jobs(upload_id);

CREATE TABLE crashes (
	sha256         TEXT    PRIMARY KEY,
	upload_id      INTEGER NOT NULL REFERENCES uploads(id),
	member         TEXT    NOT NULL,
	machine        TEXT    NOT NULL,
	received_ms    INTEGER NOT NULL,
	crash_ms       INTEGER,
	seen_ms        INTEGER NOT NULL,
	bucket         TEXT    NOT NULL,
	code           TEXT    NOT NULL,
	code_name      TEXT    NOT NULL,
	driver         TEXT    NOT NULL,
	driver_version TEXT    NOT NULL,
	confidence     TEXT    NOT NULL,
	summary        TEXT    NOT NULL,
	os_build       INTEGER NOT NULL,
	analysed_ms    INTEGER NOT NULL,
	report         BLOB    NOT NULL
);
CREATE INDEX crashes_bucket ON crashes(bucket);
CREATE INDEX crashes_driver ON crashes(driver COLLATE NOCASE);
CREATE INDEX crashes_machine ON crashes(machine);
CREATE INDEX crashes_received ON crashes(received_ms);
CREATE INDEX crashes_seen ON crashes(seen_ms);
CREATE INDEX crashes_upload ON crashes(upload_id);

CREATE TABLE tokens (
	id         INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	role       TEXT    NOT NULL CHECK (role IN ('read', 'upload', 'admin')),
	hash       TEXT    NOT NULL UNIQUE,
	created_ms INTEGER NOT NULL
);
`,
	// 2: machines' System-log events (.evtx uploads), one row per record.
	`
CREATE TABLE log_events (
	machine   TEXT    NOT NULL,
	provider  TEXT    NOT NULL,
	record_id INTEGER NOT NULL,
	upload_id INTEGER NOT NULL REFERENCES uploads(id),
	file      TEXT    NOT NULL,
	time_ms   INTEGER NOT NULL,
	source    TEXT    NOT NULL,
	event_id  INTEGER NOT NULL,
	level     INTEGER NOT NULL,
	computer  TEXT    NOT NULL,
	data      TEXT    NOT NULL, -- JSON object of the event's data fields
	PRIMARY KEY (machine, provider, record_id)
) WITHOUT ROWID;
CREATE INDEX log_events_time ON log_events(machine, time_ms);
CREATE INDEX log_events_upload ON log_events(upload_id);
`,
	// 3: sign-in sessions of the pages; a session dies with its token.
	`
CREATE TABLE sessions (
	hash       TEXT    PRIMARY KEY,
	token_id   INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
	role       TEXT    NOT NULL CHECK (role IN ('read', 'upload', 'admin')),
	created_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_token ON sessions(token_id);
CREATE INDEX sessions_expires ON sessions(expires_ms);
`,
}

package pgstore

// migrations are applied in order, each in its own transaction under an
// advisory lock, so that instances starting together apply each once; the
// database records how many it has had in schema_version. Never edit a
// released migration: append a new one.
var migrations = []string{
	// 1: uploads, the job queue, crashes, tokens.
	`
CREATE TABLE uploads (
	id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	sha256   text        NOT NULL UNIQUE,
	kind     text        NOT NULL,
	size     bigint      NOT NULL,
	name     text        NOT NULL,
	machine  text        NOT NULL,
	received timestamptz NOT NULL,
	status   text        NOT NULL,
	error    text        NOT NULL DEFAULT '',
	dumps    integer     NOT NULL DEFAULT 0
);
CREATE INDEX uploads_received ON uploads(received);

CREATE TABLE jobs (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	upload_id   bigint      NOT NULL REFERENCES uploads(id),
	state       text        NOT NULL CHECK (state IN ('queued', 'running')),
	attempts    integer     NOT NULL DEFAULT 0,
	run_after   timestamptz NOT NULL DEFAULT '-infinity',
	lease_until timestamptz NOT NULL DEFAULT '-infinity',
	worker      text        NOT NULL DEFAULT '',
	last_error  text        NOT NULL DEFAULT ''
);
CREATE INDEX jobs_queued ON jobs(run_after, id) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs(lease_until) WHERE state = 'running';
CREATE INDEX jobs_upload ON jobs(upload_id);

CREATE TABLE crashes (
	sha256         text        PRIMARY KEY,
	upload_id      bigint      NOT NULL REFERENCES uploads(id),
	member         text        NOT NULL,
	machine        text        NOT NULL,
	received       timestamptz NOT NULL,
	crash_time     timestamptz,
	seen           timestamptz NOT NULL,
	bucket         text        NOT NULL,
	code           text        NOT NULL,
	code_name      text        NOT NULL,
	driver         text        NOT NULL,
	driver_version text        NOT NULL,
	confidence     text        NOT NULL,
	summary        text        NOT NULL,
	os_build       bigint      NOT NULL,
	analysed       timestamptz NOT NULL,
	report         bytea       NOT NULL
);
CREATE INDEX crashes_bucket ON crashes(bucket);
CREATE INDEX crashes_driver ON crashes(lower(driver));
CREATE INDEX crashes_machine ON crashes(machine);
CREATE INDEX crashes_received ON crashes(received);
CREATE INDEX crashes_seen ON crashes(seen);
CREATE INDEX crashes_upload ON crashes(upload_id);

CREATE TABLE tokens (
	id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name    text        NOT NULL,
	role    text        NOT NULL CHECK (role IN ('read', 'upload', 'admin')),
	hash    text        NOT NULL UNIQUE,
	created timestamptz NOT NULL
);
`,
	// 2: machines' System-log events (.evtx uploads), one row per record.
	`
CREATE TABLE log_events (
	machine   text        NOT NULL,
	provider  text        NOT NULL,
	record_id bigint      NOT NULL,
	upload_id bigint      NOT NULL REFERENCES uploads(id),
	file      text        NOT NULL,
	time      timestamptz NOT NULL,
	source    text        NOT NULL,
	event_id  integer     NOT NULL,
	level     smallint    NOT NULL,
	computer  text        NOT NULL,
	data      jsonb       NOT NULL, -- the event's data fields
	PRIMARY KEY (machine, provider, record_id)
);
CREATE INDEX log_events_time ON log_events(machine, time);
CREATE INDEX log_events_upload ON log_events(upload_id);
`,
	// 3: sign-in sessions of the pages; a session dies with its token.
	`
CREATE TABLE sessions (
	hash     text        PRIMARY KEY,
	token_id bigint      NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
	role     text        NOT NULL CHECK (role IN ('read', 'upload', 'admin')),
	created  timestamptz NOT NULL,
	expires  timestamptz NOT NULL
);
CREATE INDEX sessions_token ON sessions(token_id);
CREATE INDEX sessions_expires ON sessions(expires);
`,
}

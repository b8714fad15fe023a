-- The local trainer (trainer/): uploaded files, fine-tuning jobs, their events and checkpoints,
-- in OpenAI's shapes. Times are Unix seconds (named *_unix), as the API reports them.

-- Files uploaded to the trainer, and the result files of finished jobs. The content is stored
-- under the file's id (never under the name the client gave).
CREATE TABLE trainer_files (
    id           TEXT    PRIMARY KEY,                 -- "file-" + 24 hex
    filename     TEXT    NOT NULL,                    -- as the client named it; shown only
    purpose      TEXT    NOT NULL CHECK (purpose IN ('fine-tune', 'fine-tune-results')),
    bytes        INTEGER NOT NULL CHECK (bytes >= 0),
    sha256       TEXT    NOT NULL,
    path         TEXT    NOT NULL UNIQUE,             -- relative to DATA_DIR
    created_unix INTEGER NOT NULL
);

-- seq orders the list (newest first) and the "after" paging; id is what the API shows.
CREATE TABLE trainer_jobs (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT    NOT NULL UNIQUE,      -- "ftjob-" + 24 hex
    base_model          TEXT    NOT NULL,             -- a name in the base-model table
    model_name          TEXT    NOT NULL,             -- "ft:<base>:kobo:<suffix>:<8 hex>"
    training_file       TEXT    NOT NULL,             -- file ids (the file may be deleted later)
    validation_file     TEXT,
    suffix              TEXT,
    seed                INTEGER NOT NULL,
    method              TEXT    NOT NULL CHECK (method IN ('lora', 'full')),
    hyperparameters     TEXT    NOT NULL,             -- JSON, as asked ("auto" until resolved)
    merge               INTEGER NOT NULL CHECK (merge IN (0, 1)),
    metadata            TEXT,                         -- JSON or NULL
    status              TEXT    NOT NULL CHECK (status IN
                            ('validating_files', 'queued', 'running', 'succeeded', 'failed',
                             'cancelled')),
    error_code          TEXT,
    error_message       TEXT,
    error_param         TEXT,
    trained_tokens      INTEGER,
    result_file         TEXT,                         -- id of the results CSV file
    model_dir           TEXT,                         -- relative to DATA_DIR, once succeeded
    progress_offset     INTEGER NOT NULL DEFAULT 0,   -- bytes of progress.jsonl recorded
    total_steps         INTEGER,
    restarts            INTEGER NOT NULL DEFAULT 0,   -- times resumed after a restart
    device              TEXT,                         -- 'cpu' or 'cuda', once started
    dtype               TEXT,
    chars_per_second    REAL,                         -- measured training throughput
    peak_memory_bytes   INTEGER,
    pid                 INTEGER,                      -- the training process while it runs
    created_unix        INTEGER NOT NULL,
    started_unix        INTEGER,
    finished_unix       INTEGER,
    estimated_finish_unix INTEGER
);
CREATE INDEX trainer_jobs_status ON trainer_jobs (status, seq);

-- seq gives the order (newest first) and the "after" paging. The dedupe key names what an event
-- is about ("step:12", "checkpoint:30", "resume:1"): reading progress.jsonl again after a
-- restart, or a step repeated after resuming from a checkpoint, records nothing twice.
CREATE TABLE trainer_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,             -- "ftevent-" + 24 hex
    job_id       TEXT    NOT NULL REFERENCES trainer_jobs (id) ON DELETE CASCADE,
    dedupe_key   TEXT    NOT NULL,
    created_unix INTEGER NOT NULL,
    level        TEXT    NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    type         TEXT    NOT NULL CHECK (type IN ('message', 'metrics')),
    message      TEXT    NOT NULL,
    data         TEXT,                                -- JSON or NULL
    UNIQUE (job_id, dedupe_key)
);
CREATE INDEX trainer_events_job ON trainer_events (job_id, seq);

-- One per epoch's end, with that step's metrics; one per (job, step).
CREATE TABLE trainer_checkpoints (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,             -- "ftckpt-" + 24 hex
    job_id       TEXT    NOT NULL REFERENCES trainer_jobs (id) ON DELETE CASCADE,
    step         INTEGER NOT NULL CHECK (step >= 0),
    metrics      TEXT    NOT NULL,                    -- JSON
    model        TEXT    NOT NULL,                    -- "<model name>:ckpt-step-<step>"
    created_unix INTEGER NOT NULL,
    UNIQUE (job_id, step)
);

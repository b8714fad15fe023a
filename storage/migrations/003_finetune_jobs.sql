-- OpenAI fine-tuning jobs started through kobo, the events we have seen, and a notice outbox.

-- One row per job started through kobo. Timestamps are ISO 8601 UTC text unless named *_unix
-- (OpenAI's own Unix seconds, kept as given so durations match what OpenAI reports).
CREATE TABLE finetune_jobs (
    job_id              TEXT    PRIMARY KEY,          -- OpenAI's "ftjob-..." id
    plan_id             TEXT    NOT NULL UNIQUE,      -- one job per prepared plan: no double starts
    base_model          TEXT    NOT NULL,
    training_file_id    TEXT    NOT NULL,
    training_filename   TEXT    NOT NULL,
    validation_file_id  TEXT,
    requested_epochs    TEXT    NOT NULL,             -- 'auto' or a number, as staff asked
    hyperparameters     TEXT    NOT NULL,             -- JSON, as OpenAI last reported them
    suffix              TEXT,
    seed                INTEGER,
    guild_id            TEXT    NOT NULL,
    channel_id          TEXT    NOT NULL,
    requested_by        TEXT    NOT NULL,             -- Discord user id
    created_at          TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN
                            ('validating_files', 'queued', 'running', 'succeeded', 'failed',
                             'cancelled')),
    estimated_tokens    INTEGER NOT NULL,
    estimated_cost_usd  REAL    NOT NULL,
    fine_tuned_model    TEXT,
    trained_tokens      INTEGER,
    error_message       TEXT,
    openai_created_unix INTEGER,
    finished_unix       INTEGER,
    cancel_requested_by TEXT,                         -- set when staff cancelled through kobo
    cancel_requested_at TEXT,
    last_event_id       TEXT,                         -- newest event seen: the events cursor
    last_event_unix     INTEGER,
    last_progress_at    TEXT,                         -- throttles progress notices
    updated_at          TEXT    NOT NULL
);
CREATE INDEX finetune_jobs_status ON finetune_jobs (status, created_at);
CREATE INDEX finetune_jobs_created ON finetune_jobs (created_at);

-- Events as OpenAI reported them, for /job. Keyed by OpenAI's id so a re-poll stores nothing twice.
CREATE TABLE finetune_job_events (
    job_id       TEXT    NOT NULL REFERENCES finetune_jobs (job_id) ON DELETE CASCADE,
    event_id     TEXT    NOT NULL,
    created_unix INTEGER NOT NULL,
    level        TEXT    NOT NULL,
    type         TEXT,
    message      TEXT    NOT NULL,
    data         TEXT,                                -- JSON or NULL
    PRIMARY KEY (job_id, event_id)
);
CREATE INDEX finetune_job_events_recent ON finetune_job_events (job_id, created_unix);

-- The outbox: notices are written in the same transaction as the job state they describe and
-- delivered afterwards. UNIQUE (job_id, kind, dedupe_key) makes a repeated poll insert nothing.
CREATE TABLE finetune_notices (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id         TEXT    NOT NULL REFERENCES finetune_jobs (job_id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN
                       ('running', 'progress', 'succeeded', 'failed', 'cancelled')),
    dedupe_key     TEXT    NOT NULL,
    nonce          TEXT    NOT NULL UNIQUE CHECK (length(nonce) <= 25),
    payload        TEXT    NOT NULL,                  -- JSON of the notice's fields
    image_png      BLOB,
    created_at     TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN
                       ('pending', 'delivered', 'dropped')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    finished_at    TEXT,                              -- when delivered or dropped
    UNIQUE (job_id, kind, dedupe_key)
);
CREATE INDEX finetune_notices_pending ON finetune_notices (state, id);

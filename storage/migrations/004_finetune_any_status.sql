-- Fine-tuning jobs keep whatever status OpenAI reports ('paused', and any it adds later) instead
-- of rejecting it, and record when kobo stopped following a job (OpenAI rejected the key). Notices
-- gain the 'key_rejected' kind.
--
-- SQLite cannot drop a CHECK constraint, so the three tables are rebuilt. The migration runs in
-- one transaction with foreign keys on, where dropping finetune_jobs would cascade-delete every
-- row that REFERENCES it. So the new tables refer to finetune_jobs_new; the old ones are dropped
-- (nothing refers to them any more), and renaming finetune_jobs_new rewrites those references.

CREATE TABLE finetune_jobs_new (
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
    status              TEXT    NOT NULL,             -- as OpenAI reports it, whatever it is
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
    updated_at          TEXT    NOT NULL,
    not_followed_reason TEXT,                         -- why kobo stopped polling it ('key rejected')
    not_followed_since  TEXT                          -- NULL again once a poll gets through
);
INSERT INTO finetune_jobs_new (
    job_id, plan_id, base_model, training_file_id, training_filename, validation_file_id,
    requested_epochs, hyperparameters, suffix, seed, guild_id, channel_id, requested_by,
    created_at, status, estimated_tokens, estimated_cost_usd, fine_tuned_model, trained_tokens,
    error_message, openai_created_unix, finished_unix, cancel_requested_by, cancel_requested_at,
    last_event_id, last_event_unix, last_progress_at, updated_at
)
SELECT
    job_id, plan_id, base_model, training_file_id, training_filename, validation_file_id,
    requested_epochs, hyperparameters, suffix, seed, guild_id, channel_id, requested_by,
    created_at, status, estimated_tokens, estimated_cost_usd, fine_tuned_model, trained_tokens,
    error_message, openai_created_unix, finished_unix, cancel_requested_by, cancel_requested_at,
    last_event_id, last_event_unix, last_progress_at, updated_at
FROM finetune_jobs;

CREATE TABLE finetune_job_events_new (
    job_id       TEXT    NOT NULL REFERENCES finetune_jobs_new (job_id) ON DELETE CASCADE,
    event_id     TEXT    NOT NULL,
    created_unix INTEGER NOT NULL,
    level        TEXT    NOT NULL,
    type         TEXT,
    message      TEXT    NOT NULL,
    data         TEXT,                                -- JSON or NULL
    PRIMARY KEY (job_id, event_id)
);
-- In rowid order: /job breaks ties between events of the same second by insertion order.
INSERT INTO finetune_job_events_new (job_id, event_id, created_unix, level, type, message, data)
SELECT job_id, event_id, created_unix, level, type, message, data
FROM finetune_job_events ORDER BY rowid;

CREATE TABLE finetune_notices_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id         TEXT    NOT NULL REFERENCES finetune_jobs_new (job_id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN
                       ('running', 'progress', 'succeeded', 'failed', 'cancelled',
                        'key_rejected')),
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
-- Ids kept: delivery goes oldest first by id, and AUTOINCREMENT carries on after the largest.
INSERT INTO finetune_notices_new (
    id, job_id, kind, dedupe_key, nonce, payload, image_png, created_at, state, attempts,
    last_error, finished_at
)
SELECT
    id, job_id, kind, dedupe_key, nonce, payload, image_png, created_at, state, attempts,
    last_error, finished_at
FROM finetune_notices;

DROP TABLE finetune_notices;
DROP TABLE finetune_job_events;
DROP TABLE finetune_jobs;

ALTER TABLE finetune_jobs_new RENAME TO finetune_jobs;
ALTER TABLE finetune_job_events_new RENAME TO finetune_job_events;
ALTER TABLE finetune_notices_new RENAME TO finetune_notices;

CREATE INDEX finetune_jobs_status ON finetune_jobs (status, created_at);
CREATE INDEX finetune_jobs_created ON finetune_jobs (created_at);
CREATE INDEX finetune_job_events_recent ON finetune_job_events (job_id, created_unix);
CREATE INDEX finetune_notices_pending ON finetune_notices (state, id);

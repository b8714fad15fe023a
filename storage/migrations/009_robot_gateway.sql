-- The robots' chat gateway (issue 10): one key per robot, and what each robot has asked.

-- A robot's key is "kobo-<stack_id>-<secret>"; only the SHA-256 of the secret is kept, so the
-- database never holds a usable key. Issuing a new key replaces the old one; revoking keeps the
-- row (who and when) but no key matches it any more.
CREATE TABLE robot_keys (
    stack_id        INTEGER PRIMARY KEY CHECK (stack_id > 0),
    secret_sha256   TEXT    NOT NULL CHECK (length(secret_sha256) = 64),
    issued_by       TEXT    NOT NULL,   -- Discord user id of the staff member
    issued_by_name  TEXT    NOT NULL,
    issued_at       TEXT    NOT NULL,   -- ISO 8601 UTC
    revoked_by      TEXT,
    revoked_by_name TEXT,
    revoked_at      TEXT
);

-- Running totals per robot, for /stacks. A request counts once, when it ends.
CREATE TABLE robot_usage (
    stack_id          INTEGER PRIMARY KEY CHECK (stack_id > 0),
    requests          INTEGER NOT NULL DEFAULT 0 CHECK (requests >= 0),
    errors            INTEGER NOT NULL DEFAULT 0 CHECK (errors >= 0),
    prompt_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    last_request_at   TEXT
);

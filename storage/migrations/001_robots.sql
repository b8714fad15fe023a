-- Which model each Stack-chan robot uses, every change to that, and when each robot last asked.

CREATE TABLE robot_assignments (
    stack_id     INTEGER PRIMARY KEY CHECK (stack_id > 0),
    model        TEXT    NOT NULL,
    assigned_by  TEXT    NOT NULL,   -- Discord user id of the staff member
    assigned_by_name TEXT NOT NULL,  -- their display name at the time, for tables
    assigned_at  TEXT    NOT NULL    -- ISO 8601 UTC
);

-- Append-only: one row per change, old_model NULL when the robot had none, new_model NULL on unassign.
CREATE TABLE assignment_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    stack_id     INTEGER NOT NULL CHECK (stack_id > 0),
    old_model    TEXT,
    new_model    TEXT,
    changed_by   TEXT    NOT NULL,
    changed_by_name TEXT NOT NULL,
    changed_at   TEXT    NOT NULL
);
CREATE INDEX assignment_history_stack ON assignment_history (stack_id, id);

CREATE TRIGGER assignment_history_no_update BEFORE UPDATE ON assignment_history
BEGIN
    SELECT RAISE(ABORT, 'assignment_history is append-only');
END;

CREATE TRIGGER assignment_history_no_delete BEFORE DELETE ON assignment_history
BEGIN
    SELECT RAISE(ABORT, 'assignment_history is append-only');
END;

CREATE TABLE robot_last_seen (
    stack_id     INTEGER PRIMARY KEY CHECK (stack_id > 0),
    seen_at      TEXT    NOT NULL,
    address      TEXT
);

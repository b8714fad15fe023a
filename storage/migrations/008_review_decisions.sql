-- Review of augmented examples: one decision per example, written as it is made.
-- The primary key makes a race decide once: the first INSERT wins, the others do nothing and
-- read back who decided.
CREATE TABLE review_decisions (
    dataset_id      INTEGER NOT NULL,
    line            INTEGER NOT NULL,
    decision        TEXT    NOT NULL CHECK (decision IN ('keep', 'drop', 'edit')),
    edited_text     TEXT,              -- the corrected sentence, for 'edit' only
    decided_by      TEXT    NOT NULL,  -- Discord user id (or "cli")
    decided_by_name TEXT    NOT NULL,
    decided_at      TEXT    NOT NULL,
    PRIMARY KEY (dataset_id, line),
    FOREIGN KEY (dataset_id, line) REFERENCES dataset_examples (dataset_id, line)
        ON DELETE CASCADE,
    CHECK ((decision = 'edit') = (edited_text IS NOT NULL))
);

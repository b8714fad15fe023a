-- Datasets as a store: what made each one (lineage), every example with where it came from,
-- and a full-text index over them (Japanese included: trigrams need no word segmentation).

-- The operation that made a dataset; method stays what /datasets shows (duplicate, bert, ...).
-- Every dataset before this migration came from /augment.
ALTER TABLE datasets ADD COLUMN operation TEXT NOT NULL DEFAULT 'augment'
    CHECK (operation IN ('augment', 'review', 'merge', 'upload'));
-- JSON: what the operation did (a review's counts, a merge's duplicates removed).
ALTER TABLE datasets ADD COLUMN details TEXT NOT NULL DEFAULT '{}';

-- A dataset's parents, in the order they were given (a merge has several). A parent cannot be
-- deleted while a child names it: lineage never points at nothing.
CREATE TABLE dataset_parents (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    parent_id  INTEGER NOT NULL REFERENCES datasets (id),
    position   INTEGER NOT NULL CHECK (position >= 1),
    PRIMARY KEY (dataset_id, parent_id)
);
CREATE INDEX dataset_parents_parent ON dataset_parents (parent_id);

-- One row per line of a dataset's JSONL file (the file sent to training stays clean).
-- An example made by augmentation names the line of its original (origin_line) and, for a
-- replaced noun, the message it changed (turn), the noun's span in the original text and the
-- word before and after. Originals, and examples of datasets stored before kobo kept this,
-- have none of it.
CREATE TABLE dataset_examples (
    id          INTEGER PRIMARY KEY,
    dataset_id  INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    line        INTEGER NOT NULL CHECK (line >= 1),
    example     TEXT    NOT NULL,      -- the JSONL line, as written to the file
    text        TEXT    NOT NULL,      -- what search reads: the user and assistant turns
    origin_line INTEGER CHECK (origin_line >= 1),
    turn        INTEGER CHECK (turn >= 0),
    span_start  INTEGER CHECK (span_start >= 0),
    span_end    INTEGER CHECK (span_end >= span_start),
    before      TEXT,
    after       TEXT,
    UNIQUE (dataset_id, line)
);
CREATE INDEX dataset_examples_origin ON dataset_examples (dataset_id, origin_line)
    WHERE origin_line IS NOT NULL;

-- Trigram full-text index over dataset_examples.text, kept in step by the triggers below.
CREATE VIRTUAL TABLE dataset_examples_search USING fts5 (
    text, content = 'dataset_examples', content_rowid = 'id', tokenize = 'trigram'
);

CREATE TRIGGER dataset_examples_indexed AFTER INSERT ON dataset_examples BEGIN
    INSERT INTO dataset_examples_search (rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER dataset_examples_unindexed AFTER DELETE ON dataset_examples BEGIN
    INSERT INTO dataset_examples_search (dataset_examples_search, rowid, text)
        VALUES ('delete', old.id, old.text);
END;

CREATE TRIGGER dataset_examples_reindexed AFTER UPDATE OF text ON dataset_examples BEGIN
    INSERT INTO dataset_examples_search (dataset_examples_search, rowid, text)
        VALUES ('delete', old.id, old.text);
    INSERT INTO dataset_examples_search (rowid, text) VALUES (new.id, new.text);
END;

-- Datasets stored before this migration: their examples are only in their JSONL files, which
-- SQL cannot read. kobo imports them at start-up (storage.dataset_examples) and removes them
-- from this list as it goes, so the import is done once and resumes after a crash.
CREATE TABLE datasets_to_import (
    dataset_id INTEGER PRIMARY KEY REFERENCES datasets (id) ON DELETE CASCADE
);
INSERT INTO datasets_to_import (dataset_id) SELECT id FROM datasets;

-- Fine-tuning datasets produced by /augment (or imported), kept so /train can use them by id.

CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    path          TEXT    NOT NULL UNIQUE,   -- relative to the data directory
    sha256        TEXT    NOT NULL,
    example_count INTEGER NOT NULL CHECK (example_count >= 0),
    source_file   TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_by_name TEXT  NOT NULL,
    created_at    TEXT    NOT NULL
);
CREATE INDEX datasets_created ON datasets (created_at);

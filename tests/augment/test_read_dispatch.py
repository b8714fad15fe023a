from __future__ import annotations

import pytest

from augment import InputError, ReadLimits, read_sheet

LIMITS = ReadLimits(max_bytes=10_000, max_rows=10)


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        (
            "notes.docx",
            "notes.docx: unsupported file type '.docx'; use .xlsx, .csv, .tsv or .jsonl.",
        ),
        (
            "old.xls",
            "old.xls: unsupported file type '.xls' (save it as .xlsx); use .xlsx, .csv, "
            ".tsv or .jsonl.",
        ),
        (
            "README",
            "README: the file name has no extension; use .xlsx, .csv, .tsv or .jsonl.",
        ),
    ],
)
def test_unknown_file_types_are_refused(filename: str, message: str) -> None:
    with pytest.raises(InputError) as error:
        read_sheet(b"system,user,assistant\n", filename, default_system=None, limits=LIMITS)
    assert str(error.value) == message


def test_only_the_file_name_is_shown_not_a_path() -> None:
    with pytest.raises(InputError, match=r"^data\.csv: the file is empty\.$"):
        read_sheet(b"  \n", "/tmp/uploads/data.csv", default_system=None, limits=LIMITS)

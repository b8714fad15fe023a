"""Read an uploaded sheet (.xlsx, .csv, .tsv or .jsonl) into chat fine-tuning examples."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from augment.errors import InputError
from augment.example import Example
from augment.read_delimited import column_number, decode_text, delimited_rows
from augment.read_jsonl import jsonl_lines, parse_example
from augment.read_xlsx import (
    EXCEL_ERRORS,
    MAX_BLANK_RUN,
    READ_COLUMNS,
    WorkbookBounds,
    choose_sheet,
    column_letter,
    open_workbook,
    xlsx_rows,
)
from augment.table import (
    HEADER_SEARCH_ROWS,
    Header,
    Row,
    cell_text,
    find_header,
    limited,
    values,
)

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
SUFFIXES = (*EXCEL_SUFFIXES, ".csv", ".tsv", ".jsonl")
# An xlsx is zipped XML; formatting compresses very well, so allow this much unpacked per byte.
UNPACKED_PER_BYTE = 40
# Different texts (shared strings) a workbook may hold per row the limit allows: the three
# columns, notes beside them, and the other sheets' instructions. openpyxl loads them all first.
TEXTS_PER_ROW = 10
# How many skipped rows a "no usable rows" message spells out before "and N more".
SHOWN_SKIPS = 3


@dataclass(frozen=True)
class ReadLimits:
    """Refuse files over these sizes before parsing them whole (settings, not constants)."""

    max_bytes: int = 5 * 1024 * 1024
    # Filled rows (or JSONL lines), not counting the header.
    max_rows: int = 5_000


@dataclass(frozen=True)
class SkippedRow:
    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass(frozen=True)
class SheetReadResult:
    examples: list[Example]
    skipped: list[SkippedRow] = field(default_factory=list)
    # Filled rows looked at (used + skipped); blank rows are not counted.
    rows_read: int = 0


def read_sheet(
    data: bytes, filename: str, *, default_system: str | None, limits: ReadLimits
) -> SheetReadResult:
    """Parse ``data`` (the uploaded file's bytes) according to ``filename``'s extension.

    Raises InputError whose message names the file and, where it applies, row and column.
    """
    name = PurePath(filename).name or "the file"
    suffix = PurePath(name).suffix.casefold()
    if suffix not in SUFFIXES:
        hint = " (save it as .xlsx)" if suffix == ".xls" else ""
        raise InputError(
            f"{name}: unsupported file type {suffix or '(no extension)'!r}{hint}; "
            "use .xlsx, .csv, .tsv or .jsonl."
        )
    if len(data) > limits.max_bytes:
        raise InputError(
            f"{name}: the file is {len(data):,} bytes, over the limit of {limits.max_bytes:,}; "
            "split it into smaller files."
        )
    if not data.strip():
        raise InputError(f"{name}: the file is empty.")
    default_system = default_system.strip() if default_system and default_system.strip() else None
    if suffix == ".jsonl":
        return _read_jsonl(data, name, default_system, limits)
    if suffix in EXCEL_SUFFIXES:
        bounds = WorkbookBounds(
            unpacked_bytes=limits.max_bytes * UNPACKED_PER_BYTE,
            texts=(limits.max_rows + HEADER_SEARCH_ROWS) * TEXTS_PER_ROW,
            # A cell per column read in each row the reader may walk: the header search, the row
            # limit, and the blank (formatted) stretch it reads through before it stops.
            cells=(HEADER_SEARCH_ROWS + limits.max_rows + MAX_BLANK_RUN) * READ_COLUMNS,
        )
        with open_workbook(data, name, bounds) as workbook:
            sheet = choose_sheet(workbook, name)
            return _read_rows(
                xlsx_rows(sheet, name),
                where=f"{name}, sheet {sheet.title!r}",
                letter=column_letter,
                default_system=default_system,
                limits=limits,
                excel=True,
            )
    delimiter = "\t" if suffix == ".tsv" else ","
    return _read_rows(
        delimited_rows(decode_text(data, name), name, delimiter),
        where=name,
        letter=column_number,
        default_system=default_system,
        limits=limits,
        excel=False,
    )


def _read_rows(
    rows: Iterator[Row],
    *,
    where: str,
    letter: Callable[[int], str],
    default_system: str | None,
    limits: ReadLimits,
    excel: bool,
) -> SheetReadResult:
    header, rows = find_header(rows, where=where, letter=letter)
    if "system" not in header.columns and default_system is None:
        raise InputError(
            f"{where}: there is no system column and no default system prompt; add a "
            "system column or give a system prompt with the command."
        )
    return _read_table(
        limited(rows, where=where, max_rows=limits.max_rows),
        header,
        where=where,
        letter=letter,
        default_system=default_system,
        excel=excel,
    )


def _read_table(
    rows: Iterator[Row],
    header: Header,
    *,
    where: str,
    letter: Callable[[int], str],
    default_system: str | None,
    excel: bool,
) -> SheetReadResult:
    examples: list[Example] = []
    skipped: list[SkippedRow] = []
    rows_read = 0
    for row_number, cells in rows:
        raw = values(cells, header)
        text = {name: cell_text(value) for name, value in raw.items()}
        if not any(text.values()):
            continue  # blank row (other columns may hold notes)
        rows_read += 1
        reason = _problem(raw, text, header, letter, excel)
        if reason is None and not text.get("system") and default_system is None:
            reason = "system is empty and no default system prompt was given"
        if reason is not None:
            skipped.append(SkippedRow(row_number, reason))
            continue
        examples.append(
            Example.from_turns(
                text.get("system") or default_system or "",
                text["user"],
                text["assistant"],
                source=f"row {row_number}",
            )
        )
    if not examples:
        raise InputError(f"{where}: no usable rows{_skip_summary(skipped)}.")
    return SheetReadResult(examples=examples, skipped=skipped, rows_read=rows_read)


def _problem(
    raw: dict[str, object],
    text: dict[str, str],
    header: Header,
    letter: Callable[[int], str],
    excel: bool,
) -> str | None:
    """Why a filled row cannot be used, or None."""
    if excel:
        for name, value in raw.items():
            if isinstance(value, str) and value.strip() in EXCEL_ERRORS:
                return (
                    f"{name} ({letter(header.columns[name])}) shows the Excel error {value.strip()}"
                )
    empty = [name for name in ("user", "assistant") if not text[name]]
    if empty:
        return " and ".join(empty) + (" is empty" if len(empty) == 1 else " are empty")
    return None


def _skip_summary(skipped: list[SkippedRow]) -> str:
    if not skipped:
        return " (every row below the header is blank)"
    shown = "; ".join(str(skip) for skip in skipped[:SHOWN_SKIPS])
    more = f"; and {len(skipped) - SHOWN_SKIPS} more" if len(skipped) > SHOWN_SKIPS else ""
    return f" ({shown}{more})"


def _read_jsonl(
    data: bytes, name: str, default_system: str | None, limits: ReadLimits
) -> SheetReadResult:
    examples = []
    for count, (line_number, text) in enumerate(jsonl_lines(data, name), start=1):
        if count > limits.max_rows:
            raise InputError(
                f"{name}: more than {limits.max_rows} lines (the limit); split the file into "
                "smaller ones."
            )
        examples.append(parse_example(text, line_number, name, default_system))
    if not examples:
        raise InputError(f"{name}: no examples (every line is blank).")
    return SheetReadResult(examples=examples, skipped=[], rows_read=len(examples))

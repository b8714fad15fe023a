"""Read an uploaded sheet (.xlsx, .csv, .tsv or .jsonl) into chat fine-tuning examples."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from augment.errors import InputError
from augment.example import Example
from augment.read_delimited import decode_text, delimited_rows
from augment.read_jsonl import jsonl_lines, parse_example
from augment.read_xlsx import (
    EXCEL_ERRORS,
    MAX_BLANK_RUN,
    READ_COLUMNS,
    ROWS_SLACK,
    WorkbookBounds,
    choose_sheet,
    open_workbook,
    sheet_where,
    xlsx_rows,
)
from augment.table import (
    HEADER_SEARCH_ROWS,
    REQUIRED_COLUMNS,
    Header,
    Row,
    Where,
    cell_text,
    column_place,
    column_title,
    find_header,
    limited,
    values,
)
from i18n import Message, msg, row
from i18n.joining import joined

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
    reason: Message

    @property
    def message(self) -> Message:
        """The row and its reason: ``row 5: assistant is empty`` / ``5行目: …``."""
        return msg("augment.skip.row", row=row(self.row), reason=self.reason)

    def __str__(self) -> str:
        return str(self.message)


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
    name: Where = PurePath(filename).name or msg("augment.file.unnamed")
    suffix = PurePath(filename).suffix.casefold()
    if suffix not in SUFFIXES:
        if suffix == ".xls":
            raise InputError(msg("augment.file.xls", file=name))
        if not suffix:
            raise InputError(msg("augment.file.no_extension", file=name))
        raise InputError(msg("augment.file.unsupported", file=name, suffix=suffix))
    if len(data) > limits.max_bytes:
        raise InputError(
            msg(
                "augment.file.too_big",
                file=name,
                size=f"{len(data):,}",
                limit=f"{limits.max_bytes:,}",
            )
        )
    if not data.strip():
        raise InputError(msg("augment.file.empty", file=name))
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
            # Ten times the rows it may walk: room for sheets formatted far below their data,
            # while millions of empty rows are refused before openpyxl spends seconds on them.
            rows=(HEADER_SEARCH_ROWS + limits.max_rows + MAX_BLANK_RUN) * ROWS_SLACK,
        )
        with open_workbook(data, name, bounds) as workbook:
            sheet = choose_sheet(workbook, name)
            return _read_rows(
                xlsx_rows(sheet, name),
                where=sheet_where(name, sheet.title),
                default_system=default_system,
                limits=limits,
                excel=True,
            )
    delimiter = "\t" if suffix == ".tsv" else ","
    return _read_rows(
        delimited_rows(decode_text(data, name), name, delimiter),
        where=name,
        default_system=default_system,
        limits=limits,
        excel=False,
    )


def _read_rows(
    rows: Iterator[Row],
    *,
    where: Where,
    default_system: str | None,
    limits: ReadLimits,
    excel: bool,
) -> SheetReadResult:
    header, rows = find_header(rows, where=where)
    if "system" not in header.columns and default_system is None:
        raise InputError(msg("augment.rows.no_system", where=where))
    return _read_table(
        limited(rows, where=where, max_rows=limits.max_rows),
        header,
        where=where,
        default_system=default_system,
        excel=excel,
    )


def _read_table(
    rows: Iterator[Row],
    header: Header,
    *,
    where: Where,
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
        reason = _problem(raw, text, header, excel)
        if reason is None and not text.get("system") and default_system is None:
            reason = msg("augment.skip.no_system")
        if reason is not None:
            skipped.append(SkippedRow(row_number, reason))
            continue
        examples.append(
            Example.from_turns(
                text.get("system") or default_system or "",
                text["user"],
                text["assistant"],
                source=row(row_number),
            )
        )
    if not examples:
        if not skipped:
            raise InputError(msg("augment.rows.all_blank", where=where))
        raise InputError(
            msg("augment.rows.none_usable", where=where, skipped=skipped_list(skipped))
        )
    return SheetReadResult(examples=examples, skipped=skipped, rows_read=rows_read)


def _problem(
    raw: dict[str, object], text: dict[str, str], header: Header, excel: bool
) -> Message | None:
    """Why a filled row cannot be used, or None."""
    if excel:
        for name, value in raw.items():
            if isinstance(value, str) and value.strip() in EXCEL_ERRORS:
                return msg(
                    "augment.skip.excel_error",
                    column=column_title(name),
                    place=column_place(header.columns[name]),
                    error=value.strip(),
                )
    empty = [name for name in REQUIRED_COLUMNS if not text[name]]
    if len(empty) == len(REQUIRED_COLUMNS):
        return msg("augment.skip.user_and_assistant_empty")
    if empty:
        return msg(f"augment.skip.{empty[0]}_empty")
    return None


def skipped_list(skipped: list[SkippedRow], shown: int = SHOWN_SKIPS) -> Message:
    """The first ``shown`` skipped rows with their reasons, "and N more" for the rest."""
    return joined([skip.message for skip in skipped[:shown]], more=max(0, len(skipped) - shown))


def _read_jsonl(
    data: bytes, name: Where, default_system: str | None, limits: ReadLimits
) -> SheetReadResult:
    examples = []
    for count, (line_number, text) in enumerate(jsonl_lines(data, name), start=1):
        if count > limits.max_rows:
            raise InputError(
                msg("augment.jsonl.too_many_lines", file=name, limit=f"{limits.max_rows:,}")
            )
        examples.append(parse_example(text, line_number, name, default_system))
    if not examples:
        raise InputError(msg("augment.jsonl.no_examples", file=name))
    return SheetReadResult(examples=examples, skipped=[], rows_read=len(examples))

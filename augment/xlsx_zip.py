"""Measure what is inside an xlsx (a zip of XML) without parsing it.

openpyxl reads every shared string into memory before the first row, at about a second per
100,000 strings, and parses every cell of every sheet, at 40,000 to 150,000 a second: a few
hundred KB of zip can hold millions of either (minutes and gigabytes). These scans stream the XML
through a regular expression in small chunks instead: about a second per hundred MB, in constant
memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

CHUNK_BYTES = 1 << 20
# <si> is one shared string, <c> one cell and <row> one row of a worksheet ("x:" and other
# namespace prefixes are allowed in the XML).
COUNTED_ELEMENT = re.compile(rb"<(?:\w+:)?(si|c|row)[\s/>]")
# A <row> start tag, or a cell value that is not blank: <v> (number, shared-string index, formula
# result) or <t> (text of an inline string). A formula filled down a template saves "" as its
# result: that is no value. The patterns hold no second "<", which chunks() relies on.
ROW_OR_VALUE = re.compile(rb"<(?:\w+:)?row\b([^<>]*)>|<(?:\w+:)?[vt](?:\s[^<>]*)?>\s*[^<\s]")
ROW_NUMBER = re.compile(rb'\sr\s*=\s*["\'](\d+)["\']')


def chunks(source: IO[bytes]) -> Iterator[bytes]:
    """The stream in pieces that each end just before a "<", so no tag is cut in two."""
    carry = b""
    while piece := source.read(CHUNK_BYTES):
        buffer = carry + piece
        cut = buffer.rfind(b"<")
        if cut == -1:
            carry = b""  # text only: nothing to find in it
            continue
        if cut == 0 and len(buffer) <= 2 * CHUNK_BYTES:
            carry = buffer  # one tag (or a tag and text) so far: wait for the next "<"
            continue
        if cut == 0:
            cut = len(buffer)  # a tag over a MB long is not one of ours
        yield buffer[:cut]
        carry = buffer[cut:]
    if carry:
        yield carry


@dataclass(frozen=True)
class PartCount:
    texts: int
    cells: int
    rows: int


def count_texts_cells_and_rows(
    source: IO[bytes], *, stop_texts_above: int, stop_cells_above: int, stop_rows_above: int
) -> PartCount:
    """How many ``<si>``, ``<c>`` and ``<row>`` elements ``source`` holds, in one pass that stops
    soon after any count goes above its ``stop_*_above``."""
    texts = cells = rows = 0
    for chunk in chunks(source):
        names = COUNTED_ELEMENT.findall(chunk)
        chunk_texts, chunk_rows = names.count(b"si"), names.count(b"row")
        texts += chunk_texts
        rows += chunk_rows
        cells += len(names) - chunk_texts - chunk_rows
        if texts > stop_texts_above or cells > stop_cells_above or rows > stop_rows_above:
            break
    return PartCount(texts=texts, cells=cells, rows=rows)


def first_value_row_after(source: IO[bytes], row: int) -> int | None:
    """The number of the first row below ``row`` with a cell value in a worksheet's XML.

    A row without an ``r`` attribute is the one after the previous row, as in the format.
    """
    current = 0
    for chunk in chunks(source):
        for match in ROW_OR_VALUE.finditer(chunk):
            attributes = match.group(1)
            if attributes is None:
                if current > row:
                    return current
            else:
                number = ROW_NUMBER.search(attributes)
                current = int(number.group(1)) if number else current + 1
    return None

"""Several messages in one sentence: "B and D", "row 4: ...; row 7: ...; and 3 more".

Each language joins lists its own way (Japanese "B列とD列", "4行目: …／7行目: …"), so a list
is a :class:`~i18n.Message` too, built from the catalogue's ``join.*`` messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from i18n.message import Message, msg

# "names": short words joined with commas and a final "and" ("user and assistant");
# "clauses": phrases that may hold commas themselves, joined with semicolons.
ListStyle = Literal["names", "clauses"]


def joined(items: Sequence[Message], *, style: ListStyle = "clauses", more: int = 0) -> Message:
    """``items`` as one list in the reader's language; ``more`` > 0 adds "and N more"."""
    if not items:
        raise ValueError("a list needs at least one item")
    if style == "names" and len(items) > 1:
        result = msg("join.and", first=_fold(items[:-1], "join.names"), last=items[-1])
    else:
        result = _fold(items, "join.names" if style == "names" else "join.clauses")
    return msg("join.more", items=result, count=more) if more > 0 else result


def _fold(items: Sequence[Message], key: str) -> Message:
    result = items[-1]
    for item in reversed(items[:-1]):
        result = msg(key, first=item, rest=result)
    return result

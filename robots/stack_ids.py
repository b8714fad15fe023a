"""Stack-chan ids: the number built into each robot's firmware ("1", "2", ...)."""

from __future__ import annotations

from i18n import LocalizedError, msg

# The firmware's ids are small ("1", "2", ...); the cap keeps ids inside SQLite's INTEGER and
# an int32, and stops absurd digit strings before int() parses them.
MAX_STACK_ID = 2_147_483_647
# Leading zeros name the same robot ("007"), but no firmware pads an id to more than this.
MAX_STACK_ID_DIGITS = 20


class InvalidStackId(LocalizedError, ValueError):
    """The text is not a usable stack id; the message says why.

    The device API answers robots with its English text (``str()``), whoever runs the server.
    """


def parse_stack_id(text: str | None, name: str) -> int:
    """Return the positive decimal id in ``text``; ``name`` names the field in error messages."""
    if text is None:
        raise InvalidStackId(msg("robots.stack_id.missing", name=name))
    if not text:
        raise InvalidStackId(msg("robots.stack_id.empty", name=name))
    if not (text.isascii() and text.isdigit()):
        shown = text if len(text) <= 20 else text[:20] + "..."
        raise InvalidStackId(msg("robots.stack_id.not_a_number", name=name, shown=repr(shown)))
    # int() sees at most 10 digits: a long text (zero-padded too) never reaches Python's
    # 4,300-digit conversion limit, nor costs time.
    significant = text.lstrip("0")
    if len(significant) > len(str(MAX_STACK_ID)):
        raise InvalidStackId(msg("robots.stack_id.too_large", name=name, limit=MAX_STACK_ID))
    stack_id = int(significant) if significant else 0
    if stack_id > MAX_STACK_ID:
        raise InvalidStackId(msg("robots.stack_id.too_large", name=name, limit=MAX_STACK_ID))
    if len(text) > MAX_STACK_ID_DIGITS:
        raise InvalidStackId(msg("robots.stack_id.too_long", name=name, digits=MAX_STACK_ID_DIGITS))
    if stack_id == 0:
        raise InvalidStackId(msg("robots.stack_id.zero", name=name, shown=repr(text)))
    return stack_id


def validate_stack_id(stack_id: int) -> int:
    """Return ``stack_id`` if it is in range, or raise :class:`InvalidStackId`."""
    if not 1 <= stack_id <= MAX_STACK_ID:
        raise InvalidStackId(
            msg("robots.stack_id.out_of_range", stack_id=stack_id, limit=MAX_STACK_ID)
        )
    return stack_id

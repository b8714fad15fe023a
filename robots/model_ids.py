"""What counts as a model name a robot can be pointed at.

The firmware copies the name verbatim out of a JSON body up to the next ``"`` (see README,
"Device API"), so besides following OpenAI's id alphabet a name must never contain ``"`` or ``\\``.
"""

from __future__ import annotations

import re

MAX_MODEL_ID_LENGTH = 128
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


class InvalidModelId(ValueError):
    """The text is not a usable model name; the message says why."""


def validate_model_id(value: str) -> str:
    """Return ``value`` stripped of surrounding spaces, or raise :class:`InvalidModelId`."""
    name = value.strip()
    if not name:
        raise InvalidModelId("the model name is empty")
    if len(name) > MAX_MODEL_ID_LENGTH:
        raise InvalidModelId(
            f"the model name is {len(name)} characters long; at most {MAX_MODEL_ID_LENGTH} allowed"
        )
    if not _MODEL_ID.fullmatch(name):
        bad = sorted({ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch in "._:-"))})
        if bad:
            shown = " ".join(repr(ch) for ch in bad[:5])
            raise InvalidModelId(
                f"the model name contains {shown}; use only letters, digits, '.', '_', '-' and ':'"
            )
        raise InvalidModelId("the model name must start with a letter or a digit")
    return name

"""What counts as a model name a robot can be pointed at.

The firmware copies the name verbatim out of a JSON body up to the next ``"`` (see README,
"Device API"), so besides following OpenAI's id alphabet a name must never contain ``"`` or ``\\``.
"""

from __future__ import annotations

import re

from i18n import LocalizedError, msg

MAX_MODEL_ID_LENGTH = 128
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


class InvalidModelId(LocalizedError, ValueError):
    """The text is not a usable model name; the message says why.

    A ValueError too: pydantic turns it into a settings error (DEFAULT_MODEL) with its English
    text.
    """


def validate_model_id(value: str) -> str:
    """Return ``value`` stripped of surrounding spaces, or raise :class:`InvalidModelId`."""
    name = value.strip()
    if not name:
        raise InvalidModelId(msg("robots.model_id.empty"))
    if len(name) > MAX_MODEL_ID_LENGTH:
        raise InvalidModelId(
            msg("robots.model_id.too_long", length=len(name), limit=MAX_MODEL_ID_LENGTH)
        )
    if not _MODEL_ID.fullmatch(name):
        bad = sorted({ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch in "._:-"))})
        if bad:
            shown = " ".join(repr(ch) for ch in bad[:5])
            raise InvalidModelId(msg("robots.model_id.bad_characters", characters=shown))
        raise InvalidModelId(msg("robots.model_id.bad_start"))
    return name

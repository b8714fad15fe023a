"""Creating and editing messages from REST bodies, with Discord's validation.

Implements the parts of "Create Message" / "Edit Message" / webhook execute a bot uses:
``content``, ``embeds``, ``components``, ``flags``, ``attachments`` (new uploads referenced
by ``files[n]`` index, existing ones kept by id), ``nonce``, ``allowed_mentions`` (each
create and edit records on the message which mentions Discord would resolve; see
mentions.py). Refuses what Discord refuses: empty messages (50006), content over 2000
characters, over 10 embeds, nonce over 25 characters, bad ``allowed_mentions`` (50035),
files over 10 MiB (40005). Not implemented: stickers, polls, message references, TTS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.discord.mentions import SentMentions, allowed_mentions_problem, resolve_pings
from tests.fakes.discord.models import EPHEMERAL_FLAG, LOADING_FLAG, FakeFile, FakeMessage
from tests.fakes.discord.snowflakes import iso_now

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_NONCE = 25
MAX_FILE_BYTES = 10 * 1024 * 1024
SUPPRESS_EMBEDS_FLAG = 1 << 2
SUPPRESS_NOTIFICATIONS_FLAG = 1 << 12
COMPONENTS_V2_FLAG = 1 << 15


class DiscordApiError(Exception):
    """An error response in Discord's JSON shape: ``{"message", "code", "errors"?}``."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def invalid_form(field: str, code: str, message: str) -> DiscordApiError:
    """Discord's 50035 "Invalid Form Body" with a per-field error like discord.py expects."""
    return DiscordApiError(
        400, 50035, "Invalid Form Body", {field: {"_errors": [{"code": code, "message": message}]}}
    )


def validate_body(body: dict[str, Any]) -> None:
    content = body.get("content")
    if content is not None and len(str(content)) > MAX_CONTENT:
        raise invalid_form(
            "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
        )
    embeds = body.get("embeds")
    if embeds is not None and len(embeds) > MAX_EMBEDS:
        raise invalid_form(
            "embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
        )
    nonce = body.get("nonce")
    if nonce is not None and len(str(nonce)) > MAX_NONCE:
        raise invalid_form(
            "nonce", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_NONCE} or fewer in length."
        )
    problem = allowed_mentions_problem(body.get("allowed_mentions"))
    if problem is not None:
        raise invalid_form(*problem)


def _record_mentions(message: FakeMessage, body: dict[str, Any], action: str) -> None:
    """Note which mentions this create/edit makes Discord resolve (only content pings)."""
    if "content" not in body:
        return
    allowed = body.get("allowed_mentions")
    message.sent_mentions.append(
        SentMentions(action, message.content, allowed, resolve_pings(message.content, allowed))
    )


def _attachment_list(
    body: dict[str, Any], uploads: dict[int, FakeFile], existing: list[FakeFile]
) -> list[FakeFile]:
    """Resolve ``attachments`` entries to files: upload indices first, then kept ids."""
    for upload in uploads.values():
        if upload.size > MAX_FILE_BYTES:
            raise DiscordApiError(413, 40005, "Request entity too large")
    entries = body.get("attachments")
    if entries is None:
        return [*existing, *uploads.values()]
    kept_by_id = {a.id: a for a in existing}
    result: list[FakeFile] = []
    for position, entry in enumerate(entries):
        ref = int(entry["id"])
        if ref in uploads:
            upload = uploads[ref]
            if entry.get("filename"):
                upload.filename = entry["filename"]
            if entry.get("description") is not None:
                upload.description = entry["description"]
            result.append(upload)
        elif ref in kept_by_id:
            result.append(kept_by_id[ref])
        else:
            raise invalid_form(
                f"attachments.{position}.id",
                "ATTACHMENT_NOT_FOUND",
                f"Unknown attachment {ref}: no files[{ref}] part and no such existing attachment.",
            )
    return result


def _is_empty(message: FakeMessage) -> bool:
    return not (message.content or message.embeds or message.attachments or message.components)


def new_message(
    body: dict[str, Any],
    uploads: dict[int, FakeFile],
    *,
    host: Callable[[FakeFile, int], None],
    allow_empty: bool = False,
    **fields: Any,
) -> FakeMessage:
    """Build a message from a create body; ``host`` gives each upload its URL."""
    validate_body(body)
    files = _attachment_list(body, uploads, [])
    settable = EPHEMERAL_FLAG | SUPPRESS_EMBEDS_FLAG | SUPPRESS_NOTIFICATIONS_FLAG
    settable |= COMPONENTS_V2_FLAG
    extra_flags = fields.pop("flags", 0)  # set by the fake itself, e.g. LOADING_FLAG
    message = FakeMessage(
        content=str(body.get("content") or ""),
        embeds=[_normalise_embed(e) for e in body.get("embeds") or []],
        components=list(body.get("components") or []),
        attachments=files,
        flags=(int(body.get("flags") or 0) & settable) | extra_flags,
        nonce=None if body.get("nonce") is None else str(body["nonce"]),
        **fields,
    )
    if not allow_empty and _is_empty(message):
        raise DiscordApiError(400, 50006, "Cannot send an empty message")
    for upload in files:
        host(upload, message.channel_id)
    _record_mentions(message, body, "create")
    return message


def apply_edit(
    message: FakeMessage,
    body: dict[str, Any],
    uploads: dict[int, FakeFile],
    *,
    host: Callable[[FakeFile, int], None],
) -> None:
    """Edit ``message`` in place (content/embeds/components/attachments present in ``body``)."""
    validate_body(body)
    files = _attachment_list(body, uploads, message.attachments)
    candidate = FakeMessage(
        channel_id=message.channel_id,
        guild_id=message.guild_id,
        author=message.author,
        content=str(body["content"] or "") if "content" in body else message.content,
        embeds=[_normalise_embed(e) for e in body["embeds"] or []]
        if "embeds" in body
        else message.embeds,
        components=list(body["components"] or []) if "components" in body else message.components,
        attachments=files,
    )
    if _is_empty(candidate):
        raise DiscordApiError(400, 50006, "Cannot send an empty message")
    for upload in uploads.values():
        host(upload, message.channel_id)
    message.content = candidate.content
    message.embeds = candidate.embeds
    message.components = candidate.components
    message.attachments = candidate.attachments
    if "flags" in body and body["flags"] is not None:
        # Only these flags may change on edit; ephemerality is fixed at creation.
        changeable = SUPPRESS_EMBEDS_FLAG | COMPONENTS_V2_FLAG
        message.flags = (message.flags & ~changeable) | (int(body["flags"]) & changeable)
    message.flags &= ~LOADING_FLAG
    message.edited_timestamp = iso_now()
    message.edit_count += 1
    _record_mentions(message, body, "edit")


def _normalise_embed(embed: dict[str, Any]) -> dict[str, Any]:
    normalised = dict(embed)
    normalised.setdefault("type", "rich")
    return normalised

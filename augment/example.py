"""One chat fine-tuning example, as OpenAI's JSONL format describes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from i18n import Message


@dataclass(frozen=True)
class Example:
    """A conversation: ``messages`` are dicts with at least ``role`` and ``content``.

    Messages are kept as dicts so that fields we do not interpret (an assistant turn's ``weight``,
    a ``name``) pass through to the output unchanged; ``extra`` holds such top-level fields of a
    JSONL line. ``source`` says where it came from (row 5 of a sheet, line 3 of a JSONL file) for
    messages to the user.
    """

    messages: tuple[Mapping[str, Any], ...]
    extra: Mapping[str, Any] = field(default_factory=dict)
    source: Message | None = None

    @classmethod
    def from_turns(
        cls, system: str, user: str, assistant: str, *, source: Message | None = None
    ) -> Example:
        return cls(
            messages=(
                {"role": "system", "content": system},
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant},
            ),
            source=source,
        )

    def user_turns(self) -> list[int]:
        """Indexes of the user messages whose content is plain text (the ones we can rewrite)."""
        return [
            index
            for index, message in enumerate(self.messages)
            if message.get("role") == "user" and isinstance(message.get("content"), str)
        ]

    def with_content(self, index: int, content: str) -> Example:
        """A copy with message ``index`` rewritten; every other field stays as it was."""
        messages = list(self.messages)
        messages[index] = {**messages[index], "content": content}
        return Example(messages=tuple(messages), extra=self.extra, source=self.source)

    def content_of(self, role: str) -> str:
        """The text of the first ``role`` message ("" when there is none): for review copies."""
        for message in self.messages:
            if message.get("role") == role:
                content = message.get("content")
                return content if isinstance(content, str) else ""
        return ""

    def to_json_object(self) -> dict[str, Any]:
        return {"messages": [dict(message) for message in self.messages], **self.extra}

"""One logging configuration for the whole process, with secrets scrubbed from every record."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import SecretStr

FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Replace any configured secret that ends up in a log line (e.g. inside an exception)."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        text = record.exc_text or ""
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
            text = text.replace(secret, "[redacted]")
        record.msg, record.args = message, None
        if record.exc_text:
            record.exc_text = text
        return True


# discord.py warns at every start that it cannot do voice without PyNaCl and davey; kobo has no
# voice, so staff would only be misled into installing them.
DISCORD_VOICE_WARNINGS = frozenset(
    {
        "PyNaCl is not installed, voice will NOT be supported",
        "davey is not installed, voice will NOT be supported",
    }
)


class DropVoiceWarnings(logging.Filter):
    """Drops exactly discord.py's two "voice will NOT be supported" warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "discord.client" and record.msg in DISCORD_VOICE_WARNINGS)


def configure_logging(level: str, secrets: Iterable[SecretStr | None] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(s.get_secret_value() for s in secrets if s is not None))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # discord.py's gateway chatter at INFO is noise for workshop staff.
    logging.getLogger("discord.gateway").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("apscheduler.executors").setLevel(max(logging.WARNING, root.level))
    voice = logging.getLogger("discord.client")
    if not any(isinstance(f, DropVoiceWarnings) for f in voice.filters):
        voice.addFilter(DropVoiceWarnings())

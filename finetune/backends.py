"""The fine-tuning APIs kobo drives: OpenAI's, and kobo's own trainer that speaks the same API.

Both are driven through the real ``openai`` SDK, one ``AsyncOpenAI`` each; a :class:`Backend`
holds that client and remembers when the service rejected its key, so that a rejected OpenAI key
stops only OpenAI's jobs and a rejected trainer token only the local ones.
"""

from __future__ import annotations

import logging
from typing import Literal, get_args

import openai
from openai import AsyncOpenAI

from i18n import Message, msg

log = logging.getLogger(__name__)

BackendName = Literal["openai", "local"]
BACKENDS: tuple[BackendName, ...] = get_args(BackendName)

# Sent as the API key to a trainer that needs none (the embedded one, listening on loopback
# only): the SDK insists on a key.
NO_TOKEN_PLACEHOLDER = "kobo-local-trainer"

# The catalogue part naming each backend's failures: training.openai.* / training.trainer.*
MESSAGE_PART: dict[str, str] = {"openai": "openai", "local": "trainer"}
# Why a backend cannot be used: not configured / it rejected the key (detail: HTTP status, code).
NOT_CONFIGURED = {
    "openai": "training.unavailable.no_key",
    "local": "training.unavailable.local_off",
}
KEY_REJECTED = {
    "openai": "training.unavailable.key_rejected",
    "local": "training.unavailable.token_rejected",
}


def make_openai_client(
    api_key: str | None,
    *,
    base_url: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 2,
) -> AsyncOpenAI | None:
    """The SDK client from settings, or None when no key is set (the service then says so)."""
    if api_key is None or not api_key.strip():
        return None
    return AsyncOpenAI(
        api_key=api_key.strip(), base_url=base_url, timeout=timeout, max_retries=max_retries
    )


def make_trainer_client(
    trainer_url: str, token: str | None, *, timeout: float = 60.0, max_retries: int = 2
) -> AsyncOpenAI:
    """The SDK client for kobo's trainer at ``trainer_url`` (its API lives under ``/v1``)."""
    return AsyncOpenAI(
        api_key=token.strip() if token and token.strip() else NO_TOKEN_PLACEHOLDER,
        base_url=trainer_url.rstrip("/") + "/v1",
        timeout=timeout,
        max_retries=max_retries,
    )


class Backend:
    """One fine-tuning API: its client (None when not configured) and whether it rejected the
    key the client has now."""

    def __init__(self, name: BackendName, client: AsyncOpenAI | None):
        self.name = name
        self.client = client
        self._rejected_key: str | None = None
        self.rejected_detail = ""

    @property
    def unavailable_reason(self) -> Message | None:
        """Why nothing can be sent to this backend now, or None when it can."""
        if self.client is None:
            return msg(NOT_CONFIGURED[self.name])
        if self.key_rejected:
            return msg(KEY_REJECTED[self.name], detail=self.rejected_detail)
        return None

    @property
    def key_rejected(self) -> bool:
        """The service rejected the key the client has now (a key never set is not "rejected")."""
        return self.client is not None and self._rejected_key == self.client.api_key

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    def usable_client(self) -> AsyncOpenAI | None:
        return self.client if self.available else None

    def note_rejected_key(self, exc: openai.APIStatusError) -> None:
        """Stop calling this backend with this key; logged once, without the key or the
        service's message (OpenAI's quotes part of the key)."""
        if self.client is None or self._rejected_key == self.client.api_key:
            return
        code = getattr(exc, "code", None)
        self.rejected_detail = f"HTTP {exc.status_code}{f', {code}' if code else ''}"
        self._rejected_key = self.client.api_key
        if self.name == "openai":
            log.error(
                "OpenAI rejected the API key (%s); fine-tuning makes no more OpenAI calls until"
                " the key changes or the bot restarts",
                self.rejected_detail,
            )
        else:
            log.error(
                "the trainer at %s rejected TRAINER_TOKEN (%s); local fine-tuning makes no more"
                " calls to it until the bot restarts",
                self.client.base_url,
                self.rejected_detail,
            )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

"""What can go wrong answering a chat, as OpenAI-shaped HTTP errors and catalogue messages.

Each error is a :class:`LocalizedError`: ``/try`` shows it in the reader's language, and the
HTTP face sends its English text in OpenAI's ``{"error": {...}}`` shape with :attr:`status`
(robots log the body and say わかりません; SDK clients raise the matching exception).
"""

from __future__ import annotations

from typing import Any

from i18n import LocalizedError, Message, msg


class GatewayError(LocalizedError):
    status = 500
    type = "server_error"
    code: str | None = None
    param: str | None = None

    def __init__(self, message: Message, **fields: Any):
        super().__init__(message)
        for name, value in fields.items():
            setattr(self, name, value)

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": str(self),
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def headers(self) -> dict[str, str]:
        return {}


class BadChatRequest(GatewayError):
    """The request itself is wrong; ``param`` names the field."""

    status = 400
    type = "invalid_request_error"

    def __init__(self, message: Message, param: str | None = None):
        super().__init__(message, param=param)


# The openai SDK does not retry at all after a longer Retry-After.
MAX_RETRY_AFTER_SECONDS = 60


class Overloaded(GatewayError):
    """429: try again in ``retry_after`` seconds (kept within 1 and a minute, whoever said it)."""

    status = 429
    type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"

    def __init__(self, retry_after: int):
        retry_after = max(1, min(MAX_RETRY_AFTER_SECONDS, retry_after))
        super().__init__(msg("gateway.overloaded", seconds=retry_after))
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class UpstreamTimeout(GatewayError):
    status = 504
    type = "timeout"
    code = "upstream_timeout"

    def __init__(self, upstream: Message, seconds: float):
        super().__init__(msg("gateway.upstream_timeout", upstream=upstream, seconds=f"{seconds:g}"))


class UpstreamUnavailable(GatewayError):
    """The upstream cannot be reached, or kobo cannot use it (no key, engine would not start)."""

    status = 503
    code = "upstream_unavailable"


class UpstreamRefused(GatewayError):
    """The upstream answered with an error of its own (an unknown model, a refused key...), or
    with an answer kobo cannot pass on (not a chat completion, too big)."""

    status = 502
    code = "upstream_error"

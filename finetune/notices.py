"""What the poller tells staff about a job, and the protocol of whoever posts it (Discord)."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Protocol

MAX_NONCE_LENGTH = 25  # Discord's limit for a message nonce


class NoticeKind(enum.StrEnum):
    RUNNING = "running"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    KEY_REJECTED = "key_rejected"  # kobo stopped following the job: its backend rejected the key


def make_nonce(job_id: str, kind: NoticeKind | str, dedupe_key: str) -> str:
    """A short nonce that is the same for the same notice, however often it is re-delivered."""
    digest = hashlib.sha256(f"{job_id}\x00{kind}\x00{dedupe_key}".encode()).hexdigest()
    return "ft" + digest[:20]


@dataclass(frozen=True)
class Notice:
    """One message for the channel a job was started from. Fields not used by a kind are None."""

    id: int
    nonce: str
    kind: NoticeKind
    job_id: str
    guild_id: str
    channel_id: str
    requested_by: str  # Discord user id of who started the job
    base_model: str
    suffix: str | None
    created_at: str
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    duration_s: int | None = None
    error_message: str | None = None  # failed: the backend's reason; key_rejected: HTTP status
    cancelled_by: str | None = None  # Discord user id; None when cancelled on the backend itself
    loss_curve_png: bytes | None = None
    backend: str = "openai"  # where the job runs: "openai" or "local" (kobo's trainer)


class DeliveryOutcome(enum.StrEnum):
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"  # channel gone, no permission: drop it, never retry
    RETRY_LATER = "retry_later"  # Discord down, rate limited: try again next tick


@dataclass(frozen=True)
class DeliveryResult:
    outcome: DeliveryOutcome
    reason: str | None = None

    @classmethod
    def delivered(cls) -> DeliveryResult:
        return cls(DeliveryOutcome.DELIVERED)

    @classmethod
    def undeliverable(cls, reason: str) -> DeliveryResult:
        return cls(DeliveryOutcome.UNDELIVERABLE, reason)

    @classmethod
    def retry_later(cls, reason: str) -> DeliveryResult:
        return cls(DeliveryOutcome.RETRY_LATER, reason)


class NoticeSink(Protocol):
    """Posts notices. Must send ``notice.nonce`` so that Discord drops a repeat of a message that
    was posted just before a crash (``enforce_nonce``); the poller re-delivers in that case."""

    async def deliver(self, notice: Notice) -> DeliveryResult: ...

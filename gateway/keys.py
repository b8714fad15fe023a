"""Robot keys: ``kobo-<stack_id>-<secret>``, shown once, stored as the secret's SHA-256.

The robot's number in the key lets the gateway read that one robot's row and compare hashes in
constant time, instead of looking a hash up in an index (whose timing would depend on it).
The secret is 32 random bytes: guessing one is hopeless, so a fast hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from i18n import Language, text
from robots.stack_ids import InvalidStackId, parse_stack_id, validate_stack_id
from storage.robot_keys import RobotCredentials, RobotKeyRepository

PREFIX = "kobo-"
SECRET_BYTES = 32


@dataclass(frozen=True)
class IssuedKey:
    stack_id: int
    key: str  # the whole key: shown once, never stored
    replaced: bool  # the robot had a live key, which stops working now


def chat_endpoint(public_url: str | None, language: Language) -> str:
    """The chat URL a robot's SD card names: under DEVICE_API_PUBLIC_URL, else a placeholder."""
    url = public_url or text("gateway.key.url_placeholder", language)
    return f"{url.rstrip('/')}/v1/chat/completions"


class InvalidKey(Exception):
    """No robot has this key (malformed, unknown, revoked or replaced)."""


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def split_key(key: str) -> tuple[int, str]:
    """``(stack_id, secret)`` of a key's text, or :class:`InvalidKey`."""
    if not key.startswith(PREFIX):
        raise InvalidKey
    number, dash, secret = key[len(PREFIX) :].partition("-")
    if not dash or not secret or len(secret) > 100:
        raise InvalidKey
    try:
        return parse_stack_id(number, "key"), secret
    except InvalidStackId:
        raise InvalidKey from None


class RobotKeys:
    def __init__(self, repository: RobotKeyRepository):
        self._repository = repository

    async def issue(self, stack_id: int, *, by_id: str, by_name: str) -> IssuedKey:
        validate_stack_id(stack_id)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        replaced = await self._repository.issue(
            stack_id, secret_hash(secret), by_id=by_id, by_name=by_name
        )
        return IssuedKey(stack_id, f"{PREFIX}{stack_id}-{secret}", replaced)

    async def revoke(self, stack_id: int, *, by_id: str, by_name: str) -> bool:
        validate_stack_id(stack_id)
        return await self._repository.revoke(stack_id, by_id=by_id, by_name=by_name)

    async def authenticate(self, key: str) -> RobotCredentials:
        """The robot this key belongs to (with its model now), or :class:`InvalidKey`."""
        stack_id, secret = split_key(key)
        found = await self._repository.credentials(stack_id)
        # Hash and compare even when there is no row, so both cases take the same time.
        stored = found.secret_sha256 if found else "0" * 64
        if not hmac.compare_digest(stored, secret_hash(secret)) or found is None:
            raise InvalidKey
        return found

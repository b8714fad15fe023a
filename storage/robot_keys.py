"""Robots' chat keys (hashed) and their usage counters: the gateway's tables."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database, utc_now


@dataclass(frozen=True, slots=True)
class RobotCredentials:
    """What the gateway needs to answer a robot: its key's hash and its model now."""

    stack_id: int
    secret_sha256: str
    model: str | None  # None: no assignment, the default model answers


@dataclass(frozen=True, slots=True)
class RobotUsage:
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    last_request_at: str | None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RobotKeyRepository:
    def __init__(self, db: Database):
        self._db = db

    async def issue(self, stack_id: int, secret_sha256: str, *, by_id: str, by_name: str) -> bool:
        """Store the robot's new key (replacing any other); True when it replaced a live one."""
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT revoked_at FROM robot_keys WHERE stack_id = ?", (stack_id,)
            ) as cur:
                row = await cur.fetchone()
            await conn.execute(
                "INSERT INTO robot_keys (stack_id, secret_sha256, issued_by, issued_by_name,"
                " issued_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (stack_id) DO UPDATE SET secret_sha256 = excluded.secret_sha256,"
                " issued_by = excluded.issued_by, issued_by_name = excluded.issued_by_name,"
                " issued_at = excluded.issued_at, revoked_by = NULL, revoked_by_name = NULL,"
                " revoked_at = NULL",
                (stack_id, secret_sha256, by_id, by_name, utc_now()),
            )
        return row is not None and row["revoked_at"] is None

    async def revoke(self, stack_id: int, *, by_id: str, by_name: str) -> bool:
        """Revoke the robot's key; False when it had no live key."""
        async with self._db.transaction() as conn:
            async with conn.execute(
                "UPDATE robot_keys SET revoked_by = ?, revoked_by_name = ?, revoked_at = ?"
                " WHERE stack_id = ? AND revoked_at IS NULL",
                (by_id, by_name, utc_now(), stack_id),
            ) as cur:
                return cur.rowcount > 0

    async def credentials(self, stack_id: int) -> RobotCredentials | None:
        """The robot's live key hash and its assigned model, read together; None: no live key."""
        row = await self._db.fetchone(
            "SELECT k.stack_id, k.secret_sha256, a.model FROM robot_keys AS k"
            " LEFT JOIN robot_assignments AS a ON a.stack_id = k.stack_id"
            " WHERE k.stack_id = ? AND k.revoked_at IS NULL",
            (stack_id,),
        )
        return RobotCredentials(**dict(row)) if row else None

    async def count_request(
        self, stack_id: int, *, error: bool, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO robot_usage (stack_id, requests, errors, prompt_tokens,"
                " completion_tokens, last_request_at) VALUES (?, 1, ?, ?, ?, ?)"
                " ON CONFLICT (stack_id) DO UPDATE SET requests = requests + 1,"
                " errors = errors + excluded.errors,"
                " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
                " completion_tokens = completion_tokens + excluded.completion_tokens,"
                " last_request_at = excluded.last_request_at",
                (stack_id, int(error), prompt_tokens, completion_tokens, utc_now()),
            )

    async def usage(self, stack_id: int) -> RobotUsage | None:
        row = await self._db.fetchone(
            "SELECT requests, errors, prompt_tokens, completion_tokens, last_request_at"
            " FROM robot_usage WHERE stack_id = ?",
            (stack_id,),
        )
        return RobotUsage(**dict(row)) if row else None

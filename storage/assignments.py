"""Which model each robot uses: the current assignment, its history, and the robot overview."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from storage.database import Database, utc_now
from storage.robot_keys import RobotUsage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Assignment:
    stack_id: int
    model: str
    assigned_by: str
    assigned_by_name: str
    assigned_at: str


@dataclass(frozen=True, slots=True)
class AssignmentChange:
    stack_id: int
    old_model: str | None
    new_model: str | None

    @property
    def changed(self) -> bool:
        return self.old_model != self.new_model


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    stack_id: int
    old_model: str | None
    new_model: str | None
    changed_by: str
    changed_by_name: str
    changed_at: str


@dataclass(frozen=True, slots=True)
class RobotOverview:
    """One robot as /stacks shows it: assigned, seen, talking through the gateway, or all."""

    stack_id: int
    assignment: Assignment | None
    last_seen_at: str | None
    last_seen_address: str | None
    usage: RobotUsage | None = None  # None: it never chatted through kobo


class AssignmentRepository:
    def __init__(self, db: Database):
        self._db = db

    async def assign(
        self, stack_id: int, model: str, *, by_id: str, by_name: str
    ) -> AssignmentChange:
        """Point ``stack_id`` at ``model``; a history row is written only when it changes."""
        now = utc_now()
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT model FROM robot_assignments WHERE stack_id = ?", (stack_id,)
            ) as cur:
                row = await cur.fetchone()
            old = row["model"] if row else None
            if old == model:
                return AssignmentChange(stack_id, old, model)
            await conn.execute(
                "INSERT INTO robot_assignments"
                " (stack_id, model, assigned_by, assigned_by_name, assigned_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (stack_id) DO UPDATE SET model = excluded.model,"
                " assigned_by = excluded.assigned_by, assigned_by_name = excluded.assigned_by_name,"
                " assigned_at = excluded.assigned_at",
                (stack_id, model, by_id, by_name, now),
            )
            await self._record(conn, stack_id, old, model, by_id, by_name, now)
        return AssignmentChange(stack_id, old, model)

    async def unassign(self, stack_id: int, *, by_id: str, by_name: str) -> AssignmentChange:
        """Remove the robot's assignment; ``old_model`` is None when it had none."""
        now = utc_now()
        async with self._db.transaction() as conn:
            async with conn.execute(
                "DELETE FROM robot_assignments WHERE stack_id = ? RETURNING model", (stack_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return AssignmentChange(stack_id, None, None)
            await self._record(conn, stack_id, row["model"], None, by_id, by_name, now)
        return AssignmentChange(stack_id, row["model"], None)

    @staticmethod
    async def _record(conn, stack_id, old, new, by_id, by_name, now) -> None:
        await conn.execute(
            "INSERT INTO assignment_history"
            " (stack_id, old_model, new_model, changed_by, changed_by_name, changed_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (stack_id, old, new, by_id, by_name, now),
        )

    async def get(self, stack_id: int) -> Assignment | None:
        row = await self._db.fetchone(
            "SELECT stack_id, model, assigned_by, assigned_by_name, assigned_at"
            " FROM robot_assignments WHERE stack_id = ?",
            (stack_id,),
        )
        return Assignment(**dict(row)) if row else None

    async def all(self) -> list[Assignment]:
        rows = await self._db.fetchall(
            "SELECT stack_id, model, assigned_by, assigned_by_name, assigned_at"
            " FROM robot_assignments ORDER BY stack_id"
        )
        return [Assignment(**dict(row)) for row in rows]

    async def assigned_models(self) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT model FROM robot_assignments GROUP BY model ORDER BY MAX(assigned_at) DESC"
        )
        return [row["model"] for row in rows]

    async def history(self, stack_id: int | None = None) -> list[HistoryEntry]:
        sql = (
            "SELECT stack_id, old_model, new_model, changed_by, changed_by_name, changed_at"
            " FROM assignment_history"
        )
        params: tuple = ()
        if stack_id is not None:
            sql += " WHERE stack_id = ?"
            params = (stack_id,)
        rows = await self._db.fetchall(sql + " ORDER BY id", params)
        return [HistoryEntry(**dict(row)) for row in rows]

    async def readable(self) -> bool:
        """Whether every row the device API serves can be read (``/healthz``).

        Reads each value rather than only counting, so damaged pages show, not just a missing
        file; a few thousand rows at most (last-seen is capped), well under a millisecond.
        """
        try:
            await self._db.fetchone(
                "SELECT (SELECT total(length(model) + length(assigned_by)"
                " + length(assigned_by_name) + length(assigned_at)) FROM robot_assignments),"
                " (SELECT total(length(seen_at) + ifnull(length(address), 0))"
                " FROM robot_last_seen)"
            )
        except (sqlite3.Error, ValueError) as exc:  # ValueError: the connection is closed
            log.warning("cannot read the robot tables: %s", exc)
            return False
        return True

    async def overview(self, stack_id: int | None = None) -> list[RobotOverview]:
        """Every robot that is assigned, has asked for its model or has chatted through the
        gateway (or just ``stack_id``)."""
        where, params = (
            ("WHERE ids.stack_id = ?", (stack_id,)) if stack_id is not None else ("", ())
        )
        rows = await self._db.fetchall(
            "SELECT ids.stack_id, a.model, a.assigned_by, a.assigned_by_name, a.assigned_at,"
            " s.seen_at, s.address, u.requests, u.errors, u.prompt_tokens,"
            " u.completion_tokens, u.last_request_at"
            " FROM (SELECT stack_id FROM robot_assignments"
            "       UNION SELECT stack_id FROM robot_last_seen"
            "       UNION SELECT stack_id FROM robot_usage) AS ids"
            " LEFT JOIN robot_assignments AS a ON a.stack_id = ids.stack_id"
            " LEFT JOIN robot_last_seen AS s ON s.stack_id = ids.stack_id"
            " LEFT JOIN robot_usage AS u ON u.stack_id = ids.stack_id"
            f" {where} ORDER BY ids.stack_id",
            params,
        )
        return [
            RobotOverview(
                stack_id=row["stack_id"],
                assignment=Assignment(
                    row["stack_id"],
                    row["model"],
                    row["assigned_by"],
                    row["assigned_by_name"],
                    row["assigned_at"],
                )
                if row["model"] is not None
                else None,
                last_seen_at=row["seen_at"],
                last_seen_address=row["address"],
                usage=RobotUsage(
                    row["requests"],
                    row["errors"],
                    row["prompt_tokens"],
                    row["completion_tokens"],
                    row["last_request_at"],
                )
                if row["requests"] is not None
                else None,
            )
            for row in rows
        ]

"""Review decisions: keep, drop or edit, one per augmented example, written as they are made.

``decide`` is race-proof: the decision is an ``INSERT ... ON CONFLICT DO NOTHING`` on the
example's key and is read back in the same transaction, so when two people decide the same
example at once exactly one decision is stored and both learn whose it is. Only examples made by
augmentation (with an origin) can be decided; the check is part of the same statement.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.database import Database, utc_now
from storage.dataset_examples import EXAMPLE_COLUMNS, StoredExample, stored_example


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    dataset_id: int
    line: int
    decision: str  # keep, drop or edit
    edited_text: str | None
    decided_by: str
    decided_by_name: str
    decided_at: str


@dataclass(frozen=True, slots=True)
class ReviewedExample:
    example: StoredExample
    decision: ReviewDecision | None


@dataclass(frozen=True, slots=True)
class ReviewTally:
    """Where a review stands: examples to review, decisions by kind and by person."""

    reviewable: int
    by_decision: dict[str, int]
    # (name, decisions), most first.
    by_person: list[tuple[str, int]]

    @property
    def decided(self) -> int:
        return sum(self.by_decision.values())


def _decision(row: aiosqlite.Row) -> ReviewDecision:
    return ReviewDecision(
        dataset_id=row["dataset_id"],
        line=row["line"],
        decision=row["decision"],
        edited_text=row["edited_text"],
        decided_by=row["decided_by"],
        decided_by_name=row["decided_by_name"],
        decided_at=row["decided_at"],
    )


_REVIEWABLE = "dataset_id = ? AND origin_line IS NOT NULL"


class ReviewRepository:
    def __init__(self, db: Database):
        self._db = db

    async def decide(
        self,
        dataset_id: int,
        line: int,
        decision: str,
        *,
        edited_text: str | None,
        by_id: str,
        by_name: str,
    ) -> tuple[ReviewDecision | None, bool]:
        """Record a decision unless the example has one. Returns the example's decision (this
        one or the earlier; None when the line is no reviewable example) and whether it is
        this one."""
        async with self._db.transaction() as conn:
            async with conn.execute(
                "INSERT INTO review_decisions (dataset_id, line, decision, edited_text,"
                " decided_by, decided_by_name, decided_at)"
                " SELECT dataset_id, line, ?, ?, ?, ?, ? FROM dataset_examples"
                " WHERE dataset_id = ? AND line = ? AND origin_line IS NOT NULL"
                " ON CONFLICT (dataset_id, line) DO NOTHING",
                (decision, edited_text, by_id, by_name, utc_now(), dataset_id, line),
            ) as cur:
                recorded = cur.rowcount == 1
            async with conn.execute(
                "SELECT * FROM review_decisions WHERE dataset_id = ? AND line = ?",
                (dataset_id, line),
            ) as cur:
                row = await cur.fetchone()
        return (_decision(row) if row else None), recorded

    async def get(self, dataset_id: int, line: int) -> ReviewDecision | None:
        row = await self._db.fetchone(
            "SELECT * FROM review_decisions WHERE dataset_id = ? AND line = ?",
            (dataset_id, line),
        )
        return _decision(row) if row else None

    async def all(self, dataset_id: int) -> dict[int, ReviewDecision]:
        """Every decision on ``dataset_id``, by line."""
        rows = await self._db.fetchall(
            "SELECT * FROM review_decisions WHERE dataset_id = ?", (dataset_id,)
        )
        return {row["line"]: _decision(row) for row in rows}

    async def page(self, dataset_id: int, *, offset: int, limit: int) -> list[ReviewedExample]:
        """Reviewable examples (those made by augmentation) in line order, with decisions."""
        rows = await self._db.fetchall(
            f"SELECT {EXAMPLE_COLUMNS} FROM dataset_examples WHERE {_REVIEWABLE}"
            " ORDER BY line LIMIT ? OFFSET ?",
            (dataset_id, limit, offset),
        )
        examples = [stored_example(row) for row in rows]
        if not examples:
            return []
        marks = ",".join("?" * len(examples))
        decided = await self._db.fetchall(
            f"SELECT * FROM review_decisions WHERE dataset_id = ? AND line IN ({marks})",
            (dataset_id, *(example.line for example in examples)),
        )
        by_line = {row["line"]: _decision(row) for row in decided}
        return [ReviewedExample(example, by_line.get(example.line)) for example in examples]

    async def tally(self, dataset_id: int) -> ReviewTally:
        reviewable = await self._db.fetchone(
            f"SELECT COUNT(*) AS n FROM dataset_examples WHERE {_REVIEWABLE}", (dataset_id,)
        )
        kinds = await self._db.fetchall(
            "SELECT decision, COUNT(*) AS n FROM review_decisions WHERE dataset_id = ?"
            " GROUP BY decision",
            (dataset_id,),
        )
        people = await self._db.fetchall(
            "SELECT decided_by, MAX(decided_by_name) AS name, COUNT(*) AS n"
            " FROM review_decisions WHERE dataset_id = ? GROUP BY decided_by"
            " ORDER BY n DESC, name",
            (dataset_id,),
        )
        return ReviewTally(
            reviewable=reviewable["n"],
            by_decision={row["decision"]: row["n"] for row in kinds},
            by_person=[(row["name"], row["n"]) for row in people],
        )

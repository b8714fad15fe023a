"""Assigning models to robots: the checks and bookkeeping behind /assign, /unassign, /stacks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from robots.model_ids import validate_model_id
from robots.stack_ids import validate_stack_id
from storage.assignments import AssignmentChange, AssignmentRepository, RobotOverview
from storage.last_seen import LastSeenRecorder


class RobotService:
    def __init__(
        self,
        assignments: AssignmentRepository,
        last_seen: LastSeenRecorder,
        default_model: str,
        more_models: Callable[[], Awaitable[list[str]]] | None = None,
    ):
        self._assignments = assignments
        self._last_seen = last_seen
        self.default_model = default_model
        # Where other features add models worth suggesting (fine-tunes that succeeded).
        self._more_models = more_models

    async def assign(self, stack_id: int, model: str, *, by_id: str, by_name: str):
        stack_id, model = validate_stack_id(stack_id), validate_model_id(model)
        return await self._assignments.assign(stack_id, model, by_id=by_id, by_name=by_name)

    async def unassign(self, stack_id: int, *, by_id: str, by_name: str) -> AssignmentChange:
        validate_stack_id(stack_id)
        return await self._assignments.unassign(stack_id, by_id=by_id, by_name=by_name)

    async def overview(self) -> list[RobotOverview]:
        # Sightings are buffered in memory (see LastSeenRecorder); write them first so the
        # table shows robots that asked a moment ago.
        await self._last_seen.flush()
        return await self._assignments.overview()

    async def known_models(self, typed: str = "", limit: int = 25) -> list[str]:
        """Models to suggest: fine-tunes, then assigned ones, then the default, filtered."""
        candidates = list(await self._more_models()) if self._more_models else []
        candidates += await self._assignments.assigned_models()
        candidates.append(self.default_model)
        needle = typed.strip().casefold()
        seen: dict[str, None] = {}
        for model in candidates:
            if needle in model.casefold():
                seen.setdefault(model)
        return list(seen)[:limit]

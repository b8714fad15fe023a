"""Where a dataset came from, in words: one line per dataset of its lineage."""

from __future__ import annotations

from collections.abc import Callable

from i18n import Message, msg
from storage.datasets import Ancestor


def _as_is(text: str) -> str:
    return text


def describe(ancestor: Ancestor, shown: Callable[[str], str] = _as_is) -> Message:
    """``ancestor`` as one line; ``shown`` puts names and file names on the reader's screen
    (escaped for Discord, as they are for a terminal)."""
    dataset, details = ancestor.dataset, ancestor.dataset.details
    common = {"id": dataset.id, "name": shown(dataset.name), "examples": dataset.example_count}
    parents = ", ".join(f"#{parent}" for parent in ancestor.parents)
    if dataset.operation == "review" and ancestor.parents:
        return msg(
            "curation.lineage.review",
            **common,
            parent=parents,
            kept=details.get("kept", 0),
            edited=details.get("edited", 0),
            dropped=details.get("dropped", 0),
            undecided=details.get("undecided", 0),
            undecided_as=msg(
                "curation.undecided_were.keep"
                if details.get("undecided_as") == "keep"
                else "curation.undecided_were.drop"
            ),
        )
    if dataset.operation == "merge":
        return msg(
            "curation.lineage.merge",
            **common,
            parents=parents,
            duplicates=details.get("duplicates", 0),
        )
    if dataset.operation == "augment":
        return msg(
            "curation.lineage.augment",
            **common,
            method=dataset.method,
            source=shown(dataset.source_file),
        )
    return msg("curation.lineage.other", **common, operation=dataset.operation)

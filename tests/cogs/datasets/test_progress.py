"""The progress message of a long job: few edits, always the latest numbers, none after."""

from __future__ import annotations

import asyncio
import time

from cogs.datasets._progress import ThrottledProgress


async def test_reports_from_a_worker_thread_become_throttled_edits():
    edits: list[str] = []

    async def edit(text: str) -> None:
        edits.append(text)

    def work(report) -> None:
        for done in range(1, 201):
            report((done, 200))
            time.sleep(0.002)  # about 0.4 s of "work"

    progress = ThrottledProgress(edit, lambda update: "rows {}/{}".format(*update), interval=0.1)
    async with progress:
        await asyncio.to_thread(work, progress.report)
        await asyncio.sleep(0.25)  # the last numbers are shown within one interval
    shown = len(edits)
    await asyncio.sleep(0.25)

    assert 2 <= shown <= 7, edits  # ~0.65 s at one edit per 0.1 s at most
    assert edits[-1] == "rows 200/200"
    counts = [int(text.split()[1].split("/")[0]) for text in edits]
    assert counts == sorted(set(counts))  # each edit newer than the last, no repeats
    assert len(edits) == shown  # nothing after the block ended


async def test_no_report_no_edit():
    edits: list[str] = []

    async def edit(text: str) -> None:
        edits.append(text)

    async with ThrottledProgress(edit, str, interval=0.01):
        await asyncio.sleep(0.05)
    assert edits == []

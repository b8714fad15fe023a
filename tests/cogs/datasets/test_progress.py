"""The progress message of a long job: few edits, always the latest numbers, none after."""

from __future__ import annotations

import asyncio
import threading
import time

from cogs.datasets._progress import ThrottledProgress

# Only bounds a hang: each wait below normally ends within one 0.1 s interval.
HANG_CEILING_SECONDS = 60


async def test_reports_from_a_worker_thread_become_throttled_edits():
    edits: list[str] = []
    first_edit = threading.Event()
    last_numbers_shown = asyncio.Event()

    async def edit(text: str) -> None:
        edits.append(text)
        first_edit.set()
        if text == "rows 200/200":
            last_numbers_shown.set()

    def work(report) -> None:
        for done in range(1, 201):
            report((done, 200))
            if done == 100:  # half-way, the numbers have moved before the work ends
                assert first_edit.wait(HANG_CEILING_SECONDS), "no edit while the work ran"
            time.sleep(0.002)

    progress = ThrottledProgress(edit, lambda update: "rows {}/{}".format(*update), interval=0.1)
    started = time.monotonic()
    async with progress:
        await asyncio.to_thread(work, progress.report)
        await asyncio.wait_for(last_numbers_shown.wait(), HANG_CEILING_SECONDS)
    elapsed = time.monotonic() - started
    shown = len(edits)
    await asyncio.sleep(0.3)  # three intervals: long enough for an edit that should not come

    # At most one edit per interval however slow the machine, far fewer than the 200 reports.
    assert 2 <= shown <= elapsed / 0.1 + 1, (elapsed, edits)
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

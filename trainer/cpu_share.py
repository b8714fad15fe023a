"""How a training process leaves the CPU to the robots' inference engine on the same machine.

Two things, both measured by bench/chat_while_training.py:

- **Priority.** The training process runs at ``TRAINER_NICENESS`` (19 by default, the lowest
  Unix priority), set by the runner as it starts the process and again here for every thread
  the process has. Raising the engine's priority instead would need root; lowering the
  trainer's works everywhere.
- **Threads.** While robots are chatting, the training uses half its threads (at least one),
  so the engine's threads find free cores instead of waiting to preempt the training's; when
  the robots have been quiet for ``QUIET_SECONDS`` it takes them all back. The gateway says
  "robots are chatting" by keeping the modification time of ``DATA_DIR/robots-chatting``
  fresh while a chat is in flight (gateway/chatting.py); the worker looks at it between
  steps. The file is only seen by a trainer that shares the gateway's DATA_DIR: a trainer
  on another machine (TRAINER_URL) does not compete with the engine and ignores it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

# How the runner hands these to the training process (trainer/runner.py).
NICENESS_VARIABLE = "KOBO_TRAINER_NICENESS"
CHATTING_FILE_VARIABLE = "KOBO_ROBOTS_CHATTING_FILE"
# Robots talk in turns (a child speaks, the robot answers): a pause shorter than this is still
# "chatting", so the training does not switch its threads back and forth within a talk.
QUIET_SECONDS = 10.0


def lower_priority(niceness: int) -> None:
    """Run every thread of this process at ``niceness`` (never higher priority than now), and
    its scheduling group too (:func:`lower_autogroup`)."""
    lower_autogroup("self", niceness)
    threads = _thread_ids()
    for thread in threads:
        with contextlib.suppress(OSError):  # a thread that just ended
            if os.getpriority(os.PRIO_PROCESS, thread) < niceness:
                os.setpriority(os.PRIO_PROCESS, thread, niceness)


def lower_autogroup(pid: int | str, niceness: int) -> None:
    """Give the process's autogroup ``niceness``. With Linux's autogroups on (most desktop and
    server kernels), a process in a session of its own, as the runner starts the training, is
    scheduled as a group against every other session's, whatever the nice value of its threads:
    measured, a niced training left the engine no more CPU than an unniced one. The group's own
    nice value is what counts between groups; lowering it needs no privilege."""
    with contextlib.suppress(OSError):  # no autogroups here, or the process just ended
        Path(f"/proc/{pid}/autogroup").write_text(f"{niceness}\n", encoding="ascii")


def _thread_ids() -> list[int]:
    # On Linux a priority belongs to each thread (and new threads copy their creator's).
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return [0]  # elsewhere: the whole process


def niceness_from_environment() -> int | None:
    value = os.environ.get(NICENESS_VARIABLE, "")
    return int(value) if value.isdigit() else None


class ThreadBudget:
    """How many threads the training may use now: all of them while the robots are quiet."""

    def __init__(self, threads: int, chatting_file: Path | None):
        self.idle_threads = max(1, threads)
        self.chatting_threads = max(1, self.idle_threads // 2)
        self._chatting_file = chatting_file

    @classmethod
    def from_environment(cls, threads: int) -> ThreadBudget:
        given = os.environ.get(CHATTING_FILE_VARIABLE)
        return cls(threads, Path(given) if given else None)

    def robots_chatting(self) -> bool:
        if self._chatting_file is None:
            return False
        try:
            touched = self._chatting_file.stat().st_mtime
        except OSError:
            return False
        return abs(time.time() - touched) < QUIET_SECONDS  # abs: a clock set back

    def threads_now(self) -> int:
        return self.chatting_threads if self.robots_chatting() else self.idle_threads

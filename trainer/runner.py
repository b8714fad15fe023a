"""Run fine-tuning jobs: check their files, queue them, train one at a time in its own process.

A job goes validating_files -> queued -> running -> succeeded | failed | cancelled:

- **validating_files**: the training (and validation) file is checked with kobo's rules
  (``finetune.validation``, as /train does); a bad file fails the job naming the line, as
  OpenAI does. The files are copied into the job's folder, "auto" hyperparameters resolved
  (``n_epochs`` with OpenAI's rule) and ``spec.json`` written for the training process.
- **queued**: waits for the one training slot, oldest first.
- **running**: ``python -m trainer.worker <job dir>/spec.json`` in its own process group, its
  stdin a pipe we keep open (the worker exits when it closes: when this process dies, even by
  kill -9). Its ``progress.jsonl`` is read every ``poll_seconds`` (see trainer/progress.py).
- Cancelling kills the process group. Stopping the runner kills the training process and
  leaves the job ``running``; the next start re-reads its progress file from the stored offset
  and queues it again, and the worker resumes from its newest checkpoint.

Nothing a job left on disk stops the runner: a damaged progress file fails its job naming the
file, a line longer than ``MAX_EXAMPLE_BYTES`` fails validation naming the line, and the queue
outlives any error of one job. A full disk fails the job (``disk_full``); when the failure
itself cannot be written (the database on that disk), it is written once there is space.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from config.settings import TrainerSettings
from finetune.plan import auto_epochs
from finetune.validation import validate_chat_jsonl
from gateway.chatting import chatting_file
from storage.database import Database
from storage.files import write_atomically
from storage.trainer import (
    UNFINISHED_STATUSES,
    JobChanges,
    NewEvent,
    TrainerFile,
    TrainerJob,
    TrainerRepository,
)
from trainer.base_models import BaseModel, BaseModelTable
from trainer.chat_data import long_line_problem
from trainer.cpu_share import CHATTING_FILE_VARIABLE, NICENESS_VARIABLE, lower_autogroup
from trainer.disk_space import DISK_FULL, disk_full_message, is_disk_full, is_low_on_space
from trainer.file_store import TrainerPaths, copy_file, remove_tree
from trainer.ids import EVENT, FILE, JOB, fine_tuned_model_name, new_id
from trainer.job_request import AUTO, JobRequest
from trainer.progress import (
    PROGRESS_FILE,
    Damage,
    ProgressBatch,
    RunClock,
    interpret,
    read_complete_lines,
)

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
RETRY_SECONDS = 2.0  # after the queue itself failed (a full disk holding the database)
STOP_SECONDS = 5.0
SHOWN_PROBLEMS = 3  # of a bad training file, in the job's error
DEFAULT_BATCH_SIZE = 4  # for "auto"
# The worker's defaults when the spec says null (trainer/worker.py); a learning-rate multiplier
# scales them.
DEFAULT_LEARNING_RATES = {"lora": 1e-3, "full": 1e-5}
ORPHAN_WAIT_SECONDS = 10.0  # for a training process of a killed trainer to notice and exit
SPEC_FILE = "spec.json"
TRAINING_COPY = "train.jsonl"
VALIDATION_COPY = "validation.jsonl"
RESULTS_FILE = "results.csv"
RESULT_FILENAME = "step_metrics.csv"  # OpenAI's name for the result file
WORKER_LOG = "worker.log"
TAIL_CHUNK_BYTES = 1 << 16  # read backwards from the end of progress.jsonl for its last line
WORKER_MODULE = "trainer.worker"
# The folder holding the trainer package: the training process imports the same code.
CODE_ROOT = Path(__file__).resolve().parents[1]

FINISHED = ("succeeded", "failed", "cancelled")


class CancelOutcome(Enum):
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    ALREADY_FINISHED = "already_finished"


@dataclass
class _Run:
    """The job in the training slot."""

    job_id: str
    process: asyncio.subprocess.Process | None = None
    cancelled: bool = False
    stopping: bool = False

    async def kill(self) -> None:
        """Kill the whole process group and reap the process."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()


class JobFailure(Exception):
    """A job cannot run: its error object's code, message and param."""

    def __init__(self, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


class JobRunner:
    def __init__(
        self,
        db: Database,
        settings: TrainerSettings,
        base_models: BaseModelTable,
        *,
        poll_seconds: float = POLL_SECONDS,
        worker_command: Sequence[str] = (sys.executable, "-m", WORKER_MODULE),
        clock: Callable[[], float] = time.time,
    ):
        self.repository = TrainerRepository(db)
        self.paths = TrainerPaths(settings.data_dir)
        self.base_models = base_models
        self.device_setting = settings.trainer_device
        self.niceness = settings.trainer_niceness
        self.poll_seconds = poll_seconds
        self.worker_command = tuple(worker_command)
        self.clock = clock
        self._queue_changed = asyncio.Event()
        self._run: _Run | None = None
        self._loop: asyncio.Task[None] | None = None
        self._validations: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._detected_device: str | None = None
        # Jobs that ended while their failure could not be written (a full disk): retried.
        self._lost: dict[str, JobFailure] = {}

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Pick up where the last run of the trainer stopped, then start taking jobs. Nothing a
        job left on disk stops the start: a job whose state cannot be read is failed."""
        try:
            await self.paths.remove_temporary_files()
        except OSError:
            log.exception("cannot tidy the interrupted uploads in %s", self.paths.files_dir)
        for job in await self.repository.jobs_with_status(("running",)):
            try:
                await self._recover(job)
            except Exception as exc:
                log.exception("job %s: cannot pick it up after the restart", job.id)
                self._lost[job.id] = self._failure_of(
                    exc, "the trainer could not pick the job up after a restart (see its log)"
                )
        for job in await self.repository.jobs_with_status(("validating_files",)):
            self._validate_soon(job)
        self._loop = asyncio.create_task(self._take_jobs(), name="kobo-trainer-queue")

    async def stop(self) -> None:
        """Kill the training process (its job resumes at the next start) and stop."""
        self._stopping = True
        self._queue_changed.set()
        run = self._run
        if run is not None:
            run.stopping = True
            await run.kill()
        if self._loop is not None:
            # It records the last progress lines and returns; cancel it if that hangs.
            await asyncio.wait({self._loop}, timeout=STOP_SECONDS)
        tasks = [*self._validations, *([self._loop] if self._loop else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- jobs -------------------------------------------------------------------------------

    async def create_job(self, request: JobRequest, training: TrainerFile) -> TrainerJob:
        job_id = new_id(JOB)
        now = self._now()
        seed = request.seed if request.seed is not None else int.from_bytes(os.urandom(4)) >> 1
        job = TrainerJob(
            id=job_id,
            base_model=request.model,
            model_name=fine_tuned_model_name(request.model, request.suffix, job_id),
            training_file=request.training_file,
            validation_file=request.validation_file,
            suffix=request.suffix,
            seed=seed,
            method=request.method,
            hyperparameters=request.hyperparameters(),
            merge=request.merge,
            metadata=request.metadata,
            status="validating_files",
            created_unix=now,
        )
        await self.repository.add_job(
            job,
            [
                self._event("created", f"Created fine-tuning job: {job_id}"),
                self._event("validating", f"Validating training file: {training.id}"),
            ],
        )
        log.info("job %s created: %s on %s", job_id, job.method, job.base_model)
        self._validate_soon(job)
        return job

    async def cancel(self, job_id: str) -> tuple[CancelOutcome, TrainerJob | None]:
        job = await self.repository.get_job(job_id)
        if job is None:
            return CancelOutcome.NOT_FOUND, None
        if job.finished:
            return CancelOutcome.ALREADY_FINISHED, job
        now = self._now()
        cancelled = await self.repository.change_job(
            job_id,
            JobChanges(status="cancelled", finished_unix=now, clear_pid=True, clear_estimate=True),
            events=[self._event("cancelled", "Fine-tuning job cancelled", now)],
        )
        if not cancelled:  # it finished in the meantime
            return CancelOutcome.ALREADY_FINISHED, await self.repository.get_job(job_id)
        run = self._run
        if run is not None and run.job_id == job_id:
            run.cancelled = True
            await run.kill()
            # What the cancelled training left is of no use (the job folder keeps its log).
            await remove_tree(self.paths.model_dir(job_id))
            await remove_tree(self.paths.model_dir(job_id).with_name(f".{job_id}.tmp"))
        log.info("job %s cancelled", job_id)
        return CancelOutcome.CANCELLED, await self.repository.get_job(job_id)

    async def device(self) -> str:
        """Where this trainer trains: TRAINER_DEVICE, or for "auto" CUDA when torch sees a GPU."""
        if self.device_setting != "auto":
            return self.device_setting
        if self._detected_device is None:
            self._detected_device = await asyncio.to_thread(_detect_device)
        return self._detected_device

    async def running_pid(self, job_id: str) -> int | None:
        """The training process of ``job_id`` while it runs here."""
        run = self._run
        if run is not None and run.job_id == job_id and run.process is not None:
            return run.process.pid
        return None

    # --- validating -------------------------------------------------------------------------

    def _validate_soon(self, job: TrainerJob) -> None:
        task = asyncio.create_task(self._validate(job), name=f"kobo-trainer-validate-{job.id}")
        self._validations.add(task)
        task.add_done_callback(self._validations.discard)

    async def _validate(self, job: TrainerJob) -> None:
        try:
            await self._check(job)
        except Exception as exc:  # its outcome could not be written: the queue retries
            log.exception("job %s: recording its validation failed", job.id)
            self._lost[job.id] = self._failure_of(
                exc, "the trainer could not prepare the job (see its log)"
            )
        finally:
            self._queue_changed.set()

    async def _check(self, job: TrainerJob) -> None:
        try:
            resolved = await self._prepare(job)
        except JobFailure as failure:
            log.info("job %s failed validation: %s", job.id, failure.message)
            await self._fail(job.id, failure, expected=("validating_files",))
            return
        except Exception as exc:
            log.exception("job %s: preparing it failed", job.id)
            await self._fail(
                job.id,
                self._failure_of(exc, "the trainer could not prepare the job (see its log)"),
                expected=("validating_files",),
            )
            return
        await self.repository.change_job(
            job.id,
            JobChanges(status="queued", hyperparameters=resolved),
            expected=("validating_files",),
            events=[self._event("validated", "Files validated, moving job to queued state")],
        )

    async def _prepare(self, job: TrainerJob) -> dict[str, Any]:
        """Check the files and base model, copy the files, write spec.json; returns the
        hyperparameters with "auto" resolved."""
        base = self.base_models.get(job.base_model)
        if base is None:
            raise JobFailure(
                "invalid_base_model",
                f"base model {job.base_model!r} is no longer in this trainer's table"
                " (LOCAL_BASE_MODELS)",
                "model",
            )
        # Whether the base model loads is the training process's to find out (and say): it
        # also makes the pip-packaged Gemma's folder on first use.
        job_dir = self.paths.job_dir(job.id)
        examples = await self._check_file(
            job.training_file, job_dir / TRAINING_COPY, "training_file"
        )
        validation = None
        if job.validation_file is not None:
            await self._check_file(
                job.validation_file, job_dir / VALIDATION_COPY, "validation_file"
            )
            validation = str(job_dir / VALIDATION_COPY)
        hyper = dict(job.hyperparameters)
        if hyper["n_epochs"] == AUTO:
            hyper["n_epochs"] = auto_epochs(examples)
        if hyper["batch_size"] == AUTO:
            hyper["batch_size"] = DEFAULT_BATCH_SIZE
        if hyper.get("learning_rate") is None and hyper["learning_rate_multiplier"] != AUTO:
            hyper["learning_rate"] = (
                DEFAULT_LEARNING_RATES[job.method] * hyper["learning_rate_multiplier"]
            )
        if hyper["learning_rate_multiplier"] == AUTO:
            hyper["learning_rate_multiplier"] = 1.0
        spec = self._spec(job, base, hyper, validation)
        await asyncio.to_thread(
            write_atomically, {job_dir / SPEC_FILE: json.dumps(spec, indent=1).encode()}
        )
        return hyper

    async def _check_file(self, file_id: str, copy: Path, param: str) -> int:
        """Validate the stored file and copy it into the job folder; returns its examples."""
        stored = await self.repository.get_file(file_id)
        if stored is None:
            raise JobFailure(f"invalid_{param}", f"{param}: file {file_id} was deleted", param)
        path = self.paths.absolute(stored.path)
        data = await asyncio.to_thread(path.read_bytes)
        if (problem := long_line_problem(data, name=stored.filename)) is not None:
            raise JobFailure(f"invalid_{param}", problem, param)
        report = await asyncio.to_thread(validate_chat_jsonl, data, file=stored.filename)
        if not report.ok:
            shown = "; ".join(str(problem) for problem in report.problems[:SHOWN_PROBLEMS])
            more = report.problem_count - min(SHOWN_PROBLEMS, len(report.problems))
            if more:
                shown += f" (and {more} more)"
            raise JobFailure(f"invalid_{param}", shown, param)
        await copy_file(path, copy)
        return len(report.examples)

    def _spec(
        self, job: TrainerJob, base: BaseModel, hyper: dict[str, Any], validation: str | None
    ) -> dict[str, Any]:
        job_dir = self.paths.job_dir(job.id)
        return {
            "job_id": job.id,
            "model_name": job.model_name,
            "base_model": {
                "name": base.name,
                "source": base.source,
                "chat_template": base.chat_template,
            },
            "training_file": str(job_dir / TRAINING_COPY),
            "validation_file": validation,
            "method": job.method,
            "hyperparameters": {
                "n_epochs": hyper["n_epochs"],
                "learning_rate": hyper.get("learning_rate"),
                "lora_rank": hyper.get("lora_rank"),
                "batch_size": hyper["batch_size"],
                "seed": job.seed,
            },
            "merge": job.merge,
            "device": self.device_setting,
            "job_dir": str(job_dir),
            "model_dir": str(self.paths.model_dir(job.id)),
        }

    # --- training ---------------------------------------------------------------------------

    async def _take_jobs(self) -> None:
        """The queue: it outlives any one job's failure, and any failure to record one (a full
        disk holding the database), which it records once it can."""
        while not self._stopping:
            try:
                await self._take_next()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the training queue failed; trying again in %s s", RETRY_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._queue_changed.wait(), RETRY_SECONDS)

    async def _take_next(self) -> None:
        self._queue_changed.clear()
        await self._record_lost()
        # First come, first trained: while the oldest job is still being checked, the ones
        # after it wait too.
        waiting = await self.repository.jobs_with_status(("validating_files", "queued"))
        if not waiting or waiting[0].status != "queued":
            await self._queue_changed.wait()
            return
        job = waiting[0]
        try:
            await self._train(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("job %s: running it failed", job.id)
            self._lost[job.id] = self._failure_of(
                exc, "the trainer failed to run the job (see its log)"
            )

    async def _record_lost(self) -> None:
        for job_id, failure in list(self._lost.items()):
            await self._fail(job_id, failure, expected=UNFINISHED_STATUSES)
            del self._lost[job_id]

    def _failure_of(self, exc: BaseException, otherwise: str) -> JobFailure:
        if is_disk_full(exc):
            return JobFailure(DISK_FULL, disk_full_message(self.paths.data_dir))
        return JobFailure("internal_error", otherwise)

    async def _train(self, job: TrainerJob) -> None:
        run = self._run = _Run(job.id)
        job_dir = self.paths.job_dir(job.id)
        try:
            await asyncio.to_thread(_cut_partial_line, job_dir / PROGRESS_FILE)
            worker_log = await asyncio.to_thread(open, job_dir / WORKER_LOG, "ab")
            try:
                run.process = await asyncio.create_subprocess_exec(
                    *self.worker_command,
                    str(job_dir / SPEC_FILE),
                    cwd=job_dir,
                    env=_worker_environment(self.niceness, chatting_file(self.paths.data_dir)),
                    stdin=asyncio.subprocess.PIPE,  # kept open: EOF tells the worker we died
                    stdout=worker_log,
                    stderr=worker_log,
                    start_new_session=True,  # its own process group, killed as a whole
                )
            finally:
                worker_log.close()
            _lower_priority(run.process.pid, self.niceness)
            started = await self.repository.change_job(
                job.id,
                JobChanges(
                    status="running",
                    pid=run.process.pid,
                    started_unix=job.started_unix or self._now(),
                ),
                expected=("queued",),
            )
            if not started or run.cancelled:
                await run.kill()
                return
            log.info("job %s: training process %d started", job.id, run.process.pid)
            await self._follow(job, run)
        finally:
            if run.process is not None and run.process.returncode is None:
                await run.kill()
            if run.process is not None and run.process.stdin is not None:
                run.process.stdin.close()
            self._run = None

    async def _follow(self, job: TrainerJob, run: _Run) -> None:
        assert run.process is not None
        clock = RunClock()
        offset = (await self.repository.get_job(job.id) or job).progress_offset
        outcome = ProgressBatch(offset)
        exited = asyncio.create_task(run.process.wait())
        try:
            while True:
                done, _ = await asyncio.wait({exited}, timeout=self.poll_seconds)
                await self._read_to_end(job, outcome, clock)
                if done or outcome.damage is not None:
                    break
        finally:
            exited.cancel()
        if run.cancelled or run.stopping:
            return
        code = run.process.returncode
        if outcome.damage is not None:
            await run.kill()
            await self._fail(job.id, self._damaged(job, outcome.damage))
        elif outcome.failed is not None:
            await self._fail(job.id, JobFailure("training_failed", outcome.failed))
        elif outcome.succeeded is not None and code == 0:
            await self._succeed(job, outcome.succeeded)
        else:
            await self._fail(job.id, await self._crash(job, code))

    async def _crash(self, job: TrainerJob, code: int | None) -> JobFailure:
        """The training process ended without saying how: a full disk is the likely cause
        when no space is left (it could not even write its log)."""
        if await asyncio.to_thread(is_low_on_space, self.paths.job_dir(job.id)):
            return JobFailure(DISK_FULL, disk_full_message(self.paths.data_dir))
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return JobFailure(
            "training_crashed",
            f"the training process ended unexpectedly ({how}); its output is in"
            f" {self.paths.job_dir(job.id) / WORKER_LOG}",
        )

    def _damaged(self, job: TrainerJob, damage: Damage) -> JobFailure:
        path = self.paths.job_dir(job.id) / PROGRESS_FILE
        return JobFailure(
            "progress_unreadable",
            f"the job's progress file {path} is damaged at byte {damage.offset}"
            f" ({damage.problem}): the job's state cannot be read from it",
        )

    async def _read_to_end(self, job: TrainerJob, outcome: ProgressBatch, clock: RunClock) -> None:
        """Record the complete lines from ``outcome.offset`` on, up to the first damaged one;
        ``outcome`` gathers what ended the job and where reading stopped."""
        while outcome.damage is None:
            batch = await self._read_progress(job, outcome.offset, clock)
            if batch is None:
                return
            outcome.offset = batch.offset
            outcome.succeeded = batch.succeeded or outcome.succeeded
            outcome.failed = batch.failed or outcome.failed
            outcome.damage = batch.damage

    async def _read_progress(
        self, job: TrainerJob, offset: int, clock: RunClock
    ) -> ProgressBatch | None:
        """Record the new complete lines of the progress file; None when there were none."""
        path = self.paths.job_dir(job.id) / PROGRESS_FILE
        lines, end = await asyncio.to_thread(read_complete_lines, path, offset)
        if end == offset:
            return None
        batch = interpret(job, lines, end, clock, self._now())
        await self.repository.change_job(
            job.id,
            batch.changes(),
            expected=("running",),
            events=batch.events,
            checkpoints=batch.checkpoints,
        )
        return batch

    async def _succeed(self, job: TrainerJob, line: dict[str, Any]) -> None:
        job_dir = self.paths.job_dir(job.id)
        model_dir = self.paths.model_dir(job.id)
        results = job_dir / RESULTS_FILE
        if not await asyncio.to_thread(results.is_file) or not await asyncio.to_thread(
            model_dir.is_dir
        ):
            await self._fail(
                job.id,
                JobFailure(
                    "training_crashed",
                    f"the training process reported success but left no {RESULTS_FILE} or no"
                    f" model folder {model_dir}",
                ),
            )
            return
        file_id = new_id(FILE)
        relative = self.paths.file_relative(file_id)
        size, sha256 = await copy_file(results, self.paths.absolute(relative))
        now = self._now()
        result = TrainerFile(
            file_id, RESULT_FILENAME, "fine-tune-results", size, sha256, relative, now
        )
        succeeded = await self.repository.change_job(
            job.id,
            JobChanges(
                status="succeeded",
                trained_tokens=_optional_int(line.get("trained_tokens")),
                chars_per_second=_optional_float(line.get("chars_per_second")),
                peak_memory_bytes=_optional_int(line.get("peak_memory_bytes")),
                result_file=file_id,
                model_dir=self.paths.model_relative(job.id),
                finished_unix=now,
                clear_pid=True,
                clear_estimate=True,
            ),
            expected=("running",),
            events=[
                self._event("model", f"New fine-tuned model created: {job.model_name}", now),
                self._event("succeeded", "The job has successfully completed", now),
            ],
            files=[result],
        )
        if succeeded:
            log.info("job %s succeeded: %s", job.id, job.model_name)
        else:
            await asyncio.to_thread(self.paths.absolute(relative).unlink, missing_ok=True)

    async def _fail(
        self, job_id: str, failure: JobFailure, *, expected: Sequence[str] = ("running",)
    ) -> None:
        now = self._now()
        failed = await self.repository.change_job(
            job_id,
            JobChanges(
                status="failed",
                error_code=failure.code,
                error_message=failure.message,
                error_param=failure.param,
                finished_unix=now,
                clear_pid=True,
                clear_estimate=True,
            ),
            expected=expected,
            events=[self._event("failed", failure.message, now, level="error")],
        )
        if failed:
            log.warning("job %s failed: %s", job_id, failure.message)

    # --- after a restart --------------------------------------------------------------------

    async def _recover(self, job: TrainerJob) -> None:
        """A job the last trainer left running: record what its progress file says since, then
        finish it (it ended meanwhile) or queue it again to resume from its checkpoint."""
        job_dir = self.paths.job_dir(job.id)
        if job.pid is not None:
            await _wait_for_orphan(job.pid, job_dir / SPEC_FILE)
        batch = ProgressBatch(job.progress_offset)
        await self._read_to_end(job, batch, RunClock())
        if batch.damage is not None:
            await self._fail(job.id, self._damaged(job, batch.damage))
            return
        if batch.failed is not None:
            await self._fail(job.id, JobFailure("training_failed", batch.failed))
            return
        if batch.succeeded is not None:
            await self._succeed(job, batch.succeeded)
            return
        step = await self.repository.newest_checkpoint_step(job.id)
        restarts = job.restarts + 1
        if step is None:
            message = "Starting the training again after a restart (no checkpoint was saved yet)"
        else:
            message = f"Resuming from the checkpoint at step {step} after a restart"
        resumed = await self.repository.change_job(
            job.id,
            JobChanges(status="queued", restarts=restarts, clear_pid=True, clear_estimate=True),
            expected=("running",),
            events=[self._event(f"resume:{restarts}", message)],
        )
        if resumed:
            log.info("job %s: %s", job.id, message)

    # --- helpers ----------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _event(
        self, key: str, message: str, when: int | None = None, *, level: str = "info"
    ) -> NewEvent:
        return NewEvent(new_id(EVENT), key, self._now() if when is None else when, message, level)


def _detect_device() -> str:
    import torch  # only here: importing it takes seconds and much memory

    return "cuda" if torch.cuda.is_available() else "cpu"


def _worker_environment(niceness: int, robots_chatting: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CODE_ROOT), env.get("PYTHONPATH")]))
    # The worker lowers the threads it starts itself and watches the gateway's file
    # (trainer/cpu_share.py).
    env[NICENESS_VARIABLE] = str(niceness)
    env[CHATTING_FILE_VARIABLE] = str(robots_chatting)
    return env


def _lower_priority(pid: int, niceness: int) -> None:
    """At once, before the worker's Python has started: its start-up already yields."""
    with contextlib.suppress(OSError):  # it may have ended already
        if os.getpriority(os.PRIO_PROCESS, pid) < niceness:
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
    lower_autogroup(pid, niceness)  # its own session is its own scheduling group


def _cut_partial_line(path: Path) -> None:
    """An interrupted run (killed, or out of disk space) may have left half a line: cut it off,
    so that the next run's first line is not glued to it. Nobody read it: only complete lines
    are read."""
    try:
        with open(path, "rb+") as file:
            size = position = file.seek(0, os.SEEK_END)
            end = 0
            while position > 0:
                start = max(0, position - TAIL_CHUNK_BYTES)
                file.seek(start)
                newline = file.read(position - start).rfind(b"\n")
                if newline >= 0:
                    end = start + newline + 1
                    break
                position = start
            if end < size:
                file.truncate(end)
    except FileNotFoundError:
        pass


async def _wait_for_orphan(pid: int, spec: Path) -> None:
    """The training process of a killed trainer exits once it sees its stdin close; wait for
    it (so that two runs never write one progress file), and kill it when it does not go."""
    if not await asyncio.to_thread(_is_worker_of, pid, spec):
        return
    deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        if not await asyncio.to_thread(_is_worker_of, pid, spec):
            return
    log.warning("killing training process %d that outlived its trainer", pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _is_worker_of(pid: int, spec: Path) -> bool:
    """Whether process ``pid`` is alive and is the training process for ``spec`` (the id may
    belong to another process by now)."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return WORKER_MODULE.encode() in arguments and str(spec).encode() in arguments


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None

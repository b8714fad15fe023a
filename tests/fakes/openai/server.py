"""An aiohttp server on 127.0.0.1 speaking the subset of OpenAI's REST API kobo uses.

The real ``openai.AsyncOpenAI(base_url=fake.base_url, api_key=fake.api_key)`` talks to it over a
real socket. Tests drive jobs forward (``advance``, ``add_metrics``, ``succeed``, ``fail``), inject
faults into the next requests (``fail_next``, ``delay_next``) and count what the client asked for
(``requests``). Jobs can be paused and resumed (``pause_on_openai``, or the API's own
``/pause`` and ``/resume``), and ``report_status`` makes a job report a status OpenAI may add
one day. With ``fine_tuning_withdrawn`` set, creating a job is refused with 403 as OpenAI refuses
organisations it no longer offers self-serve fine-tuning to (files can still be uploaded and
deleted). Chat completions answer ``chat_reply`` (a text, or a function of the request), streamed
or not, cut at ``max_completion_tokens`` / ``max_tokens`` (one character counts as one token);
``chat_models`` limits which models exist. Shapes follow the SDK's types (``FineTuningJob``,
``FineTuningJobEvent``, ``FileObject``, ``ChatCompletion``, ``ChatCompletionChunk``) and
OpenAI's behaviour:

- lists are newest first; ``after=<id>`` continues a list after that item, i.e. returns OLDER
  items (that is how the SDK paginates), ``has_more`` says whether more are left;
- result files are served base64-encoded, as OpenAI does for fine-tuning results;
- errors are ``{"error": {"message", "type", "param", "code"}}``; 429 and 5xx carry
  ``retry-after-ms`` (default 1 ms) so the SDK's own retries are immediate in tests.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

UNFINISHED = ("validating_files", "queued", "running", "paused")
ORDER = ("validating_files", "queued", "running")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, a dict of multipart fields, or None
    status: int = 0
    authorization: str | None = None  # the Authorization header as sent


@dataclass
class _Fault:
    status: int | None = None
    delay_s: float = 0.0
    held_until: asyncio.Event | None = None
    method: str | None = None
    path_prefix: str = "/v1"

    def applies_to(self, request: web.Request) -> bool:
        return (self.method is None or request.method == self.method) and request.path.startswith(
            self.path_prefix
        )


_BODY = web.RequestKey("parsed_body", object)


@dataclass
class _Job:
    data: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    metrics: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


class FakeOpenAI:
    def __init__(self, api_key: str = "sk-test-kobo", *, retry_after_ms: str = "1"):
        self.api_key = api_key
        self.retry_after_ms = retry_after_ms
        self.organization_id = "org-kobo-test"
        self.requests: list[RecordedRequest] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.file_contents: dict[str, bytes] = {}
        self.jobs: dict[str, _Job] = {}
        self.result_base64 = True
        self.fine_tuning_withdrawn = False
        self._faults: list[_Fault] = []
        self.started_paths: list[str] = []  # as requests arrive, before they are answered
        self._waiters: list[tuple[str, asyncio.Event]] = []
        self._ids = itertools.count(1)
        self.chat_reply: str | Callable[[dict[str, Any]], str] = _echo
        self.chat_models: set[str] | None = None  # None: every model name exists
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakeOpenAI:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        app.router.add_post("/v1/files", self._create_file)
        app.router.add_get("/v1/files/{file_id}", self._retrieve_file)
        app.router.add_delete("/v1/files/{file_id}", self._delete_file)
        app.router.add_get("/v1/files/{file_id}/content", self._file_content)
        app.router.add_post("/v1/fine_tuning/jobs", self._create_job)
        app.router.add_get("/v1/fine_tuning/jobs", self._list_jobs)
        app.router.add_get("/v1/fine_tuning/jobs/{job_id}", self._retrieve_job)
        app.router.add_post("/v1/fine_tuning/jobs/{job_id}/cancel", self._cancel_job)
        app.router.add_post("/v1/fine_tuning/jobs/{job_id}/pause", self._pause_job)
        app.router.add_post("/v1/fine_tuning/jobs/{job_id}/resume", self._resume_job)
        app.router.add_get("/v1/fine_tuning/jobs/{job_id}/events", self._list_events)
        app.router.add_get("/v1/fine_tuning/jobs/{job_id}/checkpoints", self._list_checkpoints)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        # A short shutdown: requests still sleeping in delay_next() must not hold up teardown.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- test controls: faults and the request log -----------------------------------------

    def fail_next(
        self, count: int, status: int, *, method: str | None = None, path_prefix: str = "/v1"
    ) -> None:
        """The next ``count`` matching requests answer ``status`` (429, 500, 401, 400, ...) and
        change nothing."""
        self._faults.extend(
            _Fault(status=status, method=method, path_prefix=path_prefix) for _ in range(count)
        )

    def delay_next(
        self, count: int, seconds: float, *, method: str | None = None, path_prefix: str = "/v1"
    ) -> None:
        """The next ``count`` matching requests wait ``seconds`` first (client timeouts)."""
        self._faults.extend(
            _Fault(delay_s=seconds, method=method, path_prefix=path_prefix) for _ in range(count)
        )

    def hold_next(
        self, count: int, *, method: str | None = None, path_prefix: str = "/v1"
    ) -> asyncio.Event:
        """The next ``count`` matching requests wait until the returned event is set: a request
        kept in flight for exactly as long as the test needs, however slow the machine."""
        release = asyncio.Event()
        self._faults.extend(
            _Fault(held_until=release, method=method, path_prefix=path_prefix) for _ in range(count)
        )
        return release

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    def calls(self, method: str | None = None, path_prefix: str = "/v1") -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and r.path.startswith(path_prefix)
        ]

    def clear_requests(self) -> None:
        self.requests.clear()
        self.started_paths.clear()

    async def wait_for_request(self, path_prefix: str, within_s: float = 5.0) -> None:
        """Return once a request for ``path_prefix`` has arrived (it may still be in flight)."""
        arrived = asyncio.Event()
        self._waiters.append((path_prefix, arrived))
        if any(path.startswith(path_prefix) for path in self.started_paths):
            arrived.set()
        async with asyncio.timeout(within_s):
            await arrived.wait()

    # --- test controls: job progress --------------------------------------------------------

    def advance(self, job_id: str, to: str = "running") -> None:
        """Move a job forward through validating_files -> queued -> running."""
        job = self.jobs[job_id]
        if to not in ORDER:
            raise ValueError(f"advance() goes to {ORDER}, not {to!r}")
        current = job.data["status"]
        if current not in UNFINISHED:
            raise ValueError(f"{job_id} is already {current}")
        for status in ORDER[ORDER.index(current) + 1 : ORDER.index(to) + 1]:
            job.data["status"] = status
            if status == "queued":
                self._event(job, "Files validated, moving job to queued state")
            elif status == "running":
                hyper = job.data["hyperparameters"]
                # Once running, OpenAI reports the numbers it chose for "auto".
                for key, chosen in (("n_epochs", 3), ("batch_size", 1)):
                    if hyper.get(key) in (None, "auto"):
                        hyper[key] = chosen
                if hyper.get("learning_rate_multiplier") in (None, "auto"):
                    hyper["learning_rate_multiplier"] = 1.8
                job.data["estimated_finish"] = int(time.time()) + 600
                self._event(job, "Fine-tuning job started")

    def add_metrics(
        self,
        job_id: str,
        step: int,
        train_loss: float,
        *,
        total_steps: int = 100,
        train_accuracy: float = 0.5,
        valid_loss: float | None = None,
    ) -> str:
        """A "metrics" event like OpenAI's step events; returns its id."""
        job = self.jobs[job_id]
        data = {
            "step": step,
            "train_loss": train_loss,
            "total_steps": total_steps,
            "train_mean_token_accuracy": train_accuracy,
        }
        if valid_loss is not None:
            data["valid_loss"] = valid_loss
        job.metrics.append(dict(data))
        return self._event(
            job,
            f"Step {step}/{total_steps}: training loss={train_loss:.2f}",
            type_="metrics",
            data=data,
        )

    def succeed(
        self,
        job_id: str,
        model: str | None = None,
        *,
        trained_tokens: int = 12_345,
        duration_s: int = 600,
    ) -> str:
        """Finish a job successfully; writes the result CSV file. Returns the model name."""
        job = self.jobs[job_id]
        data = job.data
        suffix = data.get("user_provided_suffix") or ""
        model = model or f"ft:{data['model']}:kobo-test:{suffix}:{secrets.token_hex(4)}"
        data.update(
            status="succeeded",
            fine_tuned_model=model,
            trained_tokens=trained_tokens,
            finished_at=data["created_at"] + duration_s,
            estimated_finish=None,
        )
        result_id = self._store_file(
            "step_metrics.csv", self.result_csv(job_id).encode(), "fine-tune-results"
        )
        if self.result_base64:
            self.file_contents[result_id] = base64.b64encode(self.file_contents[result_id])
        data["result_files"] = [result_id]
        self._add_checkpoints(job, model)
        self._event(job, f"New fine-tuned model created: {model}")
        self._event(job, "The job has successfully completed")
        return model

    def result_csv(self, job_id: str) -> str:
        """The metrics CSV as OpenAI writes it (valid columns empty where not measured)."""
        rows = self.jobs[job_id].metrics or [
            {"step": s, "train_loss": 2.0 / s, "train_mean_token_accuracy": 0.5} for s in (1, 2, 3)
        ]
        lines = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for row in rows:
            valid = row.get("valid_loss")
            lines.append(
                f"{row['step']},{row['train_loss']},{row['train_mean_token_accuracy']},"
                f"{'' if valid is None else valid},{'' if valid is None else 0.5}"
            )
        return "\n".join(lines) + "\n"

    def fail(self, job_id: str, message: str, code: str = "invalid_training_file") -> None:
        job = self.jobs[job_id]
        job.data.update(
            status="failed",
            error={"code": code, "message": message, "param": "training_file"},
            finished_at=int(time.time()),
            estimated_finish=None,
        )
        self._event(job, message, level="error")

    def cancel_on_openai(self, job_id: str) -> None:
        """Someone cancelled the job on OpenAI's dashboard, not through kobo."""
        self._cancel(self.jobs[job_id])

    def pause_on_openai(self, job_id: str) -> None:
        """Someone paused the running job on OpenAI's dashboard (or through the API)."""
        job = self.jobs[job_id]
        if job.data["status"] != "running":
            raise ValueError(f"only a running job can be paused, {job_id} is {job.data['status']}")
        self._pause(job)

    def report_status(self, job_id: str, status: str) -> None:
        """The job reports ``status`` as it is, e.g. one OpenAI adds after kobo was written."""
        self.jobs[job_id].data["status"] = status

    # --- handlers ---------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.started_paths.append(request.path)
        for prefix, arrived in self._waiters:
            if request.path.startswith(prefix):
                arrived.set()
        body = await self._read_body(request)
        fault = next((f for f in self._faults if f.applies_to(request)), None)
        if fault is not None:
            self._faults.remove(fault)
        response: web.StreamResponse
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.held_until is not None:
            await fault.held_until.wait()
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            response = _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        elif fault is not None and fault.status is not None:
            response = self._fault_response(fault.status)
        else:
            request[_BODY] = body
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = _error(404, f"Unknown route {request.path}", "invalid_request_error")
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                body,
                response.status,
                request.headers.get("Authorization"),
            )
        )
        return response

    def _fault_response(self, status: int) -> web.Response:
        if status == 401:
            return _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        if status == 403:
            return _error(403, "You are not allowed to do this.", "invalid_request_error")
        if status == 400:
            return _error(400, "Invalid request (injected by the test).", "invalid_request_error")
        headers = {"retry-after-ms": self.retry_after_ms}
        if status == 429:
            return _error(429, "Rate limit reached.", "requests", "rate_limit_exceeded", headers)
        return _error(status, "The server had an error.", "server_error", None, headers)

    @staticmethod
    async def _read_body(request: web.Request) -> Any:
        if request.content_type == "multipart/form-data":
            fields: dict[str, Any] = {}
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                content = await part.read()  # type: ignore[union-attr]
                if part.filename:  # type: ignore[union-attr]
                    fields[part.name] = {"filename": part.filename, "content": bytes(content)}  # type: ignore[union-attr]
                else:
                    fields[part.name] = bytes(content).decode()  # type: ignore[union-attr]
            return fields
        raw = await request.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    async def _create_file(self, request: web.Request) -> web.Response:
        fields = request[_BODY]
        if not isinstance(fields, dict) or "file" not in fields or "purpose" not in fields:
            return _error(400, "file and purpose are required", "invalid_request_error")
        upload = fields["file"]
        file_id = self._store_file(upload["filename"], upload["content"], fields["purpose"])
        return web.json_response(self.files[file_id])

    async def _retrieve_file(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["file_id"])
        if file is None:
            return _error(404, "No such File object", "invalid_request_error")
        return web.json_response(file)

    async def _delete_file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if self.files.pop(file_id, None) is None:
            return _error(404, "No such File object", "invalid_request_error")
        self.file_contents.pop(file_id, None)
        return web.json_response({"id": file_id, "object": "file", "deleted": True})

    async def _file_content(self, request: web.Request) -> web.Response:
        content = self.file_contents.get(request.match_info["file_id"])
        if content is None:
            return _error(404, "No such File object", "invalid_request_error")
        return web.Response(body=content, content_type="application/octet-stream")

    async def _create_job(self, request: web.Request) -> web.Response:
        if self.fine_tuning_withdrawn:
            return _error(
                403,
                "Fine-tuning is no longer available to your organization.",
                "invalid_request_error",
            )
        body = request[_BODY] or {}
        for name in ("model", "training_file"):
            if not body.get(name):
                return _error(
                    400,
                    f"Missing required parameter: '{name}'.",
                    "invalid_request_error",
                    param=name,
                )
        for name in ("training_file", "validation_file"):
            file_id = body.get(name)
            if file_id is not None and self.files.get(file_id, {}).get("purpose") != "fine-tune":
                return _error(
                    400, f"Invalid file ID: {file_id}", "invalid_request_error", param=name
                )
        suffix = body.get("suffix")
        if suffix is not None and len(suffix) > 64:
            return _error(400, "suffix is too long", "invalid_request_error", param="suffix")
        method = body.get("method") or {"type": "supervised", "supervised": {}}
        hyper = dict(
            (method.get("supervised") or {}).get("hyperparameters")
            or body.get("hyperparameters")
            or {}
        )
        hyper = {
            "batch_size": hyper.get("batch_size", "auto"),
            "learning_rate_multiplier": hyper.get("learning_rate_multiplier", "auto"),
            "n_epochs": hyper.get("n_epochs", "auto"),
        }
        job_id = f"ftjob-{secrets.token_hex(12)}"
        data = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": int(time.time()),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": hyper,
            "model": body["model"],
            "organization_id": self.organization_id,
            "result_files": [],
            "seed": body.get("seed") if body.get("seed") is not None else 42,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "estimated_finish": None,
            "integrations": [],
            "metadata": body.get("metadata"),
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
            "user_provided_suffix": suffix,
        }
        job = _Job(data)
        self.jobs[job_id] = job
        self._event(job, f"Created fine-tuning job: {job_id}")
        self._event(job, f"Validating training file: {body['training_file']}")
        return web.json_response(data)

    async def _list_jobs(self, request: web.Request) -> web.Response:
        newest_first = [job.data for job in reversed(self.jobs.values())]
        return _page(newest_first, request)

    async def _retrieve_job(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return _error(404, "No such fine-tuning job", "invalid_request_error")
        return web.json_response(job.data)

    async def _cancel_job(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return _error(404, "No such fine-tuning job", "invalid_request_error")
        if job.data["status"] not in UNFINISHED:
            return _error(
                400, f"Job has already completed: {job.data['status']}", "invalid_request_error"
            )
        self._cancel(job)
        return web.json_response(job.data)

    async def _pause_job(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return _error(404, "No such fine-tuning job", "invalid_request_error")
        if job.data["status"] != "running":
            return _error(400, f"Job is not running: {job.data['status']}", "invalid_request_error")
        self._pause(job)
        return web.json_response(job.data)

    async def _resume_job(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return _error(404, "No such fine-tuning job", "invalid_request_error")
        if job.data["status"] != "paused":
            return _error(400, f"Job is not paused: {job.data['status']}", "invalid_request_error")
        job.data["status"] = "running"
        self._event(job, "Fine-tuning job resumed")
        return web.json_response(job.data)

    async def _list_events(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return _error(404, "No such fine-tuning job", "invalid_request_error")
        return _page(list(reversed(job.events)), request)

    async def _list_checkpoints(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return _error(404, "No such fine-tuning job", "invalid_request_error")
        return _page(list(reversed(job.checkpoints)), request)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = request[_BODY]
        if not isinstance(body, dict) or not body.get("model"):
            return _error(400, "you must provide a model parameter", "invalid_request_error")
        model = body["model"]
        if self.chat_models is not None and model not in self.chat_models:
            return _error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(
                400, "[] is too short - 'messages'", "invalid_request_error", param="messages"
            )
        reply = self.chat_reply(body) if callable(self.chat_reply) else self.chat_reply
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if limit is not None and len(reply) > limit:
            reply, finish = reply[:limit], "length"
        usage = {
            "prompt_tokens": sum(len(json.dumps(m, ensure_ascii=False)) for m in messages) // 4,
            "completion_tokens": len(reply),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_kobo_test",
        }
        if not body.get("stream"):
            return web.json_response(
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply, "refusal": None},
                            "logprobs": None,
                            "finish_reason": finish,
                        }
                    ],
                    "usage": usage,
                    "service_tier": "default",
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        pieces = [{"role": "assistant", "content": ""}]
        pieces += [{"content": reply[i : i + 3]} for i in range(0, len(reply), 3)]
        for delta in pieces:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
            await _sse(response, {**base, "object": "chat.completion.chunk", "choices": [choice]})
        done = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}
        await _sse(response, {**base, "object": "chat.completion.chunk", "choices": [done]})
        if (body.get("stream_options") or {}).get("include_usage"):
            await _sse(
                response, {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            )
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    # --- helpers ----------------------------------------------------------------------------

    def _store_file(self, filename: str, content: bytes, purpose: str) -> str:
        file_id = f"file-{secrets.token_hex(12)}"
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }
        self.file_contents[file_id] = content
        return file_id

    def _event(
        self,
        job: _Job,
        message: str,
        *,
        level: str = "info",
        type_: str = "message",
        data: dict[str, Any] | None = None,
    ) -> str:
        event_id = f"ftevent-{next(self._ids):08d}"
        job.events.append(
            {
                "id": event_id,
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "data": data or {},
                "type": type_,
            }
        )
        return event_id

    def _add_checkpoints(self, job: _Job, model: str) -> None:
        """Like OpenAI: a checkpoint at the end of each epoch, with the metrics at that step
        (validation ones only with a validation file); only the last three epochs' are kept."""
        hyper = job.data["hyperparameters"]
        epochs = hyper["n_epochs"] if isinstance(hyper.get("n_epochs"), int) else 3
        rows = job.metrics or [
            {"step": s, "train_loss": 2.0 / s, "train_mean_token_accuracy": 0.5}
            for s in range(1, epochs + 1)
        ]
        last_step = rows[-1]["step"]
        with_validation = job.data.get("validation_file") is not None
        for epoch in range(max(1, epochs - 2), epochs + 1):
            step = max(1, round(last_step * epoch / epochs))
            row = next((r for r in reversed(rows) if r["step"] <= step), rows[0])
            metrics: dict[str, float] = {
                "step": float(step),
                "train_loss": row["train_loss"],
                "train_mean_token_accuracy": row["train_mean_token_accuracy"],
            }
            if with_validation:
                valid = row.get("valid_loss", row["train_loss"] * 1.1)
                metrics.update(
                    valid_loss=valid,
                    valid_mean_token_accuracy=0.75,
                    full_valid_loss=valid * 1.05,
                    full_valid_mean_token_accuracy=0.7,
                )
            job.checkpoints.append(
                {
                    "id": f"ftckpt-{next(self._ids)}",
                    "object": "fine_tuning.job.checkpoint",
                    "created_at": int(time.time()),
                    "fine_tuned_model_checkpoint": f"{model}:ckpt-step-{step}",
                    "fine_tuning_job_id": job.data["id"],
                    "step_number": step,
                    "metrics": metrics,
                }
            )

    def _pause(self, job: _Job) -> None:
        job.data.update(status="paused", estimated_finish=None)
        self._event(job, "Fine-tuning job paused")

    def _cancel(self, job: _Job) -> None:
        job.data.update(status="cancelled", finished_at=int(time.time()), estimated_finish=None)
        self._event(job, "Fine-tuning job cancelled")


def _echo(body: dict[str, Any]) -> str:
    """The default chat answer: which model answered what (the last user message)."""
    said = next(
        (m.get("content") for m in reversed(body["messages"]) if m.get("role") == "user"), ""
    )
    if isinstance(said, list):
        said = " ".join(p.get("text", "") for p in said if isinstance(p, dict))
    return f"{body['model']} heard: {said}"


async def _sse(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    await response.write(b"data: " + json.dumps(payload).encode() + b"\n\n")


def _page(items: list[dict[str, Any]], request: web.Request) -> web.Response:
    after = request.query.get("after")
    limit = int(request.query.get("limit", "20"))
    start = 0
    if after is not None:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chosen = items[start : start + limit]
    return web.json_response(
        {"object": "list", "data": chosen, "has_more": start + limit < len(items)}
    )


def _error(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    param: str | None = None,
) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status=status,
        headers=headers,
    )

"""A fake Hugging Face Hub: the few endpoints huggingface_hub and transformers use to download
a model, serving the files of a folder the test built, on 127.0.0.1.

Like the real Hub: ``HEAD``/``GET /{repo}/resolve/{revision}/{file}`` answer with the commit
(``X-Repo-Commit``), an ``ETag`` and the size, a file the repository lacks is a 404 with
``X-Error-Code: EntryNotFound`` (transformers then does without it), an unknown repository a 404
with ``RepoNotFound``; ``/api/models/{repo}`` describes the repository, and
``/api/models/{repo}/tree/{revision}`` lists its files (a folder it lacks is an ``EntryNotFound``).

``hold(file)`` makes the download of that file stop half-way until ``release()``: a test can
look at what the bot shows while a download is under way without racing against it.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import transformers.utils.hub as transformers_hub
from aiohttp import web
from huggingface_hub import constants

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class FakeHub:
    repo_id: str
    folder: Path
    requests: list[str] = field(default_factory=list)
    _held: str | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _halfway: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    url: str = ""

    async def __aenter__(self) -> FakeHub:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._release.set()
        assert self._runner is not None
        await self._runner.cleanup()

    def use_in(self, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
        """Point this process's huggingface_hub at the fake, with an empty cache: what
        HF_ENDPOINT and HF_HUB_CACHE do, which huggingface_hub reads once, at import."""
        monkeypatch.setattr(constants, "ENDPOINT", self.url)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            self.url + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        # transformers keeps one HfApi, made with the endpoint of the time: the next one is
        # made for this fake (else it would ask an earlier test's, long gone).
        monkeypatch.setattr(transformers_hub, "_hf_api", None)

    def hold(self, filename: str) -> None:
        self._held = filename

    async def halfway(self) -> None:
        """Wait until the held file has been half sent."""
        await self._halfway.wait()

    def release(self) -> None:
        self._release.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append(f"{request.method} {path}")
        api = f"/api/models/{self.repo_id}"
        if path in (api, f"{api}/revision/main"):
            return web.json_response(self._info())
        if path.startswith(f"{api}/tree/"):
            _revision, _, folder = path[len(f"{api}/tree/") :].partition("/")
            if folder:  # the model has files only, no folders
                return _not_found("EntryNotFound", "Entry not found")
            return web.json_response(self._tree())
        prefix = f"/{self.repo_id}/resolve/"
        if not path.startswith(prefix):
            return _not_found("RepoNotFound", "Repository not found")
        _revision, _, filename = path[len(prefix) :].partition("/")
        file = self.folder / filename
        if not filename or not file.is_file() or ".." in filename:
            return _not_found("EntryNotFound", "Entry not found")
        data = file.read_bytes()
        headers = {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "Content-Length": str(len(data)),
            "Content-Type": "application/octet-stream",
        }
        if request.method == "HEAD":
            return web.Response(headers=headers)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        if filename == self._held:
            half = len(data) // 2
            await response.write(data[:half])
            self._halfway.set()
            await self._release.wait()
            data = data[half:]
        await response.write(data)
        await response.write_eof()
        return response

    def _tree(self) -> list[dict[str, object]]:
        return [
            {
                "type": "file",
                "path": file.name,
                "size": file.stat().st_size,
                "oid": hashlib.sha1(file.read_bytes()).hexdigest(),
            }
            for file in sorted(self.folder.iterdir())
            if file.is_file()
        ]

    def _info(self) -> dict[str, object]:
        files = sorted(p.name for p in self.folder.iterdir() if p.is_file())
        return {
            "id": self.repo_id,
            "modelId": self.repo_id,
            "sha": COMMIT,
            "private": False,
            "siblings": [{"rfilename": name} for name in files],
        }


def _not_found(code: str, message: str) -> web.Response:
    return web.json_response(
        {"error": message}, status=404, headers={"X-Error-Code": code, "X-Error-Message": message}
    )

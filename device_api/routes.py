"""URL table of the device API.

Every request target answers in JSON: a known path with another method gets a 405, anything else
a 404 from the catch-all resources below, and an ``Expect`` header we do not support a 417 (see
errors.py for why this is done with routes instead of a middleware).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from config.settings import DeviceApiSettings
from device_api import views
from device_api.auth import bearer_token_required
from device_api.chat import GatewayEndpoints, openai_errors, openai_not_found
from device_api.errors import (
    expect_handler,
    json_errors,
    method_not_allowed,
    not_found,
    openai_method_not_allowed,
)

READ_METHODS = ("GET", "HEAD")


def setup_routes(
    app: web.Application,
    settings: DeviceApiSettings,
    firmware: views.FirmwareEndpoint,
    chat: GatewayEndpoints,
) -> None:
    # /get_text guards itself: no wrapper on the hot path.
    legacy = firmware.get_text if settings.legacy_endpoint_enabled else views.legacy_disabled
    _read_only(app, "/get_text", legacy)
    _read_only(app, "/healthz", json_errors(views.healthz))

    token = settings.device_api_token
    guard = bearer_token_required(token) if token else _open
    _read_only(app, "/api/v1/stacks", json_errors(guard(views.list_stacks)))
    _read_only(app, "/api/v1/stacks/{stack_id}", json_errors(guard(views.get_stack)))
    # Without the token, not even which /api/v1 paths exist is told.
    _everything_under(app, "/api/v1/", guard(not_found))

    # The robots' chat gateway (OpenAI's paths and error shapes; each robot has its own key).
    _only(
        app,
        "/v1/chat/completions",
        ("POST",),
        openai_errors(chat.chat_completions),
        wrong_method=openai_method_not_allowed,
    )
    _only(
        app,
        "/v1/models",
        READ_METHODS,
        openai_errors(chat.models),
        wrong_method=openai_method_not_allowed,
    )
    _everything_under(app, "/v1/", openai_not_found)
    _everything_under(app, "", not_found)


def _read_only(app: web.Application, path: str, handler: Handler) -> None:
    _only(app, path, READ_METHODS, handler)


def _only(
    app: web.Application,
    path: str,
    methods: tuple[str, ...],
    handler: Handler,
    *,
    wrong_method: Callable[[tuple[str, ...]], Handler] = method_not_allowed,
) -> None:
    resource = app.router.add_resource(path)
    for method in methods:
        resource.add_route(method, handler, expect_handler=expect_handler)
    resource.add_route("*", wrong_method(methods), expect_handler=expect_handler)


def _everything_under(app: web.Application, prefix: str, handler: Handler) -> None:
    resource = AnyTargetResource(prefix)
    app.router.register_resource(resource)
    resource.add_route("*", handler, expect_handler=expect_handler)


def _open(handler: Handler) -> Handler:
    return handler


class AnyTargetResource(web.Resource):
    """Every request target that starts with ``prefix`` (``""``: every one at all).

    aiohttp's own ``/{path:.*}`` misses some, which then get its plain-text 404: ``.`` stops at
    a newline (``/%0A``), and targets such as ``*`` (``OPTIONS *``) or ``host:port``
    (``CONNECT``) do not start with ``/``. Only unknown paths reach this resource: the router
    tries the longest matching path prefix first.
    """

    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    @property
    def canonical(self) -> str:
        return f"{self._prefix.rstrip('/')}/{{path}}"

    def _match(self, path: str) -> dict[str, str] | None:
        return {} if path.startswith(self._prefix) else None

    def raw_match(self, path: str) -> bool:
        return path == self.canonical

    def get_info(self) -> dict[str, Any]:
        return {"prefix": self._prefix}

    def url_for(self, **parts: str) -> URL:
        raise NotImplementedError("a catch-all has no URL of its own")

    def add_prefix(self, prefix: str) -> None:
        self._prefix = prefix + self._prefix

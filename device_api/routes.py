"""URL table of the device API.

Every path answers every method: a known path with another method gets a JSON 405, and a
catch-all route gives unknown paths a JSON 404 (see errors.py for why this is done with routes
instead of a middleware).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from config.settings import DeviceApiSettings
from device_api import views
from device_api.auth import bearer_token_required
from device_api.errors import json_errors, method_not_allowed, not_found

READ_METHODS = ("GET", "HEAD")


def setup_routes(app: web.Application, settings: DeviceApiSettings) -> None:
    # /get_text guards itself: no wrapper on the hot path.
    legacy = views.get_text if settings.legacy_endpoint_enabled else views.legacy_disabled
    _read_only(app, "/get_text", legacy)
    _read_only(app, "/healthz", json_errors(views.healthz))

    token = settings.device_api_token
    guard = bearer_token_required(token) if token else _open
    _read_only(app, "/api/v1/stacks", json_errors(guard(views.list_stacks)))
    _read_only(app, "/api/v1/stacks/{stack_id}", json_errors(guard(views.get_stack)))
    # Without the token, not even which /api/v1 paths exist is told.
    app.router.add_route("*", "/api/v1/{path:.*}", guard(not_found))
    app.router.add_route("*", "/{path:.*}", not_found)


def _read_only(app: web.Application, path: str, handler: Handler) -> None:
    resource = app.router.add_resource(path)
    for method in READ_METHODS:
        resource.add_route(method, handler)
    resource.add_route("*", method_not_allowed(READ_METHODS))


def _open(handler: Handler) -> Handler:
    return handler

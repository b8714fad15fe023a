"""URL table of the device API."""

from __future__ import annotations

from aiohttp import web

from device_api import views


def setup_routes(app: web.Application, *, legacy_endpoint_enabled: bool) -> None:
    if legacy_endpoint_enabled:
        app.router.add_get("/get_text", views.get_text, name="get_text")
    else:
        app.router.add_get("/get_text", views.legacy_endpoint_disabled, name="get_text")
    app.router.add_get("/healthz", views.healthz, name="healthz")


def setup_api_v1_routes(api: web.Application) -> None:
    api.router.add_get("/stacks", views.list_stacks, name="stacks")
    api.router.add_get("/stacks/{stack_id}", views.get_stack, name="stack")

"""Typed keys for what the device API keeps on its ``web.Application``."""

from __future__ import annotations

from aiohttp import web

from config.settings import DeviceApiSettings
from storage.database import Database
from storage.last_seen import LastSeenRecorder

SETTINGS = web.AppKey("settings", DeviceApiSettings)
DATABASE = web.AppKey("database", Database)
RECORDER = web.AppKey("last_seen_recorder", LastSeenRecorder)

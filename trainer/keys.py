"""Typed keys for what the trainer's API keeps on its ``web.Application``."""

from __future__ import annotations

from aiohttp import web

from config.settings import TrainerSettings
from trainer.runner import JobRunner

SETTINGS = web.AppKey("trainer_settings", TrainerSettings)
RUNNER = web.AppKey("trainer_runner", JobRunner)

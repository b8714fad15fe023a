"""Typed settings read from the environment and ``.env``."""

from config.settings import (
    AugmentSettings,
    DatasetStoreSettings,
    DeviceApiSettings,
    Settings,
    load_settings,
)

__all__ = [
    "AugmentSettings",
    "DatasetStoreSettings",
    "DeviceApiSettings",
    "Settings",
    "load_settings",
]

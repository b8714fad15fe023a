"""Typed settings read from the environment and ``.env``."""

from config.settings import AugmentSettings, DeviceApiSettings, Settings, load_settings

__all__ = ["AugmentSettings", "DeviceApiSettings", "Settings", "load_settings"]

"""Choosing Japanese or English from Discord's locale, the LANGUAGE setting and the environment."""

from __future__ import annotations

import pytest

from i18n import choose_language, language_from_discord, language_from_env


@pytest.mark.parametrize(
    ("discord_locale", "language"),
    [("ja", "ja"), ("en-US", "en"), ("en-GB", "en"), ("fr", "en"), ("zh-TW", "en"), (None, "en")],
)
def test_discord_locale_japanese_gets_japanese_and_every_other_english(discord_locale, language):
    assert language_from_discord(discord_locale) == language


@pytest.mark.parametrize(
    ("setting", "discord_locale", "language"),
    [
        (None, "ja", "ja"),
        (None, "en-US", "en"),
        ("ja", "en-US", "ja"),
        ("en", "ja", "en"),
        ("ja", None, "ja"),
    ],
)
def test_the_language_setting_overrides_discord(setting, discord_locale, language):
    assert choose_language(setting, discord_locale) == language


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "en"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "ja"}, "ja"),
        ({"LANG": "ja_JP.eucJP"}, "ja"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANGUAGE": "ja:en"}, "ja"),
        ({"LANGUAGE": "ja:en", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LANGUAGE": "fr:ja", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LANGUAGE": "en", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "ja_JP.UTF-8"}, "ja"),
        # gettext ignores LANGUAGE in the C locale: scripts set LC_ALL=C for fixed output.
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"LC_ALL": "C", "LANGUAGE": "ja"}, "en"),
        ({"LANG": "POSIX", "LANGUAGE": "ja"}, "en"),
    ],
)
def test_the_command_line_follows_the_environment_like_gettext(environ, language):
    assert language_from_env(environ) == language

"""Fixtures for the cogs' end-to-end tests."""

from __future__ import annotations

import pytest

from tests.conftest import DISCORD_LOCALES


@pytest.fixture(params=["ja", "en"])
def language(request, workshop):
    """The volunteer's and the server's language; set before kobo connects, as Discord reports
    the server's then."""
    workshop.guild.locale = DISCORD_LOCALES[request.param]
    return request.param

"""GUILD_ID: the server(s) kobo serves, one id or several separated by commas."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config import Settings


def guild_ids(monkeypatch: pytest.MonkeyPatch, value: str) -> tuple[int, ...] | None:
    monkeypatch.setenv("GUILD_ID", value)
    return Settings(_env_file=None, discord_token="abc").guild_id


def test_one_or_several_comma_separated_server_ids(monkeypatch):
    assert guild_ids(monkeypatch, "1230000000000000001") == (1230000000000000001,)
    assert guild_ids(monkeypatch, " 11, 22 ,33, ") == (11, 22, 33)


def test_a_blank_guild_id_is_unset(monkeypatch):
    assert guild_ids(monkeypatch, "  ") is None


def test_a_bad_id_is_named(monkeypatch):
    with pytest.raises(ValidationError, match="'workshop' is not a server id"):
        guild_ids(monkeypatch, "11,workshop")

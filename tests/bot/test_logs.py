from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from bot.logs import configure_logging


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_secrets_never_reach_the_log(capsys, restore_root_logger):
    token = "MTIzNDU2.discord-token-value"
    configure_logging("INFO", [SecretStr(token), None])
    log = logging.getLogger("kobo.test")
    log.info("connecting with %s", token)
    try:
        raise RuntimeError(f"gateway refused {token}")
    except RuntimeError:
        log.exception("login failed")
    err = capsys.readouterr().err
    assert token not in err
    assert err.count("[redacted]") == 2
    assert "RuntimeError: gateway refused [redacted]" in err

from __future__ import annotations

import logging

from pydantic import SecretStr

from bot.logs import configure_logging


def test_secrets_never_reach_the_log(capsys):
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
    logging.getLogger().handlers.clear()

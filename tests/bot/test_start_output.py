"""What a real ``python -m bot`` start prints: nothing that sends staff after things kobo does
not need (discord.py's voice warnings: kobo has no voice)."""

from __future__ import annotations

import asyncio
import logging
import signal

import pytest

from bot.logs import DropVoiceWarnings, configure_logging
from tests.bot.kobo_process import start_kobo, wait_until_serving
from tests.ceilings import PROCESS_SECONDS
from tests.fakes.discord import FakeDiscord


async def test_a_start_prints_no_voice_warnings(tmp_path):
    async with FakeDiscord() as fake:
        process, port = await start_kobo(fake, tmp_path)
        await wait_until_serving(process, port, fake)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    log = err.decode()
    assert process.returncode == 0, log
    assert "device API on http://127.0.0.1" in log and "trainer listening on" in log
    assert "voice will NOT be supported" not in log, log
    assert "PyNaCl" not in log and "davey" not in log


@pytest.fixture
def restore_logging():
    root, client = logging.getLogger(), logging.getLogger("discord.client")
    handlers, level, filters = root.handlers[:], root.level, client.filters[:]
    yield
    root.handlers[:], root.level, client.filters[:] = handlers, level, filters


def test_only_the_voice_warnings_are_dropped(capsys, restore_logging):
    configure_logging("INFO")
    configure_logging("INFO")  # configured twice (tests, restarts): still one filter
    client = logging.getLogger("discord.client")
    client.warning("PyNaCl is not installed, voice will NOT be supported")
    client.warning("davey is not installed, voice will NOT be supported")
    client.warning("Shard ID %s has stopped responding to the gateway.", 0)
    logging.getLogger("kobo.test").warning("PyNaCl is not installed, voice will NOT be supported")
    err = capsys.readouterr().err
    assert "Shard ID 0 has stopped responding" in err
    assert err.count("voice will NOT be supported") == 1 and "kobo.test" in err
    assert sum(isinstance(f, DropVoiceWarnings) for f in client.filters) == 1

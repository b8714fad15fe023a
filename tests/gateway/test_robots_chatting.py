"""While the embedded engine answers a robot, the gateway keeps DATA_DIR/robots-chatting fresh:
a training on the same machine then leaves the engine its threads (trainer/cpu_share.py)."""

from __future__ import annotations

import os
from pathlib import Path

from config.settings import DeviceApiSettings
from gateway.chatting import chatting_file
from gateway.service import Gateway
from storage.database import Database
from trainer.cpu_share import ThreadBudget

HELLO = {"messages": [{"role": "user", "content": "hello robot"}], "stream": True}


def stale(path: Path) -> None:
    os.utime(path, (1_000_000, 1_000_000))


async def test_a_chat_in_flight_tells_the_trainer_that_robots_are_chatting(
    tmp_path: Path, db: Database, local_fine_tunes
):
    data_dir = tmp_path / "data"
    local_fine_tunes.install(data_dir)
    settings = DeviceApiSettings(
        _env_file=None,
        data_dir=data_dir,
        database_path=tmp_path / "kobo.sqlite3",
        gateway_max_answer_tokens=8,
        local_engine_slots=1,
        local_engine_context_tokens=512,
    )
    signal = chatting_file(data_dir)
    trainer_view = ThreadBudget(4, signal)
    gateway = Gateway(settings, db, settings.default_model)
    try:
        assert not trainer_view.robots_chatting()  # nobody has talked yet
        chunks = 0
        async for _ in gateway.stream(local_fine_tunes.first, HELLO):
            chunks += 1
            if chunks == 1:
                assert trainer_view.robots_chatting()  # touched as the chat began
                stale(signal)
        assert chunks > 1
        # The end of the answer starts the quiet time the trainer waits out.
        assert trainer_view.robots_chatting()
        stale(signal)
        answer = await gateway.answer(local_fine_tunes.first, {**HELLO, "stream": False})
        assert answer.text is not None and trainer_view.robots_chatting()
    finally:
        await gateway.close()

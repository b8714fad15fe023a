"""What ``KoboApp.start`` tidies before the bot takes commands."""

from __future__ import annotations

import logging

from bot.app import KoboApp


async def test_files_a_crash_left_in_the_datasets_folder_are_removed_at_start_up(
    fake_discord, kobo_settings, caplog
):
    folder = kobo_settings.data_dir / "datasets"
    folder.mkdir(parents=True)
    (folder / "robot-0a1b2c3d.jsonl").write_bytes(b"{}\n")  # no dataset row points at it
    (folder / ".robot-0a1b2c3d.jsonl.89abcdef.tmp").write_bytes(b"{")
    (folder / "notes.txt").write_bytes(b"the staff's own file")
    caplog.set_level(logging.WARNING, logger="storage.datasets")

    with fake_discord.patched_discord():
        async with KoboApp(kobo_settings, guild_ready_timeout=0.05):
            assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert "removed robot-0a1b2c3d.jsonl from" in caplog.text

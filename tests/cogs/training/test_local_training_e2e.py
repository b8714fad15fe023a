"""/train backend:local through the fake Discord: kobo's own trainer, embedded in the bot, trains
a tiny model in its own process; the channel hears about it as about an OpenAI fine-tune."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.quantities import byte_size, duration
from gateway.export import base_gguf_folder
from i18n import text
from tests.cogs.training.test_training_e2e import (
    button,
    chat_jsonl,
    kobo_process,
    start_training,
)
from tests.conftest import DISCORD_LOCALES, following
from tests.fakes.discord import FakeDiscord
from tests.trainer.tiny_models import base_models_setting, build_tiny_model

TINY = "tiny"
# A training of a few steps: the worker process starting (torch, transformers) is most of it.
TRAINING_TIMEOUT = 240


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("base-models") / TINY)


def local_settings(settings, tiny_model: Path, **more):
    """Local training on, the embedded trainer on any free port, the tiny model as a base."""
    return settings.model_copy(
        update={
            "local_training": True,
            "trainer_port": 0,
            "local_base_models": base_models_setting(TINY, tiny_model),
            "finetune_poll_seconds": 0.2,
            "finetune_progress_seconds": 0,
            **more,
        }
    )


@pytest.fixture
def kobo_settings(kobo_settings, tiny_model):
    return local_settings(kobo_settings, tiny_model)


@pytest.fixture
def japanese_server(workshop):
    """The server's preferred language, set before kobo connects (as Discord reports it then)."""
    workshop.guild.locale = DISCORD_LOCALES["ja"]


async def preview_of(fake: FakeDiscord, workshop, options: dict, locale: str = "en-US"):
    interaction = await fake.invoke("train", options, user=workshop.staff, locale=locale)
    return await interaction.wait_response()


def local_options(fake: FakeDiscord, **more) -> dict:
    return {
        "backend": "local",
        "base_model": TINY,
        "file": fake.attachment("robot.jsonl", chat_jsonl(10)),
        "epochs": 1,
        "suffix": "robo",
        **more,
    }


async def test_train_without_a_backend_trains_here_even_with_an_openai_key(
    fake_discord, workshop, kobo_settings, fake_openai
):
    """Local first: OpenAI is used only when asked for (backend:openai)."""
    async with kobo_process(fake_discord, following(kobo_settings, fake_openai)):
        choices = await fake_discord.autocomplete(
            "train", {"base_model": ""}, focused="base_model", user=workshop.staff
        )
        assert TINY in {c["value"] for c in choices}
        assert not any(c["value"].startswith("gpt-") for c in choices)
        options = local_options(fake_discord)
        del options["backend"]
        preview = await preview_of(fake_discord, workshop, options)
        assert text("training.field.estimated_time", "en") in preview.text
        assert "$" not in preview.text
    assert not fake_openai.requests


async def test_the_local_preview_shows_time_memory_and_disk_not_dollars(
    kobo, fake_discord, workshop, language
):
    locale = DISCORD_LOCALES[language]
    choices = await fake_discord.autocomplete(
        "train", {"backend": "local", "base_model": ""}, focused="base_model", user=workshop.staff
    )
    # The trainer's base models (its defaults and the tiny one), not OpenAI's.
    assert {"lfm2-350m", TINY} <= {c["value"] for c in choices}
    assert not any(c["value"].startswith("gpt-") for c in choices)

    preview = await preview_of(fake_discord, workshop, local_options(fake_discord), locale)
    assert preview.ephemeral
    # The time on this machine, from the trainer's (reference) throughput; no dollars.
    assert text("training.field.estimated_time", language) in preview.text
    assert text("training.preview.throughput_reference", language) in preview.text
    assert text("training.field.needs", language) in preview.text and "`cpu`" in preview.text
    assert text("training.field.estimated_cost", language) not in preview.text
    assert "$" not in preview.text
    assert text("training.button.start", language) in [b["label"] for b in preview.buttons]
    # No robot has been answered from a tiny fine-tune yet: its base's GGUF is still to come.
    first_use = text(
        "training.preview.first_use",
        language,
        size=byte_size(60_000 * 34 // 32),
        what=text("training.preview.first_use_export", language),
    )
    assert first_use in preview.text

    source = str(kobo.trainer.runner.base_models[TINY].source)
    exported = base_gguf_folder(Path(kobo.settings.data_dir) / "models", TINY, source)
    exported.mkdir(parents=True)
    (exported / "model-q8_0.gguf").write_bytes(b"GGUF")
    again = await preview_of(fake_discord, workshop, local_options(fake_discord), locale)
    assert text("training.field.needs", language) in again.text
    assert first_use not in again.text


async def test_local_training_from_start_to_assign(japanese_server, kobo, fake_discord, workshop):
    language, locale = "ja", DISCORD_LOCALES["ja"]
    preview = await preview_of(fake_discord, workshop, local_options(fake_discord), locale)
    start = button(preview, text("training.button.start", language))
    pressed = await fake_discord.press_button(preview, start, user=workshop.staff, locale=locale)
    announcement = await pressed.wait_for(
        lambda i: next((m for m in i.followups if "🚀" in m.content), None)
    )
    job_id = announcement.content.split("`")[1]
    assert announcement.content == text(
        "training.notice.started_local",
        language,
        who=workshop.staff.mention,
        job=f"`{job_id}`",
        model=f"`{TINY}`",
        source="**robot.jsonl**",
        time=text("training.estimate.about", language, time=duration(1, language)),
    )

    running = text("training.notice.running", language, job=f"`{job_id}`", model=f"`{TINY}`")
    await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content == running, timeout=TRAINING_TIMEOUT
    )
    done = await fake_discord.wait_for_channel_message(
        workshop.channel,
        lambda m: "✅" in m.content and job_id in m.content,
        timeout=TRAINING_TIMEOUT,
    )
    model = f"ft:{TINY}:kobo:robo:{job_id[6:14]}"
    assert done.content == text(
        "training.notice.succeeded",
        language,
        who=f"<@{workshop.staff.id}>",
        job=f"`{job_id}`",
        model=f"`{model}`",
    )
    assert done.file("training-loss.png").data.startswith(b"\x89PNG")
    assert (Path(kobo.settings.data_dir) / "models" / job_id / "kobo-model.json").is_file()

    choices = await fake_discord.autocomplete(
        "assign", {"stack_id": 4, "model": "robo"}, focused="model", user=workshop.staff
    )
    assert [c["value"] for c in choices] == [model]

    shown = await (
        await fake_discord.invoke("job", {"job_id": job_id}, user=workshop.child, locale=locale)
    ).wait_response()
    assert text("training.job.lora_rank", language, rank=16) in shown.text
    assert text("training.field.device", language) in shown.text and "`cpu`" in shown.text
    assert text("training.field.estimated_time", language) in shown.text

    texts = [m.content for m in fake_discord.channel_messages(workshop.channel)]
    assert sum(job_id in t and "✅" in t for t in texts) == 1


async def wait_until(condition, seconds: float) -> None:
    """Until ``condition()`` holds, checking every 0.1 s for at most ``seconds``."""
    for _ in range(int(seconds * 10)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # Reaped by the trainer or not, a dead process is a zombie at most.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


async def test_cancel_kills_the_training_process(kobo, fake_discord, workshop):
    preview = await preview_of(fake_discord, workshop, local_options(fake_discord, epochs=50))
    pressed = await fake_discord.press_button(
        preview, button(preview, "Start"), user=workshop.staff
    )
    announcement = await pressed.wait_for(
        lambda i: next((m for m in i.followups if "🚀" in m.content), None)
    )
    job_id = announcement.content.split("`")[1]
    runner = kobo.trainer.runner

    async def training() -> bool:
        return await runner.running_pid(job_id) is not None

    await wait_until(training, TRAINING_TIMEOUT)
    pid = await runner.running_pid(job_id)
    cancelled = await (
        await fake_discord.invoke("cancel", {"job_id": job_id}, user=workshop.staff)
    ).wait_response()
    assert cancelled.content == text("training.cancel_asked_local", "en", job=f"`{job_id}`")
    notice = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "was cancelled" in m.content
    )
    assert notice.content == text(
        "training.notice.cancelled_by", "en", job=f"`{job_id}`", who=workshop.staff.mention
    )

    async def gone() -> bool:
        return not process_alive(pid)

    await wait_until(gone, 10)
    assert (await kobo.services.finetune.get_job(job_id)).job.status == "cancelled"


async def test_a_broken_base_model_path_is_named_in_the_channel(
    kobo_settings, tiny_model, fake_discord, workshop, tmp_path
):
    missing = tmp_path / "no-such-model"
    settings = local_settings(
        kobo_settings, tiny_model, local_base_models=base_models_setting("broken", missing)
    )
    async with kobo_process(fake_discord, settings):
        preview = await preview_of(
            fake_discord, workshop, local_options(fake_discord, base_model="broken")
        )
        pressed = await fake_discord.press_button(
            preview, button(preview, "Start"), user=workshop.staff
        )
        await pressed.wait_for(lambda i: next((m for m in i.followups if "🚀" in m.content), None))
        failed = await fake_discord.wait_for_channel_message(
            workshop.channel, lambda m: "❌" in m.content, timeout=TRAINING_TIMEOUT
        )
    assert str(missing) in failed.content, failed.content


async def test_a_rejected_openai_key_stops_only_openai_jobs(
    kobo_settings, fake_openai, fake_discord, workshop, caplog
):
    settings = following(kobo_settings, fake_openai)  # both backends on
    async with kobo_process(fake_discord, settings):
        local_job = await start_training(fake_discord, workshop, local_options(fake_discord))
        # Without backend:, /train uses OpenAI, since a key is set.
        openai_job = await start_training(fake_discord, workshop)
        assert openai_job in fake_openai.jobs and local_job not in fake_openai.jobs
        fake_openai.fail_next(1, 401)
        told = await fake_discord.wait_for_channel_message(
            workshop.channel, lambda m: "⚠️" in m.content
        )
        assert openai_job in told.content and "OpenAI rejected the API key" in told.content
        done = await fake_discord.wait_for_channel_message(
            workshop.channel,
            lambda m: "✅" in m.content and local_job in m.content,
            timeout=TRAINING_TIMEOUT,
        )
        assert f"ft:{TINY}:kobo:robo:" in done.content
    assert "OpenAI rejected the API key" in caplog.text
    caplog.clear()  # the one error log this test expects

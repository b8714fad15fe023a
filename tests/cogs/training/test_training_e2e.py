"""/train to the channel's completion notice, through the fake Discord and the fake OpenAI."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import pytest

from bot.app import KoboApp
from curation.records import records_from_jsonl
from tests.conftest import following, show_every_command_to_everyone
from tests.fakes.discord import FakeDiscord

BASE = "gpt-4o-mini-2024-07-18"
MODEL = "ft:gpt-4o-mini-2024-07-18:acme:kobo:AbC123"


def chat_jsonl(n: int = 12) -> bytes:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "あなたはスタックチャンです。"},
                    {"role": "user", "content": f"{i}たす{i}は？"},
                    {"role": "assistant", "content": f"{2 * i}だよ！"},
                ]
            },
            ensure_ascii=False,
        )
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def kobo_settings(kobo_settings, fake_openai):
    return following(kobo_settings, fake_openai)


def button(message, label: str) -> str:
    for candidate in message.buttons:
        if candidate.get("label") == label:
            return candidate["custom_id"]
    raise AssertionError(f"no {label!r} button on {message.text!r}")


async def start_training(fake: FakeDiscord, workshop, options: dict | None = None) -> str:
    """Staff run /train and press Start; returns the new job's id."""
    options = options or {
        "backend": "openai",
        "base_model": BASE,
        "file": fake.attachment("robot.jsonl", chat_jsonl()),
        "suffix": "kobo",
    }
    preview = await (await fake.invoke("train", options, user=workshop.staff)).wait_response()
    assert preview.ephemeral
    pressed = await fake.press_button(preview, button(preview, "Start"), user=workshop.staff)
    announcement = await pressed.wait_for(
        lambda i: next((m for m in i.followups if "started fine-tune" in m.content), None)
    )
    return announcement.content.split("`")[1]


async def test_train_preview_start_and_completion_notice(kobo, fake_discord, fake_openai, workshop):
    interaction = await fake_discord.invoke(
        "train",
        {
            "backend": "openai",
            "base_model": BASE,
            "file": fake_discord.attachment("robot.jsonl", chat_jsonl()),
        },
        user=workshop.staff,
    )
    preview = await interaction.wait_response()
    assert preview.ephemeral
    assert "12 valid of 12 lines" in preview.text
    # 12 examples -> OpenAI's auto rule gives 100 // 12 = 8 epochs.
    assert "× 8 (auto) epochs × $3.00 per 1M tokens" in preview.text
    assert not fake_openai.calls("POST"), "nothing is uploaded before Start"

    refused = await fake_discord.press_button(
        preview, button(preview, "Start"), user=workshop.admin
    )
    assert "Only alice can start" in (await refused.wait_response()).content

    pressed = await fake_discord.press_button(
        preview, button(preview, "Start"), user=workshop.staff
    )
    announcement = await pressed.wait_for(
        lambda i: next((m for m in i.followups if "started fine-tune" in m.content), None)
    )
    assert not announcement.ephemeral and "estimated $" in announcement.content
    job_id = announcement.content.split("`")[1]
    assert fake_openai.jobs[job_id].data["model"] == BASE
    assert "Started `" in fake_discord.get_message(preview.id).content

    fake_openai.advance(job_id, "running")
    running = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "started training" in m.content
    )
    assert job_id in running.content
    fake_openai.succeed(job_id, model=MODEL)
    done = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "succeeded" in m.content
    )
    assert MODEL in done.content
    assert done.file("training-loss.png").data.startswith(b"\x89PNG")
    assert f"/assign stack_id:<number> model:{MODEL}" in done.text

    # The new model is offered by /assign, and the button assigns it right there.
    choices = await fake_discord.autocomplete(
        "assign", {"stack_id": 4, "model": "acme"}, focused="model", user=workshop.staff
    )
    assert [c["value"] for c in choices] == [MODEL]
    click = await fake_discord.press_button(
        done, button(done, "Assign to a robot…"), user=workshop.staff
    )
    await click.wait_modal()
    submitted = await fake_discord.submit_modal(click, {"Robot number (Stack-chan id)": "4"})
    assert f"→ `{MODEL}`" in (await submitted.wait_response()).content
    url = f"http://127.0.0.1:{kobo.device_api_port}/get_text?number=4"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert await response.read() == f'{{"message":"{MODEL}"}}'.encode()

    # Exactly one notice of each kind, however many ticks ran.
    texts = [m.content for m in fake_discord.channel_messages(workshop.channel)]
    assert sum("succeeded" in t for t in texts) == 1
    assert sum("started training" in t for t in texts) == 1


async def test_bad_data_is_reported_by_line_and_cannot_be_started(
    kobo, fake_discord, fake_openai, workshop
):
    lines = chat_jsonl(12).decode().splitlines()
    lines[2] = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    lines[6] = json.dumps({"messages": [{"role": "robot", "content": "x"}]})
    data = ("\n".join(lines) + "\n").encode()
    reply = await (
        await fake_discord.invoke(
            "train",
            {
                "backend": "openai",
                "base_model": BASE,
                "file": fake_discord.attachment("bad.jsonl", data),
            },
            user=workshop.staff,
        )
    ).wait_response()
    assert reply.ephemeral and not reply.buttons
    assert "bad.jsonl line 3" in reply.text and "bad.jsonl line 7" in reply.text
    assert "nothing was uploaded" in reply.text
    assert not fake_openai.calls("POST")


async def test_lines_that_are_not_strict_json_are_reported_by_line_not_as_a_crash(
    kobo, fake_discord, fake_openai, workshop
):
    lines = chat_jsonl(12).decode().splitlines()
    lines[1] = '{"messages": [], "n": ' + "9" * 5000 + "}"
    lines[4] = "[" * 50_000 + "]" * 50_000
    lines[8] = (
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": NaN}]}'
    )
    data = ("\n".join(lines) + "\n").encode()
    reply = await (
        await fake_discord.invoke(
            "train",
            {
                "backend": "openai",
                "base_model": BASE,
                "file": fake_discord.attachment("odd.jsonl", data),
            },
            user=workshop.staff,
        )
    ).wait_response()
    assert reply.ephemeral and not reply.buttons
    assert "odd.jsonl line 2: a number is 5,000 characters long" in reply.text
    assert "odd.jsonl line 5: nested too deeply" in reply.text
    assert "odd.jsonl line 9: NaN is not a JSON number" in reply.text
    assert not fake_openai.calls("POST")


async def test_a_byte_order_mark_is_left_out_of_the_upload(
    kobo, fake_discord, fake_openai, workshop
):
    data = chat_jsonl()
    options = {
        "backend": "openai",
        "base_model": BASE,
        "file": fake_discord.attachment("excel.jsonl", b"\xef\xbb\xbf" + data),
    }
    await start_training(fake_discord, workshop, options)
    upload = fake_openai.calls("POST", "/v1/files")[0].body
    assert upload["file"]["content"] == data


async def test_a_stored_dataset_trains_by_id(kobo, fake_discord, fake_openai, workshop):
    await kobo.services.datasets.add(
        records_from_jsonl(chat_jsonl(20)),
        name="robot-bert",
        source_file="robot.xlsx",
        method="bert",
        operation="augment",
        by_id="1",
        by_name="alice",
    )
    choices = await fake_discord.autocomplete(
        "train",
        {"backend": "openai", "base_model": BASE, "dataset": ""},
        focused="dataset",
        user=workshop.staff,
    )
    assert choices == [{"name": "#1 robot-bert (20 examples)", "value": 1}]
    job_id = await start_training(
        fake_discord, workshop, {"backend": "openai", "base_model": BASE, "dataset": 1}
    )
    training_file = fake_openai.jobs[job_id].data["training_file"]
    assert fake_openai.files[training_file]["purpose"] == "fine-tune"
    assert fake_openai.file_contents[training_file] == chat_jsonl(20)


async def test_without_a_key_train_says_which_setting_to_fill(
    fake_discord, workshop, kobo_settings, tmp_path
):
    settings = kobo_settings.model_copy(update={"openai_api_key": None})
    with fake_discord.patched_discord():
        async with KoboApp(settings, guild_ready_timeout=0.05) as app:
            await app.wait_until_ready()
            reply = await (
                await fake_discord.invoke(
                    "train",
                    {
                        "backend": "openai",
                        "base_model": BASE,
                        "file": fake_discord.attachment("a.jsonl", b"{}"),
                    },
                    user=workshop.staff,
                )
            ).wait_response()
            assert reply.ephemeral and "OPENAI_API_KEY" in reply.content
            # The rest of the bot works.
            stacks = await (
                await fake_discord.invoke("stacks", {}, user=workshop.child)
            ).wait_response()
            assert stacks.embeds


@contextlib.asynccontextmanager
async def kobo_process(fake: FakeDiscord, settings):
    """One run of the kobo process, from start to a clean stop."""
    with fake.patched_discord():
        async with KoboApp(settings, guild_ready_timeout=0.05) as app:
            await app.wait_until_ready()
            yield app


async def test_restart_mid_job_gives_exactly_one_completion_notice(
    fake_discord, fake_openai, workshop, kobo_settings
):
    async with kobo_process(fake_discord, kobo_settings):
        job_id = await start_training(fake_discord, workshop)
        fake_openai.advance(job_id, "running")
        await fake_discord.wait_for_channel_message(
            workshop.channel, lambda m: "started training" in m.content
        )
    # The bot is down while the job finishes.
    fake_openai.succeed(job_id, model=MODEL)
    async with kobo_process(fake_discord, kobo_settings) as app:
        await fake_discord.wait_for_channel_message(
            workshop.channel, lambda m: "succeeded" in m.content
        )
        poller = app.bot.get_cog("Training").poller
        for _ in range(3):  # more ticks: nothing pending may be posted again
            await poller.tick()
    texts = [m.content for m in fake_discord.channel_messages(workshop.channel)]
    assert sum("succeeded" in t for t in texts) == 1
    assert sum("started training" in t for t in texts) == 1


async def test_bursts_of_429_and_500_leave_the_job_running_and_the_notice_comes(
    kobo, fake_discord, fake_openai, workshop
):
    job_id = await start_training(fake_discord, workshop)
    fake_openai.advance(job_id, "running")
    fake_openai.fail_next(6, 429, method="GET")
    fake_openai.fail_next(6, 500, method="GET")
    await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "started training" in m.content, timeout=15
    )
    assert fake_openai.pending_faults == 0
    details = await kobo.services.finetune.get_job(job_id)
    assert details.job.status == "running"
    fake_openai.succeed(job_id, model=MODEL)
    await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "succeeded" in m.content, timeout=15
    )
    # The channel heard about the job, not about the failed polls.
    texts = [m.content for m in fake_discord.channel_messages(workshop.channel)]
    expected = ("started fine-tune", "started training", "succeeded")
    assert [next(e for e in expected if e in t) for t in texts] == list(expected), texts


async def test_jobs_job_and_cancel(kobo, fake_discord, fake_openai, workshop):
    job_id = await start_training(fake_discord, workshop)
    listing = await (await fake_discord.invoke("jobs", {}, user=workshop.child)).wait_response()
    assert job_id in listing.embeds[0]["description"]
    shown = await (
        await fake_discord.invoke("job", {"job_id": job_id}, user=workshop.child)
    ).wait_response()
    assert job_id in shown.text and BASE in shown.text

    show_every_command_to_everyone(fake_discord, workshop)
    refused = await (
        await fake_discord.invoke("cancel", {"job_id": job_id}, user=workshop.child)
    ).wait_response()
    assert refused.ephemeral and "Only workshop staff" in refused.content

    cancelled = await (
        await fake_discord.invoke("cancel", {"job_id": job_id}, user=workshop.staff)
    ).wait_response()
    assert "Asked OpenAI to cancel" in cancelled.content
    notice = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "was cancelled" in m.content
    )
    assert f"<@{workshop.staff.id}>" in notice.content
    unknown = await (
        await fake_discord.invoke("job", {"job_id": "ftjob-nope"}, user=workshop.child)
    ).wait_response()
    assert unknown.ephemeral and "I know no job `ftjob-nope`" in unknown.content


async def test_a_deleted_channel_drops_the_notice_but_the_job_is_recorded(
    kobo, fake_discord, fake_openai, workshop, caplog
):
    job_id = await start_training(fake_discord, workshop)
    fake_discord.make_channel_unknown(workshop.channel)
    fake_openai.succeed(job_id, model=MODEL)
    for _ in range(1200):  # the poller runs every 0.2 s; a ceiling for a hang: 60 s
        details = await kobo.services.finetune.get_job(job_id)
        if details.job.status == "succeeded" and "is gone" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert details.job.status == "succeeded" and details.job.fine_tuned_model == MODEL
    assert "its channel" in caplog.text and "is gone" in caplog.text
    # The model can still be assigned: it is in /assign's suggestions.
    assert MODEL in await kobo.services.robots.known_models()


async def test_the_preview_expires(kobo, fake_discord, fake_openai, workshop):
    kobo.bot.get_cog("Training").preview_timeout = 0.3
    options = {
        "backend": "openai",
        "base_model": BASE,
        "file": fake_discord.attachment("robot.jsonl", chat_jsonl()),
    }
    preview = await (
        await fake_discord.invoke("train", options, user=workshop.staff)
    ).wait_response()
    assert preview.buttons
    await fake_discord.wait_until(
        lambda: "expired" in fake_discord.get_message(preview.id).content, what="expiry"
    )
    assert not fake_discord.get_message(preview.id).buttons
    assert not fake_openai.calls("POST")


async def test_progress_and_failure_notices(kobo, fake_discord, fake_openai, workshop):
    job_id = await start_training(fake_discord, workshop)
    fake_openai.advance(job_id, "running")
    fake_openai.add_metrics(job_id, step=10, train_loss=1.234)
    progress = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "step 10" in m.content
    )
    assert "training loss 1.234" in progress.content
    fake_openai.fail(job_id, "The job failed due to an invalid training file.")
    failed = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "failed" in m.content
    )
    assert "The job failed due to an invalid training file." in failed.content
    assert f"<@{workshop.staff.id}>" in failed.content
    assert (await kobo.services.finetune.get_job(job_id)).job.status == "failed"


async def test_assign_button_explains_a_bad_robot_number(kobo, fake_discord, fake_openai, workshop):
    job_id = await start_training(fake_discord, workshop)
    fake_openai.succeed(job_id, model=MODEL)
    done = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "succeeded" in m.content
    )
    for typed, says in (("abc", "`abc` is not a robot number"), ("0", "no robot number 0")):
        click = await fake_discord.press_button(
            done, button(done, "Assign to a robot…"), user=workshop.staff
        )
        await click.wait_modal()
        submitted = await fake_discord.submit_modal(click, {"Robot number (Stack-chan id)": typed})
        reply = await submitted.wait_response()
        assert reply.ephemeral and says in reply.content
    refused = await fake_discord.press_button(
        done, button(done, "Assign to a robot…"), user=workshop.child
    )
    assert "Only workshop staff" in (await refused.wait_response()).content
    assert await kobo.services.robots.overview() == []


async def test_without_a_key_cancel_is_refused_to_the_asker_only(
    fake_discord, workshop, kobo_settings
):
    # Neither backend set up: a job kobo does not know is refused for the default, the trainer.
    settings = kobo_settings.model_copy(update={"openai_api_key": None, "local_training": False})
    async with kobo_process(fake_discord, settings):
        refused = await (
            await fake_discord.invoke("cancel", {"job_id": "ftjob-abc"}, user=workshop.staff)
        ).wait_response()
        assert refused.ephemeral and "set LOCAL_TRAINING=true" in refused.content


async def test_a_paused_job_shows_as_paused_and_is_still_followed(
    kobo, fake_discord, fake_openai, workshop
):
    job_id = await start_training(fake_discord, workshop)
    fake_openai.advance(job_id, "running")
    await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "started training" in m.content
    )
    fake_openai.pause_on_openai(job_id)
    for _ in range(1200):  # the poller runs every 0.2 s; a ceiling for a hang: 60 s
        if (await kobo.services.finetune.get_job(job_id)).job.status == "paused":
            break
        await asyncio.sleep(0.05)
    listing = await (
        await fake_discord.invoke("jobs", {"status": "unfinished"}, user=workshop.child)
    ).wait_response()
    assert f"`{job_id}` paused" in listing.embeds[0]["description"]
    shown = await (
        await fake_discord.invoke("job", {"job_id": job_id}, user=workshop.child)
    ).wait_response()
    assert "paused" in shown.text

    fake_openai.succeed(job_id, model=MODEL)  # resumed and finished at OpenAI
    await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "succeeded" in m.content
    )


async def test_a_rejected_key_is_said_once_per_job_and_a_restart_with_a_good_key_follows_again(
    fake_discord, fake_openai, workshop, kobo_settings, caplog
):
    async with kobo_process(fake_discord, kobo_settings) as app:
        job_id = await start_training(fake_discord, workshop)
        fake_openai.fail_next(1, 401)  # the next poll: the key was revoked
        told = await fake_discord.wait_for_channel_message(
            workshop.channel, lambda m: "stopped following" in m.content
        )
        assert job_id in told.content and f"<@{workshop.staff.id}>" in told.content
        assert "OpenAI rejected the API key (HTTP 401, invalid_api_key)" in told.content
        assert "may still be running at OpenAI" in told.content
        assert "OPENAI_API_KEY" in told.content and "restart" in told.content
        poller = app.bot.get_cog("Training").poller
        for _ in range(3):
            await poller.tick()
        listing = await (await fake_discord.invoke("jobs", {}, user=workshop.child)).wait_response()
        assert "not followed: key rejected" in listing.embeds[0]["description"]
        shown = await (
            await fake_discord.invoke("job", {"job_id": job_id}, user=workshop.child)
        ).wait_response()
        assert "Not followed" in shown.text and "key rejected" in shown.text
    texts = [m.content for m in fake_discord.channel_messages(workshop.channel)]
    assert sum("stopped following" in t for t in texts) == 1
    assert "OpenAI rejected the API key" in caplog.text
    caplog.clear()  # the one expected error log was checked

    # Restarted with a key OpenAI takes (here: the same one, no longer refused).
    fake_openai.advance(job_id, "running")
    async with kobo_process(fake_discord, kobo_settings):
        await fake_discord.wait_for_channel_message(
            workshop.channel, lambda m: "started training" in m.content
        )
        listing = await (await fake_discord.invoke("jobs", {}, user=workshop.child)).wait_response()
        assert "not followed" not in listing.embeds[0]["description"]

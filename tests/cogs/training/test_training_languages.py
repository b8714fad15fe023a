"""/train, /job and the channel notices in Japanese and in English, through the fake Discord
and the fake OpenAI: replies follow the asker's Discord language, notices the server's."""

from __future__ import annotations

import json

import discord
import pytest
from babel.numbers import format_currency

from i18n import text
from tests.conftest import DISCORD_LOCALES, following
from tests.fakes.discord import FakeDiscord

from .test_training_e2e import BASE, MODEL, button, chat_jsonl

PRICE_PER_1M = 3.00  # gpt-4o-mini-2024-07-18 in the built-in model table
MONEY_LOCALES = {"ja": "ja_JP", "en": "en_US"}


@pytest.fixture
def cost_settings():
    return {}


@pytest.fixture
def kobo_settings(kobo_settings, fake_openai, language, cost_settings):
    return following(kobo_settings, fake_openai, **cost_settings)


def usd(amount: float, language: str) -> str:
    return format_currency(amount, "USD", locale=MONEY_LOCALES[language])


async def start_training(fake: FakeDiscord, workshop, language: str, options=None) -> str:
    """Staff, in ``language``, run /train and press Start; returns the new job's id."""
    locale = DISCORD_LOCALES[language]
    options = options or {
        "backend": "openai",
        "base_model": BASE,
        "file": fake.attachment("robot.jsonl", chat_jsonl()),
    }
    preview = await (
        await fake.invoke("train", options, user=workshop.staff, locale=locale)
    ).wait_response()
    start = button(preview, text("training.button.start", language))
    pressed = await fake.press_button(preview, start, user=workshop.staff, locale=locale)
    announcement = await pressed.wait_for(
        lambda i: next((m for m in i.followups if m.content.startswith("🚀")), None)
    )
    return announcement.content.split("`")[1]


async def job_dashboard(fake: FakeDiscord, workshop, job_id: str, language: str):
    interaction = await fake.invoke(
        "job", {"job_id": job_id}, user=workshop.child, locale=DISCORD_LOCALES[language]
    )
    return await interaction.wait_response()


async def test_the_train_preview_and_start_follow_the_askers_language(
    kobo, fake_discord, fake_openai, workshop, language
):
    locale = DISCORD_LOCALES[language]
    options = {
        "backend": "openai",
        "base_model": BASE,
        "file": fake_discord.attachment("robot.jsonl", chat_jsonl()),
    }
    preview = await (
        await fake_discord.invoke("train", options, user=workshop.staff, locale=locale)
    ).wait_response()
    embed = preview.embeds[0]
    assert embed["title"] == text("training.preview.title", language, source="**robot.jsonl**")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields[text("training.preview.examples", language)] == text(
        "training.preview.valid_lines", language, valid=12, lines=12
    )
    cost = fields[text("training.field.estimated_cost", language)]
    assert text("training.preview.auto_epochs", language, epochs=8) in cost
    assert f"{usd(PRICE_PER_1M, language)}" in cost
    assert embed["footer"]["text"] == text("training.preview.press_start", language)
    labels = [b["label"] for b in preview.buttons]
    assert labels == [
        text("training.button.start", language),
        text("training.button.cancel", language),
    ]

    pressed = await fake_discord.press_button(
        preview, button(preview, labels[0]), user=workshop.staff, locale=locale
    )
    announcement = await pressed.wait_for(
        lambda i: next((m for m in i.followups if m.content.startswith("🚀")), None)
    )
    job_id = announcement.content.split("`")[1]
    record = (await kobo.services.finetune.get_job(job_id)).job
    assert announcement.content == text(
        "training.notice.started",
        language,
        who=f"<@{workshop.staff.id}>",
        job=f"`{job_id}`",
        model=f"`{BASE}`",
        source="**robot.jsonl**",
        cost=usd(record.estimated_cost_usd, language),
    )
    assert fake_discord.get_message(preview.id).content == text(
        "training.started", language, job=f"`{job_id}`"
    )


async def test_the_preview_lists_the_datas_problems_in_the_askers_language(
    kobo, fake_discord, fake_openai, workshop, language
):
    lines = chat_jsonl(12).decode().splitlines()
    lines[2] = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    lines[6] = json.dumps({"messages": [{"role": "robot", "content": "x"}]})
    options = {
        "backend": "openai",
        "base_model": BASE,
        "file": fake_discord.attachment("bad.jsonl", ("\n".join(lines) + "\n").encode()),
        "suffix": "stack chan",  # OpenAI takes no spaces in a suffix
    }
    reply = await (
        await fake_discord.invoke(
            "train", options, user=workshop.staff, locale=DISCORD_LOCALES[language]
        )
    ).wait_response()
    assert reply.ephemeral and not reply.buttons
    embed = reply.embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    problems = fields[text("training.preview.problems", language, count=3)].splitlines()
    suffix = text("training.param.suffix_characters", language, characters="' '")
    line_3 = text(
        "datacheck.problem.in_line",
        language,
        file="bad.jsonl",
        line=text("datacheck.line", language, line=3),
        problem=text("datacheck.example.no_assistant", language),
    )
    assert problems[:2] == [
        f"• {discord.utils.escape_markdown(suffix)}",
        f"• {discord.utils.escape_markdown(line_3)}",
    ]
    place_7 = {"ja": "bad.jsonl 7行目: ", "en": "bad.jsonl line 7: "}[language]
    assert problems[2].startswith(f"• {place_7}")
    assert embed["footer"]["text"] == text("training.preview.fix_problems", language)
    assert not fake_openai.calls("POST")


async def test_a_reply_follows_the_asker_and_a_notice_the_server(
    kobo, fake_discord, fake_openai, workshop, language
):
    other = "en" if language == "ja" else "ja"
    # Someone whose Discord is in the other language starts the job.
    job_id = await start_training(fake_discord, workshop, other)
    announcement = fake_discord.channel_messages(workshop.channel)[-1]
    record = (await kobo.services.finetune.get_job(job_id)).job
    assert announcement.content == text(
        "training.notice.started",
        language,
        who=f"<@{workshop.staff.id}>",
        job=f"`{job_id}`",
        model=f"`{BASE}`",
        source="**robot.jsonl**",
        cost=usd(record.estimated_cost_usd, language),
    )

    fake_openai.advance(job_id, "running")
    running = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("🏃")
    )
    assert running.content == text(
        "training.notice.running", language, job=f"`{job_id}`", model=f"`{BASE}`"
    )


async def test_notices_while_training_and_on_success_are_in_the_servers_language(
    kobo, fake_discord, fake_openai, workshop, language
):
    job_id = await start_training(fake_discord, workshop, language)
    job = f"`{job_id}`"
    fake_openai.advance(job_id, "running")
    running = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("🏃")
    )
    assert running.content == text("training.notice.running", language, job=job, model=f"`{BASE}`")
    fake_openai.add_metrics(job_id, step=10, train_loss=1.234)
    progress = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("📈")
    )
    assert progress.content == text(
        "training.notice.progress_loss", language, job=job, step="10/100", loss="1.234"
    )

    fake_openai.succeed(job_id, model=MODEL, duration_s=3_900)
    done = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("✅")
    )
    assert done.content == text(
        "training.notice.succeeded",
        language,
        who=f"<@{workshop.staff.id}>",
        job=job,
        model=f"`{MODEL}`",
    )
    embed = done.embeds[0]
    assert embed["title"] == text("training.notice.finished_title", language)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields[text("training.field.duration", language)] == text(
        "training.duration.hours", language, hours=1, minutes=5
    )
    assert fields[text("training.field.chart", language)] == text("training.chart.legend", language)
    assert fields[text("training.field.assign_it", language)] == text(
        "training.notice.assign_command", language, model=MODEL
    )
    assert done.file("training-loss.png").data.startswith(b"\x89PNG")
    assign = button(done, text("training.button.assign", language))

    # The form follows whoever presses, not the channel.
    click = await fake_discord.press_button(
        done, assign, user=workshop.staff, locale=DISCORD_LOCALES[language]
    )
    modal = await click.wait_modal()
    assert modal["title"] == text("training.assign.title", language)
    robot_number = text("training.assign.robot_number", language)
    assert modal["components"][0]["label"] == robot_number
    submitted = await fake_discord.submit_modal(click, {robot_number: "4"})
    assert (await submitted.wait_response()).content == text(
        "robots.changed",
        language,
        stack_id=4,
        old=text("robots.default_model", language, model="gpt-4o-mini"),
        new=text("robots.model", language, model=MODEL),
    )


async def test_failed_cancelled_and_key_rejected_notices_are_in_the_servers_language(
    kobo, fake_discord, fake_openai, workshop, language, caplog
):
    who = f"<@{workshop.staff.id}>"
    failed_id = await start_training(fake_discord, workshop, language)
    fake_openai.fail(failed_id, "The job failed due to an invalid training file.")
    failed = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("❌")
    )
    assert failed.content == text(
        "training.notice.failed",
        language,
        who=who,
        job=f"`{failed_id}`",
        reason="The job failed due to an invalid training file.",
    )

    # Cancelled through kobo: the reply in the asker's language, the notice in the server's.
    cancelled_id = await start_training(fake_discord, workshop, language)
    reply = await (
        await fake_discord.invoke(
            "cancel",
            {"job_id": cancelled_id},
            user=workshop.staff,
            locale=DISCORD_LOCALES[language],
        )
    ).wait_response()
    assert reply.content == text("training.cancel_asked", language, job=f"`{cancelled_id}`")
    cancelled = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("🛑") and cancelled_id in m.content
    )
    assert cancelled.content == text(
        "training.notice.cancelled_by", language, job=f"`{cancelled_id}`", who=who
    )
    on_openai_id = await start_training(fake_discord, workshop, language)
    fake_openai.cancel_on_openai(on_openai_id)
    on_openai = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("🛑") and on_openai_id in m.content
    )
    assert on_openai.content == text(
        "training.notice.cancelled_on_openai", language, job=f"`{on_openai_id}`"
    )

    followed_id = await start_training(fake_discord, workshop, language)
    fake_openai.fail_next(1, 401)  # the key was revoked
    told = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("⚠️")
    )
    assert told.content == text(
        "training.notice.key_rejected",
        language,
        who=who,
        job=f"`{followed_id}`",
        detail="HTTP 401, invalid_api_key",
        hint=text("training.not_followed.hint", language),
    )
    shown = await job_dashboard(fake_discord, workshop, followed_id, language)
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert (
        text("training.not_followed.key_rejected", language)
        in fields[text("training.field.not_followed", language)]
    )
    # OpenAI is not asked while it refuses the key: /job says why its view may be old.
    assert fields[text("training.field.not_up_to_date", language)] == text(
        "training.unavailable.key_rejected", language, detail="HTTP 401, invalid_api_key"
    )
    assert "OpenAI rejected the API key" in caplog.text
    caplog.clear()  # the one expected error log was checked


async def test_job_shows_what_openais_dashboard_shows(
    kobo, fake_discord, fake_openai, workshop, language
):
    job_id = await start_training(fake_discord, workshop, language)
    fake_openai.advance(job_id, "running")
    shown = await job_dashboard(fake_discord, workshop, job_id, language)
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert fields[text("training.field.status", language)] == text(
        "training.status.running", language
    )
    # The numbers OpenAI chose for "auto", once training started.
    assert fields[text("training.field.hyperparameters", language)] == text(
        "training.job.hyperparameters",
        language,
        epochs="3",
        batch_size="1",
        learning_rate_multiplier="1.8",
    )
    finish = fake_openai.jobs[job_id].data["estimated_finish"]
    assert fields[text("training.field.estimated_finish", language)] == f"<t:{finish}:R>"
    assert text("training.field.checkpoints", language) not in fields

    fake_openai.pause_on_openai(job_id)
    paused = await job_dashboard(fake_discord, workshop, job_id, language)
    assert text("training.status.paused", language) in paused.text

    for step, loss in ((10, 1.5), (20, 1.0), (30, 0.5)):
        fake_openai.add_metrics(job_id, step=step, train_loss=loss, total_steps=30)
    fake_openai.succeed(job_id, model=MODEL, trained_tokens=12_345)
    shown = await job_dashboard(fake_discord, workshop, job_id, language)
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert fields[text("training.field.status", language)] == text(
        "training.status.succeeded", language
    )
    assert fields[text("training.field.trained_tokens", language)] == "12,345"
    record = (await kobo.services.finetune.get_job(job_id)).job
    assert fields[text("training.field.estimated_cost", language)] == usd(
        record.estimated_cost_usd, language
    )
    assert fields[text("training.field.actual_cost", language)] == text(
        "training.job.actual_cost",
        language,
        cost=usd(12_345 * PRICE_PER_1M / 1_000_000, language),
        tokens="12,345",
        price=usd(PRICE_PER_1M, language),
    )
    checkpoints = fields[text("training.field.checkpoints", language)]
    for step, loss in ((10, 1.5), (20, 1.0), (30, 0.5)):
        assert (
            text(
                "training.job.checkpoint",
                language,
                step=step,
                metrics=text("training.list_separator", language).join(
                    [
                        text("training.metric.train_loss", language, value=f"{loss:.3f}"),
                        text("training.metric.train_mean_token_accuracy", language, value="50.0%"),
                    ]
                ),
                model=f"{MODEL}:ckpt-step-{step}",
            )
            in checkpoints
        )
    assert shown.file("training-loss.png").data.startswith(b"\x89PNG")
    assert shown.embeds[0]["image"]["url"] == "attachment://training-loss.png"


@pytest.mark.parametrize("cost_settings", [{"cost_currency": "JPY", "cost_rate": 150.0}])
async def test_costs_are_also_shown_in_the_local_currency_marked_as_approximate(
    kobo, fake_discord, fake_openai, workshop, language, cost_settings
):
    job_id = await start_training(fake_discord, workshop, language)
    announcement = fake_discord.channel_messages(workshop.channel)[-1]
    record = (await kobo.services.finetune.get_job(job_id)).job
    estimate = record.estimated_cost_usd
    approximately = text(
        "training.cost.approximately",
        language,
        usd=usd(estimate, language),
        local=format_currency(estimate * 150, "JPY", locale=MONEY_LOCALES[language]),
    )
    assert approximately in announcement.content
    fake_openai.succeed(job_id, model=MODEL, trained_tokens=100_000)
    await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("✅")
    )
    shown = await job_dashboard(fake_discord, workshop, job_id, language)
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert fields[text("training.field.estimated_cost", language)] == approximately
    # 100,000 tokens at $3 per 1M: $0.30, about ¥45.
    actual = text(
        "training.cost.approximately",
        language,
        usd=usd(0.30, language),
        local=("￥45" if language == "ja" else "¥45"),
    )
    assert fields[text("training.field.actual_cost", language)].startswith(actual)


async def test_openai_no_longer_offering_fine_tuning_is_one_message_in_the_askers_language(
    kobo, fake_discord, fake_openai, workshop, language
):
    fake_openai.fine_tuning_withdrawn = True
    locale = DISCORD_LOCALES[language]
    options = {
        "backend": "openai",
        "base_model": BASE,
        "file": fake_discord.attachment("robot.jsonl", chat_jsonl()),
    }
    preview = await (
        await fake_discord.invoke("train", options, user=workshop.staff, locale=locale)
    ).wait_response()
    start = button(preview, text("training.button.start", language))
    pressed = await fake_discord.press_button(preview, start, user=workshop.staff, locale=locale)
    refusal = text("training.openai.fine_tuning_withdrawn", language)
    told = text("training.preview.not_started", language, reason=refusal)
    await fake_discord.wait_until(
        lambda: fake_discord.get_message(preview.id).content == told, what="the refusal"
    )
    assert not fake_discord.get_message(preview.id).buttons
    assert not pressed.followups  # no announcement, no second message
    assert not fake_discord.channel_messages(workshop.channel)
    assert fake_openai.files == {} and fake_openai.jobs == {}
    assert await kobo.services.finetune.list_jobs() == []

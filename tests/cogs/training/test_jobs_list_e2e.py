"""/jobs through the fake Discord: pages, the status filter, and its texts in each language."""

from __future__ import annotations

import pytest

from i18n import text
from storage.finetune_jobs import JobRecord
from tests.fakes.discord import FakeMessage


def job(number: int, status: str) -> JobRecord:
    created = f"2025-06-01T09:{number:02d}:00.000Z"
    return JobRecord(
        job_id=f"ftjob-{number:02d}",
        plan_id=f"plan-{number}",
        base_model="gpt-4o-mini-2024-07-18",
        training_file_id="file-1",
        training_filename="train.jsonl",
        validation_file_id=None,
        requested_epochs="auto",
        hyperparameters={"n_epochs": "auto"},
        suffix=None,
        seed=None,
        guild_id="1",
        channel_id="2",
        requested_by="3",
        created_at=created,
        status=status,
        estimated_tokens=1000,
        estimated_cost_usd=0.003,
        updated_at=created,
    )


@pytest.fixture
async def jobs(kobo) -> None:
    """25 finished jobs (three pages of ten); every fifth one failed."""
    for number in range(1, 26):
        status = "failed" if number % 5 == 0 else "succeeded"
        await kobo.services.finetune.repository.insert_job(job(number, status))


def shown_jobs(message: FakeMessage) -> list[str]:
    return [line.split("`")[1] for line in message.embeds[0]["description"].splitlines()]


async def test_jobs_pages_newest_first(kobo, jobs, fake_discord, workshop):
    listing = await (await fake_discord.invoke("jobs", {}, user=workshop.child)).wait_response()
    embed = listing.embeds[0]
    assert embed["title"] == "Fine-tuning jobs (All)"
    assert embed["footer"]["text"] == "page 1 / 3 · newest first · details with /job"
    assert shown_jobs(listing) == [f"ftjob-{n:02d}" for n in range(25, 15, -1)]
    forward = next(b for b in listing.buttons if b["label"] == "▶")
    click = await fake_discord.press_button(listing, forward["custom_id"], user=workshop.child)
    await click.wait_response()
    turned = fake_discord.get_message(listing.id)
    assert turned.embeds[0]["footer"]["text"].startswith("page 2 / 3 · ")
    assert shown_jobs(turned) == [f"ftjob-{n:02d}" for n in range(15, 5, -1)]


async def test_the_status_filter_counts_its_own_pages(kobo, jobs, fake_discord, workshop):
    failed = await (
        await fake_discord.invoke("jobs", {"status": "failed"}, user=workshop.child)
    ).wait_response()
    assert failed.embeds[0]["title"] == "Fine-tuning jobs (Failed)"
    assert failed.embeds[0]["footer"]["text"].startswith("page 1 / 1 · ")
    assert shown_jobs(failed) == ["ftjob-25", "ftjob-20", "ftjob-15", "ftjob-10", "ftjob-05"]
    assert failed.buttons == []
    unfinished = await (
        await fake_discord.invoke("jobs", {"status": "unfinished"}, user=workshop.child)
    ).wait_response()
    assert unfinished.embeds[0]["description"] == text("lists.jobs.empty", "en")


async def test_jobs_reads_in_japanese_for_a_japanese_reader(kobo, jobs, fake_discord, workshop):
    listing = await (
        await fake_discord.invoke("jobs", {"status": "failed"}, user=workshop.child, locale="ja")
    ).wait_response()
    embed = listing.embeds[0]
    assert embed["title"] == "ファインチューニングのジョブ（失敗）"
    assert embed["footer"]["text"] == "1 / 1 ページ · 新しい順 · 詳しくは /job で見られます"
    empty = await (
        await fake_discord.invoke("jobs", {"status": "cancelled"}, user=workshop.child, locale="ja")
    ).wait_response()
    assert empty.embeds[0]["description"] == "該当するジョブはありません。"


async def test_the_status_choices_are_named_in_japanese(kobo, fake_discord, workshop):
    synced = fake_discord.synced_command("jobs", workshop.guild)
    assert synced["description_localizations"]["ja"] == text("command.jobs.description", "ja")
    status = next(o for o in synced["options"] if o["name"] == "status")
    assert {c["value"]: c["name_localizations"]["ja"] for c in status["choices"]} == {
        "unfinished": "未完了",
        "succeeded": "成功",
        "failed": "失敗",
        "cancelled": "キャンセル済み",
        "all": "すべて",
    }

"""The shared ◀ ▶ pages, driven through /datasets in the fake Discord."""

from __future__ import annotations

import copy

import pytest

from bot.app import KoboApp
from bot.paginator import page_window
from curation.records import records_from_jsonl
from i18n import text
from tests.fakes.discord import FakeDiscord, FakeMessage

DATASETS = 25  # ten a page: three pages, the last one with five


def button(message: FakeMessage, label: str) -> dict:
    for candidate in message.buttons:
        if candidate.get("label") == label:
            return candidate
    raise AssertionError(f"no {label!r} button on {message.text!r}")


def footer(message: FakeMessage) -> str:
    return message.embeds[0]["footer"]["text"]


def shown_ids(message: FakeMessage) -> list[int]:
    lines = message.embeds[0]["description"].splitlines()
    return [int(line.split("**#", 1)[1].split("**", 1)[0]) for line in lines]


async def add_datasets(kobo: KoboApp, count: int) -> None:
    for number in range(1, count + 1):
        await kobo.services.datasets.add(
            records_from_jsonl(b'{"messages": []}\n' * number),
            name=f"set-{number}",
            source_file="robot.xlsx",
            method="duplicate",
            operation="augment",
            by_id="1",
            by_name="alice",
        )


async def turn(
    fake: FakeDiscord, message: FakeMessage, label: str, user, locale: str = "en-US"
) -> FakeMessage:
    """``user`` presses ◀ or ▶ on ``message``; returns the message as it then reads."""
    custom_id = button(message, label)["custom_id"]
    click = await fake.press_button(message, custom_id, user=user, locale=locale)
    await click.wait_response()
    return fake.get_message(message.id)


async def test_the_owner_pages_forward_and_back(kobo, fake_discord, workshop):
    await add_datasets(kobo, DATASETS)
    listing = await (
        await fake_discord.invoke("datasets list", {}, user=workshop.staff)
    ).wait_response()
    assert footer(listing) == "page 1 / 3 · newest first"
    assert shown_ids(listing) == list(range(25, 15, -1))
    assert button(listing, "◀").get("disabled") and not button(listing, "▶").get("disabled")

    second = await turn(fake_discord, listing, "▶", workshop.staff)
    assert footer(second) == "page 2 / 3 · newest first"
    assert shown_ids(second) == list(range(15, 5, -1))
    assert not button(second, "◀").get("disabled") and not button(second, "▶").get("disabled")

    last = await turn(fake_discord, second, "▶", workshop.staff)
    assert footer(last) == "page 3 / 3 · newest first"
    assert shown_ids(last) == [5, 4, 3, 2, 1]
    assert button(last, "▶").get("disabled") and not button(last, "◀").get("disabled")

    back = await turn(fake_discord, last, "◀", workshop.staff)
    assert footer(back) == "page 2 / 3 · newest first"
    assert shown_ids(back) == list(range(15, 5, -1))
    assert back.id == listing.id  # the same message, edited: no new message in the channel
    assert not back.ephemeral


@pytest.mark.parametrize("locale", ["ja", "en-US"])
async def test_someone_else_is_refused_in_their_language_and_nothing_turns(
    kobo, fake_discord, workshop, locale
):
    await add_datasets(kobo, DATASETS)
    listing = await (
        await fake_discord.invoke("datasets list", {}, user=workshop.staff)
    ).wait_response()
    click = await fake_discord.press_button(
        listing, button(listing, "▶")["custom_id"], user=workshop.child, locale=locale
    )
    refusal = await click.wait_response()
    language = "ja" if locale == "ja" else "en"
    assert refusal.ephemeral
    assert refusal.content == text("lists.not_yours", language, owner="alice")
    assert footer(fake_discord.get_message(listing.id)) == "page 1 / 3 · newest first"


async def test_the_buttons_go_when_the_list_expires(kobo, fake_discord, workshop):
    kobo.bot.get_cog("Datasets").pages_timeout = 0.3
    await add_datasets(kobo, DATASETS)
    listing = await (
        await fake_discord.invoke("datasets list", {}, user=workshop.staff)
    ).wait_response()
    assert listing.buttons
    shown = copy.deepcopy(listing.embeds)  # the fake keeps one message object, edited in place
    await fake_discord.wait_until(
        lambda: not fake_discord.get_message(listing.id).buttons, what="the buttons to go"
    )
    expired = fake_discord.get_message(listing.id)
    assert expired.embeds == shown  # the page stays readable
    assert not expired.deleted


async def test_a_list_of_one_page_has_no_buttons(kobo, fake_discord, workshop):
    await add_datasets(kobo, 3)
    listing = await (
        await fake_discord.invoke("datasets list", {}, user=workshop.child)
    ).wait_response()
    assert footer(listing) == "page 1 / 1 · newest first"
    assert shown_ids(listing) == [3, 2, 1]
    assert listing.buttons == []


async def test_a_page_past_the_end_shows_the_last_page(kobo, fake_discord, workshop):
    await add_datasets(kobo, DATASETS)
    listing = await (
        await fake_discord.invoke("datasets list", {"page": 9}, user=workshop.staff)
    ).wait_response()
    assert footer(listing) == "page 3 / 3 · newest first"
    assert button(listing, "▶").get("disabled")


async def test_japanese_readers_get_japanese_pages(kobo, fake_discord, workshop):
    await add_datasets(kobo, DATASETS)
    listing = await (
        await fake_discord.invoke("datasets list", {}, user=workshop.staff, locale="ja")
    ).wait_response()
    embed = listing.embeds[0]
    assert embed["title"] == text("lists.datasets.title", "ja")
    assert footer(listing) == "1 / 3 ページ · 新しい順"
    assert embed["description"].splitlines()[0].startswith("**#25** set-25 · 25 件 · duplicate · ")
    second = await turn(fake_discord, listing, "▶", workshop.staff, locale="ja")
    assert footer(second) == "2 / 3 ページ · 新しい順"


@pytest.mark.parametrize(
    ("total", "asked", "expected"),
    [
        (25, 1, (1, 3, 0)),
        (25, 3, (3, 3, 20)),
        (25, 9, (3, 3, 20)),  # past the end: the last page
        (20, 3, (2, 2, 10)),  # exactly full pages
        (0, 1, (1, 1, 0)),  # nothing: one empty page
        (5, 0, (1, 1, 0)),
    ],
)
def test_page_window(total, asked, expected):
    window = page_window(total, asked, 10)
    assert (window.number, window.count, window.offset) == expected
    assert len(window.rows(list(range(total)))) == min(10, max(0, total - window.offset))

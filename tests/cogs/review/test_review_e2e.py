"""/review through the fake Discord: several people deciding at once, a restart in the middle,
finishing into a new dataset, and who may review."""

from __future__ import annotations

import json

import pytest

from i18n import text
from tests.cogs.review.flows import augment_with_bert, decide_id, open_review, press
from tests.cogs.screens import check_language, screen_texts
from tests.cogs.training.test_training_e2e import kobo_process
from tests.conftest import DISCORD_LOCALES, show_every_command_to_everyone
from tests.fakes.discord.interactions import CHANNEL_MESSAGE, UPDATE_MESSAGE

NEW_LINES = [3, 4, 5, 6]  # the bert sentences of dataset #1; lines 1 and 2 are the originals
WORDS = {"keep", "drop", "edit"}


def description(message) -> str:
    return message.embeds[0]["description"]


async def test_two_reviewers_at_once_decide_each_example_once_and_both_see_it(
    language, kobo, fake_discord, workshop
):
    locale = DISCORD_LOCALES[language]
    alice, olivia = workshop.staff, workshop.admin
    await augment_with_bert(fake_discord, alice)
    review = await open_review(fake_discord, alice, locale=locale)
    assert review.embeds[0]["title"] == text(
        "review.title", language, dataset=1, name="robot-bert", decided=0, total=4
    )
    # The change is marked in the sentence: the noun struck through, the new word in bold.
    assert "~~犬~~→**" in description(review) or "~~花~~→**" in description(review)

    # Both press a different decision on every example, all at the same moment.
    clicks = []
    for line in NEW_LINES:
        for user, decision in ((alice, "keep"), (olivia, "drop")):
            clicks.append(
                (
                    user,
                    line,
                    await fake_discord.press_button(
                        review, decide_id(line, decision), user=user, locale=locale
                    ),
                )
            )
    for _, _, click in clicks:
        await click.wait_callback()

    decisions = await kobo.services.store.reviews.all(1)
    assert sorted(decisions) == NEW_LINES  # each example decided, once
    for user, line, click in clicks:
        winner = decisions[line]
        if winner.decided_by == str(user.id):
            assert click.callback_type == UPDATE_MESSAGE  # the review message was redrawn
        else:
            # The other one is told, only them, who decided it and how.
            assert click.callback_type == CHANNEL_MESSAGE
            (told,) = click.responses
            assert told.ephemeral
            assert told.content == text(
                "review.already_decided",
                language,
                name=winner.decided_by_name,
                decision=text(f"review.word.{winner.decision}", language),
            )
    # Everyone sees one message with every decision and who made it.
    shown = fake_discord.get_message(review.id)
    assert shown.embeds[0]["title"] == text(
        "review.title", language, dataset=1, name="robot-bert", decided=4, total=4
    )
    for winner in decisions.values():
        assert text(f"review.decided.{winner.decision}", language, name=winner.decided_by_name) in (
            description(shown)
        )
    counts = {}
    for winner in decisions.values():
        counts[winner.decided_by_name] = counts.get(winner.decided_by_name, 0) + 1
    for name, count in counts.items():
        assert text("review.person", language, name=name, count=count) in shown.text
    # kobo's own words (the examples are the workshop's, in whatever language they are).
    embed = shown.embeds[0]
    labels = screen_texts(shown)[1:]
    check_language(
        [embed["title"], embed["footer"]["text"], *labels],
        language,
        ids=["robot-bert", "alice", "olivia"],
    )


async def test_a_restart_keeps_every_decision_and_the_old_message_still_works(
    fake_discord, workshop, kobo_settings
):
    alice = workshop.staff
    async with kobo_process(fake_discord, kobo_settings) as app:
        await augment_with_bert(fake_discord, alice)
        review = await open_review(fake_discord, alice)
        await press(fake_discord, review, decide_id(3, "keep"), alice)
        await press(fake_discord, review, decide_id(4, "drop"), alice)
        assert len(await app.services.store.reviews.all(1)) == 2
    # A new process on the same database file; the message and its buttons are Discord's.
    async with kobo_process(fake_discord, kobo_settings) as app:
        after = await press(fake_discord, review, decide_id(5, "keep"), workshop.admin)
        assert after.callback_type == UPDATE_MESSAGE
        decisions = await app.services.store.reviews.all(1)
        assert {line: d.decision for line, d in decisions.items()} == {
            3: "keep",
            4: "drop",
            5: "keep",
        }
        shown = fake_discord.get_message(review.id)
        assert "3 / 4 reviewed" in shown.embeds[0]["title"]
        assert "kept by alice" in description(shown) and "kept by olivia" in description(shown)
        # A decision made before the restart is still the one that counts.
        again = await press(fake_discord, review, decide_id(3, "drop"), workshop.admin)
        assert again.responses[0].content == "alice decided this example already (keep)."


async def test_finishing_stores_a_new_dataset_and_leaves_the_source_as_it_was(
    language, kobo, fake_discord, workshop
):
    locale = DISCORD_LOCALES[language]
    alice = workshop.staff
    await augment_with_bert(fake_discord, alice)
    store = kobo.services.store
    source = await store.datasets.get(1)
    source_bytes = kobo.services.datasets.file_path(source).read_bytes()
    source_lines = [json.loads(line) for line in source_bytes.decode().splitlines()]

    review = await open_review(fake_discord, alice, locale=locale)
    await press(fake_discord, review, decide_id(3, "keep"), alice, locale)
    await press(fake_discord, review, decide_id(4, "drop"), alice, locale)
    click = await fake_discord.press_button(review, decide_id(5, "edit"), user=alice, locale=locale)
    form = await click.wait_modal()
    assert form["title"] == text("review.edit.title", language, line=5)
    saved = await fake_discord.submit_modal(
        click, {text("review.edit.label", language): "ペンギンは何を食べますか？"}
    )
    await saved.wait_callback()
    assert saved.callback_type == UPDATE_MESSAGE
    assert "ペンギンは何を食べますか？" in description(fake_discord.get_message(review.id))
    # Line 6 stays undecided; "finish, dropping the rest".
    finishing = await fake_discord.press_button(
        review, "kobo:review:1:finish:drop", user=alice, locale=locale
    )
    done = await finishing.wait_for(
        lambda i: i.final_message if i.final_message and "#2" in i.final_message.content else None
    )
    assert not done.ephemeral
    assert done.content.splitlines()[0] == text(
        "review.finished",
        language,
        source=1,
        dataset=2,
        examples=4,
        kept=1,
        edited=1,
        dropped=1,
        undecided=1,
        undecided_as=text("curation.undecided_were.drop", language),
    )

    reviewed = await store.datasets.get(2)
    lines = [
        json.loads(line)
        for line in kobo.services.datasets.file_path(reviewed).read_bytes().decode().splitlines()
    ]
    edited = {**source_lines[4], "messages": list(source_lines[4]["messages"])}
    edited["messages"][1] = {"role": "user", "content": "ペンギンは何を食べますか？"}
    # The originals, the kept example, the edited one; not the dropped or the undecided one.
    assert lines == [source_lines[0], source_lines[1], source_lines[2], edited]
    assert reviewed.operation == "review"
    assert [a.parents for a in await store.datasets.lineage(2)] == [(1,), ()]
    assert {k: reviewed.details[k] for k in ("kept", "dropped", "edited", "undecided")} == {
        "kept": 1,
        "dropped": 1,
        "edited": 1,
        "undecided": 1,
    }
    # The source is exactly as it was.
    assert kobo.services.datasets.file_path(source).read_bytes() == source_bytes
    assert await store.datasets.get(1) == source
    assert [e.record.json for e in await store.examples.all(1)] == [
        json.dumps(line, ensure_ascii=False) for line in source_lines
    ]

    # Finishing again by command, keeping the undecided example: another new dataset.
    command = await fake_discord.invoke(
        "review", {"dataset": 1, "finish": True, "undecided": "keep"}, user=alice, locale=locale
    )
    kept_all = await command.wait_for(
        lambda i: i.final_message if i.final_message and "#3" in i.final_message.content else None
    )
    assert text("curation.undecided_were.keep", language) in kept_all.content
    assert (await store.datasets.get(3)).example_count == 5
    # The same again makes nothing new.
    same = await fake_discord.invoke(
        "review", {"dataset": 1, "finish": True, "undecided": "keep"}, user=alice, locale=locale
    )
    told = await same.wait_for(
        lambda i: i.final_message if i.final_message and "#3" in i.final_message.content else None
    )
    assert told.content == text("review.finished_before", language, dataset=3)
    assert await store.datasets.count() == 3


@pytest.mark.parametrize("review_by", ["staff", "everyone"])
async def test_who_may_review_is_a_setting(language, kobo, fake_discord, workshop, review_by):
    locale = DISCORD_LOCALES[language]
    kobo.settings.review_by = review_by
    await augment_with_bert(fake_discord, workshop.staff)
    review = await open_review(fake_discord, workshop.staff, locale=locale)
    click = await press(fake_discord, review, decide_id(3, "keep"), workshop.child, locale)
    decision = await kobo.services.store.reviews.get(1, 3)
    if review_by == "everyone":
        assert click.callback_type == UPDATE_MESSAGE
        assert decision.decided_by_name == "bob"
    else:
        (refused,) = click.responses
        assert refused.ephemeral
        assert refused.content == text("review.staff_only", language)
        assert decision is None
    # Finishing stays staff's either way.
    finishing = await press(
        fake_discord, review, "kobo:review:1:finish:keep", workshop.child, locale
    )
    assert finishing.responses[0].content == text("review.finish_staff_only", language)
    assert await kobo.services.store.datasets.count() == 1


async def test_children_cannot_open_or_finish_a_review_by_command(kobo, fake_discord, workshop):
    show_every_command_to_everyone(fake_discord, workshop)
    await augment_with_bert(fake_discord, workshop.staff)
    reply = await (
        await fake_discord.invoke("review", {"dataset": 1}, user=workshop.child)
    ).wait_response()
    assert reply.ephemeral and "Only workshop staff can use /review" in reply.content


async def test_a_dataset_without_augmented_examples_has_nothing_to_review(
    language, kobo, fake_discord, workshop
):
    csv = "user,assistant\r\nこんにちは,やあ！\r\n".encode()
    await (
        await fake_discord.invoke(
            "augment",
            {
                "file": fake_discord.attachment("a.csv", csv),
                "method": "duplicate",
                "count": 1,
                "system_prompt": "あなたはロボットです。",
            },
            user=workshop.staff,
        )
    ).wait_for(lambda i: i.final_message if i.final_message and i.final_message.files else None)
    for dataset, key in ((1, "review.nothing_to_review"), (9, "curation.no_dataset")):
        reply = await (
            await fake_discord.invoke(
                "review",
                {"dataset": dataset},
                user=workshop.staff,
                locale=DISCORD_LOCALES[language],
            )
        ).wait_response()
        assert reply.ephemeral and reply.content == text(key, language, dataset=dataset)

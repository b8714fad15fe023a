"""The whole workshop, as a volunteer runs it, in Japanese and in English: /template, fill it in,
/augment, /train, the channel's notices, assigning the model to a robot, /stacks.

Through the fake Discord (the volunteer's client and the server set to one language), the fake
OpenAI and the real device API. Every screen is checked on its catalogue texts, and for having
nothing left in the other language.
"""

from __future__ import annotations

import io
import json

import aiohttp
import discord
import openpyxl
import pytest

from augment.template import DATA_SHEET
from i18n import text
from tests.augment.template_sheets import filled
from tests.cogs.screens import check_language, english_left, modal_texts, screen_texts
from tests.cogs.training.test_training_e2e import BASE, MODEL, button
from tests.cogs.training.test_training_languages import usd
from tests.conftest import DISCORD_LOCALES, following

DEFAULT_MODEL = "gpt-4o-mini"  # kobo_settings' default_model
# What a volunteer writes under the template's examples, in their own language, and the name
# they save the file under.
WORKSHOP = {
    "ja": {
        "file": "スタックチャン.xlsx",
        "rows": [(f"すきな色はなに？ {n}", f"ぼくは青が好きだよ。{n}") for n in range(1, 11)],
        "half_filled": ("なぞなぞを出して！", None),
    },
    "en": {
        "file": "stack-chan.xlsx",
        "rows": [(f"What colour do you like? {n}", f"I like blue! {n}") for n in range(1, 11)],
        "half_filled": ("Tell me a riddle!", None),
    },
}


@pytest.fixture
def kobo_settings(kobo_settings, fake_openai, language):
    return following(kobo_settings, fake_openai)


async def test_the_whole_workshop_reads_in_the_volunteers_language(
    kobo, fake_discord, fake_openai, workshop, language
):
    locale = DISCORD_LOCALES[language]
    staff = workshop.staff
    seen: list[str] = []  # every text the volunteer and the channel read, checked at the end

    def t(key: str, **params: object) -> str:
        return text(key, language, **params)

    async def command(name: str, options: dict, user=staff):
        return await fake_discord.invoke(name, options, user=user, locale=locale)

    # /template: the sheet, with headers and instructions in the volunteer's language.
    reply = await (await command("template", {})).wait_response()
    assert reply.content == t("template.reply", guide=t("template.sheet.guide"))
    seen += screen_texts(reply)
    template = reply.file("kobo-template.xlsx").data
    header = [c.value for c in openpyxl.load_workbook(io.BytesIO(template))[DATA_SHEET][1]]
    assert header == [t(f"template.header.{c}") for c in ("system", "user", "assistant")]

    # Filled in below the two examples: ten rows, and one whose answer is still missing.
    work = WORKSHOP[language]
    system = t("template.example_1.system")
    rows = [(system, *row) for row in [*work["rows"], work["half_filled"]]]
    sheet = filled(template, rows)
    half_filled_row = 4 + len(work["rows"])  # filled() writes from row 4, below the examples

    # /augment: the summary names the skipped row the way Excel shows it.
    options = {
        "file": fake_discord.attachment(work["file"], sheet),
        "method": "duplicate",
        "count": 2,
    }
    augmented = await (await command("augment", options)).wait_for(
        lambda i: i.final_message if i.final_message and i.final_message.files else None
    )
    stem = work["file"].removesuffix(".xlsx")
    skipped = t(
        "augment.skip.row",
        row=t("place.row", row=half_filled_row),
        reason=t("augment.skip.assistant_empty"),
    )
    assert augmented.content.splitlines() == [
        t(
            "augment.reply.result",
            file=discord.utils.escape_markdown(work["file"]),
            dataset=1,
            method="duplicate",
            count=2,
        ),
        "- " + t("augment.summary.rows_read", count=13),
        "- " + t("augment.summary.skipped", count=1, rows=skipped),
        "- " + t("augment.summary.examples_out", total=24, original=12, new=12, method="duplicate"),
        "- " + t("augment.summary.fix_skipped"),
        t("augment.reply.train_it", dataset=1),
    ]
    seen += screen_texts(augmented)
    jsonl = augmented.file(f"{stem}-duplicate.jsonl").data.decode()
    examples = [json.loads(line)["messages"] for line in jsonl.splitlines()]
    assert len(examples) == 24
    assert [m["content"] for m in examples[-1]] == [system, *work["rows"][-1]]

    listed = await (await command("datasets list", {})).wait_response()
    assert listed.embeds[0]["title"] == t("lists.datasets.title")
    seen += screen_texts(listed)

    # /train with that dataset, picked from the suggestions.
    dataset_name = f"{stem}-duplicate"
    suggested = await fake_discord.autocomplete(
        "train",
        {"backend": "openai", "base_model": BASE, "dataset": ""},
        focused="dataset",
        user=staff,
        locale=locale,
    )
    assert suggested == [
        {"name": t("training.choice.dataset", id=1, name=dataset_name, count=24), "value": 1}
    ]
    seen += [choice["name"] for choice in suggested]
    preview = await (
        await command("train", {"backend": "openai", "base_model": BASE, "dataset": 1})
    ).wait_response()
    source = t("training.source.dataset", id=1, name=discord.utils.escape_markdown(dataset_name))
    embed = preview.embeds[0]
    assert embed["title"] == t("training.preview.title", source=source)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields[t("training.preview.examples")] == t(
        "training.preview.valid_lines", valid=24, lines=24
    )
    # 24 examples: OpenAI's "auto" gives 100 // 24 = 4 epochs.
    assert t("training.preview.auto_epochs", epochs=4) in fields[t("training.field.estimated_cost")]
    assert embed["footer"]["text"] == t("training.preview.press_start")
    seen += screen_texts(preview)

    pressed = await fake_discord.press_button(
        preview, button(preview, t("training.button.start")), user=staff, locale=locale
    )
    announcement = await pressed.wait_for(
        lambda i: next((m for m in i.followups if m.content.startswith("🚀")), None)
    )
    job_id = announcement.content.split("`")[1]
    job = f"`{job_id}`"
    assert fake_discord.get_message(preview.id).content == t("training.started", job=job)
    record = (await kobo.services.finetune.get_job(job_id)).job
    assert announcement.content == t(
        "training.notice.started",
        who=staff.mention,
        job=job,
        model=f"`{BASE}`",
        source=source,
        cost=usd(record.estimated_cost_usd, language),
    )
    seen += [fake_discord.get_message(preview.id).text, *screen_texts(announcement)]

    # The channel's notices while OpenAI trains, and when it is done.
    fake_openai.advance(job_id, "running")
    running = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("🏃")
    )
    assert running.content == t("training.notice.running", job=job, model=f"`{BASE}`")
    fake_openai.add_metrics(job_id, step=10, train_loss=1.234)
    progress = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("📈")
    )
    assert progress.content == t(
        "training.notice.progress_loss", job=job, step="10/100", loss="1.234"
    )
    fake_openai.succeed(job_id, model=MODEL, duration_s=3_900)
    done = await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: m.content.startswith("✅")
    )
    assert done.content == t(
        "training.notice.succeeded", who=staff.mention, job=job, model=f"`{MODEL}`"
    )
    fields = {f["name"]: f["value"] for f in done.embeds[0]["fields"]}
    assert fields[t("training.field.duration")] == t("training.duration.hours", hours=1, minutes=5)
    assert fields[t("training.field.assign_it")] == t("training.notice.assign_command", model=MODEL)
    seen += [m.text for m in (running, progress)] + screen_texts(done)

    jobs = await (await command("jobs", {})).wait_response()
    assert f"`{job_id}` {t('training.status.succeeded')}" in jobs.embeds[0]["description"]
    seen += screen_texts(jobs)

    # Robot 4 gets the model from the notice's button, robot 7 with /assign.
    click = await fake_discord.press_button(
        done, button(done, t("training.button.assign")), user=staff, locale=locale
    )
    form = await click.wait_modal()
    assert modal_texts(form) == [t("training.assign.title"), t("training.assign.robot_number")]
    seen += modal_texts(form)
    submitted = await fake_discord.submit_modal(click, {t("training.assign.robot_number"): "4"})
    assigned = await submitted.wait_response()
    default = t("robots.default_model", model=DEFAULT_MODEL)
    new = t("robots.model", model=MODEL)
    assert assigned.content == t("robots.changed", stack_id=4, old=default, new=new)
    suggested = await fake_discord.autocomplete(
        "assign", {"stack_id": 7, "model": "kobo"}, focused="model", user=staff, locale=locale
    )
    assert [choice["value"] for choice in suggested] == [MODEL]
    by_command = await (await command("assign", {"stack_id": 7, "model": MODEL})).wait_response()
    assert by_command.content == t("robots.changed", stack_id=7, old=default, new=new)
    seen += screen_texts(assigned) + screen_texts(by_command)

    # Robot 4 asks for its model; robot 7 is still off.
    url = f"http://127.0.0.1:{kobo.device_api_port}/get_text?number=4"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert await response.read() == f'{{"message":"{MODEL}"}}'.encode()

    # /stacks: both robots, who set them, and which one has asked.
    stacks = await (await command("stacks", {}, user=workshop.child)).wait_response()
    embed = stacks.embeds[0]
    assert embed["title"] == t("robots.stacks.title")
    robot_4, robot_7 = embed["description"].splitlines()
    # Up to the Discord timestamp of when it was set, which each reader's client shows.
    by_alice = t("robots.stacks.assigned", model=new, by=staff.name, when="\0").split("\0")[0]
    assert robot_4.startswith(f"**4** · {by_alice}<t:")
    assert robot_7.endswith(t("robots.stacks.never"))
    assert embed["footer"]["text"] == " · ".join(
        [
            t("lists.page", page=1, pages=1),
            t("robots.stacks.footer", robots=2, never=1, model=DEFAULT_MODEL),
        ]
    )
    seen += screen_texts(stacks)

    # People's and models' names are shown as they are.
    check_language(seen, language, ids=[staff.name, DEFAULT_MODEL])


def test_the_screen_check_sees_english_left_in_a_japanese_screen():
    # What check_language above relies on: ids, code, mentions, commands, files pass; words don't.
    screen = (
        "✅ <@123> ファインチューニング `ftjob-abc` が完了しました: `ft:gpt-4o-mini:acme:x`\n"
        "`/train dataset:1` で学習を始められます。stack-chan.xlsx · alice さん <t:17:R>"
    )
    assert english_left(screen, ids=["alice"]) == set()
    assert english_left("「開始」を押すと Start training", ids=["alice"]) == {"Start", "training"}
    with pytest.raises(AssertionError, match="English left in Japanese screens"):
        check_language(["Started `ftjob-abc`."], "ja")
    with pytest.raises(AssertionError, match="Japanese in English screens"):
        check_language(["Started. 開始しました"], "en")

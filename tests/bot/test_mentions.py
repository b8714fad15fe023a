"""Nothing kobo sends pings anyone because of user text; only a job's owner is notified."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.augment.conftest import JAPANESE_RIGGED
from tests.augment.models import build_model, japanese_tokenizer
from tests.cogs.training.test_training_e2e import button
from tests.fakes.discord import FakeDiscord

SYSTEM = "あなたはスタックチャンです。"


@pytest.fixture(scope="module")
def rigged_model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ja-rigged-mentions")
    return build_model(directory, japanese_tokenizer(directory), rigged=JAPANESE_RIGGED)


@pytest.fixture
def kobo_settings(kobo_settings, rigged_model_dir, fake_openai):
    return kobo_settings.model_copy(
        update={
            "augment_model": str(rigged_model_dir),
            "openai_api_key": SecretStr(fake_openai.api_key),
            "openai_base_url": fake_openai.base_url,
            "finetune_poll_seconds": 0.2,
        }
    )


def csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["system,user,assistant", *(",".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


async def test_user_text_pings_nobody_and_the_job_owner_is_notified(
    kobo, fake_discord: FakeDiscord, fake_openai, workshop
):
    staff_role = workshop.staff.roles[0]
    hostile = f"@everyone @here <@&{staff_role.id}> <@{workshop.child.id}>"
    rows = [(SYSTEM, f"{hostile} 公園で犬と遊びたい。", f"いいね！{hostile}")] + [
        (SYSTEM, f"好きな花は何？ {hostile} {i}", f"ひまわりだよ。{i}") for i in range(12)
    ]

    # Sheet cells and the file name come back as sample sentences, dataset name and summary.
    augment = await fake_discord.invoke(
        "augment",
        {
            "file": fake_discord.attachment(f"robot {hostile}.csv", csv(rows)),
            "method": "bert",
            "count": 3,
        },
        user=workshop.staff,
    )
    result = await augment.wait_for(
        lambda i: (
            i.final_message if "→ dataset" in getattr(i.final_message, "content", "") else None
        ),
        timeout=60,
    )
    assert "New sentences, for example:" in result.content
    dataset_id = int(result.content.split("dataset **#")[1].split("**")[0])

    # A broken sheet: the error text names the hostile file.
    broken = await fake_discord.invoke(
        "augment",
        {"file": fake_discord.attachment(f"{hostile}.csv", b"a,b\n1,2\n"), "method": "bert"}
        | {"count": 2},
        user=workshop.staff,
    )
    await broken.wait_for(lambda i: hostile in getattr(i.final_message, "content", ""))

    # /train on that dataset (its name is hostile); the job fails with a hostile reason.
    preview = await (
        await fake_discord.invoke(
            "train",
            {"backend": "openai", "base_model": "gpt-4o-mini-2024-07-18", "dataset": dataset_id},
            user=workshop.staff,
        )
    ).wait_response()
    pressed = await fake_discord.press_button(
        preview, button(preview, "Start"), user=workshop.staff
    )
    started = await pressed.wait_for(
        lambda i: next((m for m in i.followups if "started fine-tune" in m.content), None)
    )
    job_id = started.content.split("`")[1]
    fake_openai.fail(job_id, f"{hostile} is not a valid file")
    await fake_discord.wait_for_channel_message(
        workshop.channel, lambda m: "failed" in m.content and hostile in m.content
    )

    sent = fake_discord.sent_mentions()
    assert sum("@everyone" in s.content for _, s in sent) >= 4  # the user text did go out
    pinged = [(message.id, s.pings) for message, s in sent if s.pings]
    assert all(
        not p.everyone and not p.roles and p.users == {workshop.staff.id} for _, p in pinged
    ), [(s.content, s.allowed_mentions, s.pings) for _, s in sent if s.pings]
    # The owner is notified when the job starts and when it fails; nobody else, ever.
    assert {started.id, *(m.id for m in fake_discord.channel_messages(workshop.channel))} >= {
        message_id for message_id, _ in pinged
    }
    assert len({message_id for message_id, _ in pinged}) == 2

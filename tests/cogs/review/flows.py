"""Steps of a review as people take them in Discord."""

from __future__ import annotations

from tests.cogs.datasets.test_augment_e2e import workshop_sheet
from tests.fakes.discord import FakeDiscord, FakeMember, FakeMessage


async def augment_with_bert(fake: FakeDiscord, staff: FakeMember) -> FakeMessage:
    """/augment the two-row sheet with bert, count 3: dataset #1, lines 1-2 the originals and
    3-6 the four new sentences."""
    sheet = fake.attachment("robot.xlsx", workshop_sheet())
    interaction = await fake.invoke(
        "augment", {"file": sheet, "method": "bert", "count": 3}, user=staff
    )
    return await interaction.wait_for(
        lambda i: i.final_message if i.final_message and i.final_message.files else None
    )


async def open_review(
    fake: FakeDiscord, staff: FakeMember, dataset: int = 1, locale: str = "en-US"
) -> FakeMessage:
    interaction = await fake.invoke("review", {"dataset": dataset}, user=staff, locale=locale)
    return await interaction.wait_response()


def decide_id(line: int, decision: str, dataset: int = 1, page: int = 1) -> str:
    return f"kobo:review:{dataset}:{page}:{line}:{decision}"


async def press(
    fake: FakeDiscord, message: FakeMessage, custom_id: str, user: FakeMember, locale="en-US"
):
    """``user`` presses a button of the review message; returns the interaction once answered."""
    click = await fake.press_button(message, custom_id, user=user, locale=locale)
    await click.wait_callback()
    return click

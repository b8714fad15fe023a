"""What happens when the bot answers an interaction.

Implements ``POST /interactions/{id}/{token}/callback`` (types 4 message, 5 deferred
message, 6 deferred update, 7 update message, 8 autocomplete result, 9 modal) and the
interaction webhook: ``GET/PATCH/DELETE /webhooks/{app}/{token}/messages/@original|{id}``
and ``POST /webhooks/{app}/{token}`` followups. Discord's rules that bots trip over are
enforced: one callback per interaction (40060), the 3 second callback deadline and
unknown tokens (10062), followups only after a callback (10015), and the first followup
after a deferred message replaces the "thinking..." placeholder.
Not implemented: PONG, premium-required and activity-launch callbacks.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakes.discord import interactions as ix
from tests.fakes.discord.interactions import FakeInteraction
from tests.fakes.discord.messages import (
    DiscordApiError,
    apply_edit,
    invalid_form,
    new_message,
)
from tests.fakes.discord.models import EPHEMERAL_FLAG, LOADING_FLAG, FakeFile, FakeMessage
from tests.fakes.discord.world import DiscordWorld

CHAT_INPUT_COMMAND_MESSAGE = 20  # message type of replies to slash commands
DEFAULT_MESSAGE = 0


def _unknown_interaction() -> DiscordApiError:
    return DiscordApiError(404, 10062, "Unknown interaction")


def _interaction_message(
    world: DiscordWorld,
    interaction: FakeInteraction,
    body: dict[str, Any],
    uploads: dict[int, FakeFile],
    **fields: Any,
) -> FakeMessage:
    message = new_message(
        body,
        uploads,
        host=world.host_file,
        channel_id=interaction.channel.id,
        guild_id=interaction.guild_id,
        author=world.bot_user,
        webhook_id=world.application_id,
        application_id=world.application_id,
        interaction_id=interaction.id,
        type=CHAT_INPUT_COMMAND_MESSAGE
        if interaction.type == ix.APPLICATION_COMMAND
        else DEFAULT_MESSAGE,
        **fields,
    )
    world.messages[message.id] = message
    return message


def create_callback(
    world: DiscordWorld,
    interaction_id: int,
    token: str,
    body: dict[str, Any],
    uploads: dict[int, FakeFile],
) -> dict[str, Any]:
    """Handle the initial response; returns the ``with_response`` callback body."""
    interaction = world.interactions.get(interaction_id)
    if interaction is None or interaction.token != token:
        raise _unknown_interaction()
    kind = body.get("type")
    deadline = world.response_deadline
    if (
        deadline is not None
        and asyncio.get_running_loop().time() - interaction.created_at > deadline
    ):
        interaction.rejected_callbacks.append(f"type {kind} after the {deadline:.1f}s deadline")
        raise _unknown_interaction()
    if interaction.callback_type is not None:
        interaction.rejected_callbacks.append(f"second callback type {kind}")
        raise DiscordApiError(400, 40060, "Interaction has already been acknowledged.")
    data = body.get("data") or {}
    message = _apply_callback(world, interaction, kind, data, uploads)
    interaction.callback_type = kind
    interaction.callback_data = data
    world.signal.notify()

    summary: dict[str, Any] = {
        "id": str(interaction.id),
        "type": interaction.type,
        "response_message_loading": kind == ix.DEFERRED_CHANNEL_MESSAGE,
        "response_message_ephemeral": bool(message and message.ephemeral),
    }
    reply: dict[str, Any] = {"interaction": summary}
    if message is not None and kind in (
        ix.CHANNEL_MESSAGE,
        ix.DEFERRED_CHANNEL_MESSAGE,
        ix.UPDATE_MESSAGE,
    ):
        summary["response_message_id"] = str(message.id)
        reply["resource"] = {"type": kind, "message": message.to_payload()}
    return reply


def _apply_callback(
    world: DiscordWorld,
    interaction: FakeInteraction,
    kind: Any,
    data: dict[str, Any],
    uploads: dict[int, FakeFile],
) -> FakeMessage | None:
    allowed = {
        ix.APPLICATION_COMMAND: {ix.CHANNEL_MESSAGE, ix.DEFERRED_CHANNEL_MESSAGE, ix.MODAL},
        ix.MESSAGE_COMPONENT: {
            ix.CHANNEL_MESSAGE,
            ix.DEFERRED_CHANNEL_MESSAGE,
            ix.DEFERRED_UPDATE_MESSAGE,
            ix.UPDATE_MESSAGE,
            ix.MODAL,
        },
        ix.AUTOCOMPLETE: {ix.AUTOCOMPLETE_RESULT},
        ix.MODAL_SUBMIT: {ix.CHANNEL_MESSAGE, ix.DEFERRED_CHANNEL_MESSAGE},
    }[interaction.type]
    if interaction.type == ix.MODAL_SUBMIT and interaction.source_message is not None:
        allowed = allowed | {ix.DEFERRED_UPDATE_MESSAGE, ix.UPDATE_MESSAGE}
    if kind not in allowed:
        interaction.rejected_callbacks.append(f"type {kind} not valid for a {interaction.kind}")
        raise invalid_form(
            "type",
            "INTERACTION_RESPONSE_TYPE_INVALID",
            f"Callback type {kind} is not valid for a {interaction.kind} interaction.",
        )

    if kind == ix.CHANNEL_MESSAGE:
        interaction.original = _interaction_message(world, interaction, data, uploads)
        interaction.touched(interaction.original)
        return interaction.original
    if kind == ix.DEFERRED_CHANNEL_MESSAGE:
        placeholder = {"flags": int(data.get("flags") or 0) & EPHEMERAL_FLAG}
        interaction.original = _interaction_message(
            world, interaction, placeholder, {}, allow_empty=True, flags=LOADING_FLAG
        )
        return interaction.original
    if kind in (ix.DEFERRED_UPDATE_MESSAGE, ix.UPDATE_MESSAGE):
        source = interaction.source_message
        assert source is not None  # guaranteed by the allowed-types table above
        interaction.original = source
        if kind == ix.UPDATE_MESSAGE:
            apply_edit(source, data, uploads, host=world.host_file)
            interaction.touched(source)
        return source
    if kind == ix.AUTOCOMPLETE_RESULT:
        choices = data.get("choices") or []
        if len(choices) > 25:
            raise invalid_form(
                "data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        interaction.autocomplete_choices = choices
        return None
    # MODAL
    if not data.get("title") or not data.get("custom_id") or not data.get("components"):
        raise invalid_form(
            "data", "BASE_TYPE_REQUIRED", "A modal needs title, custom_id and components."
        )
    interaction.modal = data
    return None


def webhook_interaction(world: DiscordWorld, application_id: int, token: str) -> FakeInteraction:
    """The interaction whose token this webhook URL uses (interaction webhooks only)."""
    if application_id == world.application_id:
        for interaction in world.interactions.values():
            if interaction.token == token:
                return interaction
    raise DiscordApiError(404, 10015, "Unknown Webhook")


def webhook_message(interaction: FakeInteraction, message_ref: str) -> FakeMessage:
    """``@original`` or a followup id, as long as it belongs to this interaction."""
    if message_ref == "@original":
        candidates = [interaction.original] if interaction.original else []
    else:
        candidates = [
            m
            for m in [interaction.original, *interaction.followups]
            if m and str(m.id) == message_ref
        ]
    if not candidates or candidates[0].deleted:
        raise DiscordApiError(404, 10008, "Unknown Message")
    return candidates[0]


def edit_webhook_message(
    world: DiscordWorld,
    interaction: FakeInteraction,
    message_ref: str,
    body: dict[str, Any],
    uploads: dict[int, FakeFile],
) -> FakeMessage:
    message = webhook_message(interaction, message_ref)
    apply_edit(message, body, uploads, host=world.host_file)
    interaction.touched(message)
    world.signal.notify()
    return message


def delete_webhook_message(
    world: DiscordWorld, interaction: FakeInteraction, message_ref: str
) -> None:
    message = webhook_message(interaction, message_ref)
    message.deleted = True
    world.signal.notify()


def create_followup(
    world: DiscordWorld,
    interaction: FakeInteraction,
    body: dict[str, Any],
    uploads: dict[int, FakeFile],
) -> FakeMessage:
    if interaction.callback_type is None:
        # Discord creates the interaction webhook only once the interaction is acknowledged.
        raise DiscordApiError(404, 10015, "Unknown Webhook")
    original = interaction.original
    if original is not None and original.loading and not interaction.followups:
        # The first followup after "thinking..." fills the placeholder (keeping its flags).
        apply_edit(original, body, uploads, host=world.host_file)
        interaction.touched(original)
        world.signal.notify()
        return original
    message = _interaction_message(world, interaction, body, uploads)
    interaction.followups.append(message)
    interaction.touched(message)
    world.signal.notify()
    return message

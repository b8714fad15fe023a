"""How /robot-key and /try answers look in Discord."""

from __future__ import annotations

import discord

from gateway.keys import IssuedKey, chat_endpoint
from gateway.service import Answer
from i18n import Language, text

# An embed's description holds 4,096 characters; an answer is cut to fit.
MAX_ANSWER_CHARS = 4000


def key_message(issued: IssuedKey, public_url: str | None, language: Language) -> str:
    lines = text(
        "gateway.key.issued",
        language,
        stack_id=issued.stack_id,
        key=issued.key,
        endpoint=chat_endpoint(public_url, language),
    )
    if issued.replaced:
        lines += "\n" + text("gateway.key.replaced", language, stack_id=issued.stack_id)
    return lines


def revoke_message(stack_id: int, revoked: bool, language: Language) -> str:
    key = "gateway.key.revoked" if revoked else "gateway.key.nothing_to_revoke"
    return text(key, language, stack_id=stack_id)


def try_embed(model: str, answer: Answer, language: Language) -> discord.Embed:
    said = answer.text
    if said and len(said) > MAX_ANSWER_CHARS:
        said = said[:MAX_ANSWER_CHARS] + "…"
    usage = answer.usage
    embed = discord.Embed(
        title=text("gateway.try.title", language, model=model),
        description=said or text("gateway.try.no_text", language),
        colour=discord.Colour.green(),
    )
    embed.set_footer(
        text=text(
            "gateway.try.footer",
            language,
            seconds=f"{answer.seconds:.1f}",
            prompt=usage.prompt_tokens,
            completion=usage.completion_tokens,
        )
    )
    return embed

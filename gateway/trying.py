"""Staff trying a model before giving it to a robot: /try and ``python -m bot try`` both ask
through :meth:`Gateway.answer`, so the routing (OpenAI or a local fine-tune) and the limits are
the robots' own; nothing is stored."""

from __future__ import annotations

import dataclasses

from gateway.service import Answer, Gateway
from i18n import LocalizedError, msg
from robots.model_ids import validate_model_id

# What staff may type (Discord caps an option at 6,000 characters; a robot's question is far
# shorter). /try's options and the shell's arguments share it.
MAX_TRY_CHARS = 2000


def check_said(said: str, name: str) -> str:
    """``said`` if it is 1 to MAX_TRY_CHARS characters; ``name`` names it in the message."""
    if not said.strip():
        raise LocalizedError(msg("shell.try.empty", name=name))
    if len(said) > MAX_TRY_CHARS:
        raise LocalizedError(
            msg("shell.try.too_long", name=name, length=len(said), limit=MAX_TRY_CHARS)
        )
    return said


async def try_model(
    gateway: Gateway, model: str, message: str, system_prompt: str | None = None
) -> Answer:
    """``model``'s answer to ``message``, as a robot would get it. Raises InvalidModelId for a
    name no robot could use, GatewayError when the model cannot answer."""
    model = validate_model_id(model)
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": message})
    policy = gateway.policy
    if system_prompt:  # what staff typed is what they want to try, trained prompt or not
        policy = dataclasses.replace(policy, system_prompt="keep")
    return await gateway.answer(model, {"messages": messages}, policy=policy)

"""``python -m bot try MODEL MESSAGE [--system TEXT]``: /try from a shell, with no Discord token.

The same engine as /try (gateway.trying over gateway.service): a local fine-tune goes to the
local engine (the embedded one, or LOCAL_ENGINE_URL), any other name to OpenAI, with the robots'
limits. This process has its own place in line (GATEWAY_MAX_CONCURRENT), not the bot's. Nothing
is stored. Exit status: 0 answered, 2 refused (a bad model name, an empty or too long text),
1 the model could not answer (the message says why).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bot.logs import configure_logging
from bot.shell import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, open_existing_database
from config import load_settings
from config.settings import RobotsCommandSettings
from gateway.errors import GatewayError
from gateway.service import Answer, Gateway
from gateway.trying import check_said, try_model
from i18n import Language, LocalizedError, language_from_env, text
from robots.model_ids import validate_model_id


def add_try_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "try",
        help="ask a model the way a robot would (as /try)",
        description="Ask any model kobo knows (OpenAI models and fine-tunes, local fine-tunes) "
        "through the robots' routing and limits; print the answer, the time and the tokens.",
    )
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("message", metavar="MESSAGE", help="what to say to the model")
    parser.add_argument("--system", help="a system prompt to use instead of the usual one")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def run_try(args: argparse.Namespace) -> int:
    settings = load_settings(RobotsCommandSettings)
    language: Language = settings.kobo_language or language_from_env()
    # The answer or the refusal says what happened; the gateway's warnings (an upstream's
    # refusal) would only repeat it. Errors, bugs among them, still show, secrets scrubbed.
    keys = (settings.openai_api_key, settings.local_engine_api_key)
    configure_logging("ERROR", keys)
    try:
        return asyncio.run(_run(args, settings, language))
    except GatewayError as failed:  # a LocalizedError too: caught first
        print(f"kobo try: {failed.render(language)}", file=sys.stderr)
        return EXIT_FAILED
    except LocalizedError as refused:
        print(f"kobo try: {refused.render(language)}", file=sys.stderr)
        return EXIT_BAD_INPUT


async def _run(args: argparse.Namespace, settings: RobotsCommandSettings, language: Language):
    model = validate_model_id(args.model)
    message = check_said(args.message, "MESSAGE")
    system = check_said(args.system, "--system") if args.system is not None else None
    db = await open_existing_database(settings.database_path)
    gateway = Gateway(settings, db, settings.default_model)
    try:
        answer = await try_model(gateway, model, message, system)
    finally:
        await gateway.close()
        await db.close()
    print(_as_json(model, answer) if args.json else _as_text(model, answer, language))
    return EXIT_OK


def _as_text(model: str, answer: Answer, language: Language) -> str:
    usage = answer.usage
    footer = text(
        "gateway.try.footer",
        language,
        seconds=f"{answer.seconds:.1f}",
        prompt=usage.prompt_tokens,
        completion=usage.completion_tokens,
    )
    said = answer.text or text("gateway.try.no_text", language)
    return "\n".join([text("shell.try.title", language, model=model), said, footer])


def _as_json(model: str, answer: Answer) -> str:
    usage = answer.usage
    payload = {
        "model": model,
        "text": answer.text,
        "seconds": round(answer.seconds, 3),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
    }
    return json.dumps(payload, ensure_ascii=False, indent=1)

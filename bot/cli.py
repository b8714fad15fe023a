"""Command line: ``python -m bot [run]``, ``python -m bot augment INPUT ...``,
``python -m bot train DATA ...``, ``python -m bot template OUT.xlsx``,
``python -m bot datasets list|search|show|merge|export``, ``python -m bot robots
list|assign|unassign|key`` and ``python -m bot try MODEL MESSAGE``: every slash command's twin."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot.logs import configure_logging
from bot.shell import EXIT_BAD_INPUT, refuse_undecodable
from config import Settings, load_settings
from config.settings import AugmentSettings
from i18n import LocalizedError, language_from_env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="kobo: the AI workshop's Discord bot"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the Discord bot and the device API (the default)")
    from bot.augment_cli import add_augment_parser

    add_augment_parser(commands)
    from bot.template_cli import add_template_parser

    add_template_parser(commands)
    from bot.datasets_cli import add_datasets_parser

    add_datasets_parser(commands)

    from bot.train_cli import add_train_parser

    add_train_parser(commands)
    from bot.robots_cli import add_robots_parser

    add_robots_parser(commands)
    from bot.try_cli import add_try_parser

    add_try_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        refuse_undecodable(arguments)
    except LocalizedError as refused:
        language = load_settings(AugmentSettings).kobo_language or language_from_env()
        print(f"kobo: {refused.render(language)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    args = build_parser().parse_args(arguments)
    if args.command == "augment":
        from bot.augment_cli import run_augment

        return run_augment(args)
    if args.command == "train":
        from bot.train_cli import run_train

        return run_train(args)
    if args.command == "template":
        from bot.template_cli import run_template

        return run_template(args)
    if args.command == "datasets":
        from bot.datasets_cli import run_datasets

        return run_datasets(args)
    if args.command == "robots":
        from bot.robots_cli import run_robots

        return run_robots(args)
    if args.command == "try":
        from bot.try_cli import run_try

        return run_try(args)
    settings = load_settings(Settings)
    configure_logging(
        settings.log_level,
        [settings.discord_token, settings.openai_api_key, settings.trainer_token],
    )
    from bot.app import serve

    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 130

"""Command line: ``python -m bot [run]``, ``python -m bot augment INPUT ...``,
``python -m bot train DATA ...``, ``python -m bot template OUT.xlsx`` and
``python -m bot datasets search|show|merge|export``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from bot.logs import configure_logging
from config import Settings, load_settings


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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

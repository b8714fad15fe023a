"""``python -m bot template OUT.xlsx``: write the workshop's sheet template (as /template)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from augment.template import template_xlsx
from bot.shell import EXIT_BAD_INPUT, protected_by
from config import DatasetStoreSettings, load_settings
from i18n import LANGUAGES, Language, LocalizedError, language_from_env, text
from storage.outputs import write_outputs


def add_template_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "template",
        help="write the workshop's sheet template (.xlsx)",
        description="Write the sheet template that /template attaches: a LearningData sheet "
        "to fill in and a sheet of instructions.",
    )
    parser.add_argument("output", type=Path, help="the .xlsx file to write")
    parser.add_argument(
        "--language",
        choices=LANGUAGES,
        help="the template's headers, examples and instructions (default: KOBO_LANGUAGE or LANG)",
    )


def run_template(args: argparse.Namespace) -> int:
    settings = load_settings(DatasetStoreSettings)  # where kobo's own files are: never replaced
    # The command line has no Discord locale: KOBO_LANGUAGE, else LANG as for gettext.
    language: Language = settings.kobo_language or language_from_env()
    output: Path = args.output
    if output.suffix.casefold() != ".xlsx":
        return _fail(text("template.cli.not_xlsx", language, path=output))
    try:
        # A crash or full disk leaves the old file (if any), never half a workbook.
        workbook = template_xlsx(args.language or language)
        write_outputs({"OUTPUT": (output, workbook)}, protected_by(settings))
    except LocalizedError as refused:  # storage.outputs.UnsafeOutput
        return _fail(refused.render(language))
    except OSError as exc:
        return _fail(
            text("template.cli.cannot_write", language, path=output, reason=exc.strerror or exc)
        )
    print(text("template.cli.wrote", language, path=output))
    return 0


def _fail(message: str) -> int:
    print(f"kobo template: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT

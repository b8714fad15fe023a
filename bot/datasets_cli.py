"""``python -m bot datasets search|show|merge|export ...``: the dataset store from a shell, over
the same database as the bot (DATABASE_PATH, DATA_DIR).

kobo's own messages follow ``KOBO_LANGUAGE``, else the locale (``LANG=ja_JP.UTF-8``: Japanese);
argparse's usage and help stay English.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from pathlib import Path

from config import DatasetStoreSettings, load_settings
from curation.export import EXPORT_FORMATS, export
from curation.imports import import_older_datasets
from curation.lineage import describe
from curation.merge import merge
from curation.search import search, search_words, snippet
from curation.store import DatasetStore, Person
from finetune.jsonl import line_place
from i18n import Language, LocalizedError, language_from_env, msg, text
from storage.database import Database, DatabaseError
from storage.files import write_atomically

EXIT_BAD_INPUT = 2
SEARCH_PAGE_SIZE = 20
SHOW_PAGE_SIZE = 50
CLI_USER = Person("cli", "command line")


def add_datasets_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "datasets",
        help="search, show, merge and export stored datasets",
        description="The datasets kobo stored (DATABASE_PATH, DATA_DIR), as /datasets shows them.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    found = actions.add_parser("search", help="examples holding every word, in every dataset")
    found.add_argument("words", nargs="+", help="what to find (each word must appear)")
    found.add_argument("--page", type=int, default=1)
    shown = actions.add_parser("show", help="a dataset's lineage and examples")
    shown.add_argument("dataset", type=int)
    shown.add_argument("--page", type=int, default=1)
    merged = actions.add_parser("merge", help="one new dataset from several, without duplicates")
    merged.add_argument("datasets", type=int, nargs="+")
    merged.add_argument("--name", help="the new dataset's name")
    exported = actions.add_parser("export", help="write a dataset as .xlsx, .csv or .jsonl")
    exported.add_argument("dataset", type=int)
    exported.add_argument("--format", choices=EXPORT_FORMATS, default="xlsx")
    exported.add_argument("-o", "--output", type=Path, help="default: dataset-ID.FORMAT here")


def run_datasets(args: argparse.Namespace) -> int:
    settings = load_settings(DatasetStoreSettings)
    language: Language = settings.kobo_language or language_from_env()
    try:
        return asyncio.run(_run(args, settings, language))
    except LocalizedError as refused:
        print(f"kobo datasets: {refused.render(language)}", file=sys.stderr)
        return EXIT_BAD_INPUT


async def _run(args: argparse.Namespace, settings: DatasetStoreSettings, language: Language) -> int:
    path = settings.database_path
    if not path.is_file():  # opening would make a new, empty database
        raise LocalizedError(msg("curation.cli.no_database", path=str(path)))
    try:
        db = await Database.open(path)
    except DatabaseError as exc:
        raise LocalizedError(
            msg("curation.cli.cannot_open", path=str(path), reason=str(exc.__cause__ or exc))
        ) from None
    try:
        store = DatasetStore.over(db, settings.data_dir)
        await import_older_datasets(store)
        if args.action == "search":
            return await _search(store, " ".join(args.words), args.page, language)
        if args.action == "show":
            return await _show(store, args.dataset, args.page, language)
        if args.action == "merge":
            return await _merge(store, args.datasets, args.name, language)
        return await _export(store, args.dataset, args.format, args.output, language)
    finally:
        await db.close()


async def _search(store: DatasetStore, query: str, page: int, language: Language) -> int:
    words = search_words(query)
    offset = (max(page, 1) - 1) * SEARCH_PAGE_SIZE
    found = await search(store, query, offset=offset, limit=SEARCH_PAGE_SIZE)
    for hit in found.hits:
        piece = snippet(hit.record.text, words)
        where = line_place(hit.line).render(language)
        print(f"#{hit.dataset_id} {where}: {piece.before}{piece.match}{piece.after}")
    pages = max(1, math.ceil(found.total / SEARCH_PAGE_SIZE))
    print(text("curation.cli.found", language, total=found.total, page=page, pages=pages))
    if not found.indexed:
        print(text("curation.search.scanned", language))
    return 0


async def _show(store: DatasetStore, dataset_id: int, page: int, language: Language) -> int:
    dataset = await store.datasets.get(dataset_id)
    if dataset is None:
        raise LocalizedError(msg("curation.no_dataset", dataset=dataset_id))
    print(text("curation.show.title", language, id=dataset.id, name=dataset.name))
    print(text("curation.show.lineage", language))
    for ancestor in await store.datasets.lineage(dataset_id):
        print(f"  {describe(ancestor).render(language)}")
    print(text("curation.show.examples", language))
    offset = (max(page, 1) - 1) * SHOW_PAGE_SIZE
    decisions = await store.reviews.all(dataset_id)
    for stored in await store.examples.page(dataset_id, offset=offset, limit=SHOW_PAGE_SIZE):
        decision = decisions.get(stored.line)
        mark = f" [{decision.decision}]" if decision else ""
        one_line = " → ".join(stored.record.text.splitlines()) or stored.record.json
        print(f"  {stored.line}{mark}: {one_line}")
    print(text("curation.show.footer", language, examples=dataset.example_count))
    return 0


async def _merge(store: DatasetStore, ids: list[int], name: str | None, language: Language) -> int:
    merged = await merge(store, ids, CLI_USER, name=name)
    sources = ", ".join(f"#{source.id}" for source in merged.sources)
    print(
        text(
            "curation.merge.done",
            language,
            sources=sources,
            dataset=merged.dataset.id,
            examples=merged.dataset.example_count,
            duplicates=merged.duplicates,
        )
    )
    return 0


async def _export(
    store: DatasetStore, dataset_id: int, file_format, output: Path | None, language: Language
) -> int:
    exported = await export(store, dataset_id, file_format)
    target = output or Path(exported.filename)
    try:
        await asyncio.to_thread(write_atomically, {target: exported.data})
    except OSError as exc:
        raise LocalizedError(
            msg("curation.cli.cannot_write", path=str(target), reason=exc.strerror or exc)
        ) from None
    print(text("curation.cli.wrote", language, path=target))
    return 0

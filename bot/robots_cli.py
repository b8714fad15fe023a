"""``python -m bot robots list|assign|unassign|key``: /stacks, /assign, /unassign and /robot-key
from a shell, over the bot's database (DATABASE_PATH), with no Discord token.

The same engines as the slash commands (robots.service, gateway.keys), so the same checks; the
bot and the device API read what this writes as they would a slash command's change (README,
"Robots from a shell"). ``--json`` prints one JSON document for scripts instead of sentences.
Exit status: 0 done (also "nothing to change"), 2 refused (nothing written), 1 the database
could not be written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from dataclasses import asdict
from typing import Any

from bot.shell import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, SHELL_USER, open_existing_database
from config import load_settings
from config.settings import RobotsCommandSettings
from gateway.keys import IssuedKey, RobotKeys, chat_endpoint
from i18n import Language, LocalizedError, language_from_env, text
from robots.service import RobotService
from robots.stack_ids import parse_stack_id
from storage.assignments import AssignmentChange, AssignmentRepository, RobotOverview
from storage.database import Database
from storage.last_seen import LastSeenRecorder
from storage.robot_keys import RobotKeyRepository

BY = {"by_id": SHELL_USER.id, "by_name": SHELL_USER.name}


def add_robots_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "robots",
        help="list robots, assign their models, make or revoke their keys",
        description="The robots kobo serves (DATABASE_PATH), as /stacks, /assign, /unassign and "
        "/robot-key handle them. Works while the bot runs.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listed = actions.add_parser("list", help="every known robot, its model and its chats")
    assigned = actions.add_parser("assign", help="point a robot at a model")
    assigned.add_argument("stack_id", metavar="STACK_ID")
    assigned.add_argument("model", metavar="MODEL")
    unassigned = actions.add_parser("unassign", help="the robot goes back to DEFAULT_MODEL")
    unassigned.add_argument("stack_id", metavar="STACK_ID")
    keyed = actions.add_parser("key", help="make a robot's chat key (printed once), or revoke it")
    keyed.add_argument("stack_id", metavar="STACK_ID")
    keyed.add_argument("--revoke", action="store_true", help="revoke the robot's key instead")
    for action in (listed, assigned, unassigned, keyed):
        action.add_argument("--json", action="store_true", help="print JSON for scripts")


def run_robots(args: argparse.Namespace) -> int:
    settings = load_settings(RobotsCommandSettings)
    language: Language = settings.kobo_language or language_from_env()
    try:
        return asyncio.run(_run(args, settings, language))
    except LocalizedError as refused:
        print(f"kobo robots: {refused.render(language)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except sqlite3.Error as exc:  # busy past the timeout, disk full, read-only file
        print(f"kobo robots: {settings.database_path}: {exc}", file=sys.stderr)
        return EXIT_FAILED


Report = tuple[Any, str]  # (what --json prints, what a person reads)


async def _run(
    args: argparse.Namespace, settings: RobotsCommandSettings, language: Language
) -> int:
    # Checked before the database is opened: a bad id changes nothing, not even a missing file.
    stack_id = None if args.action == "list" else parse_stack_id(args.stack_id, "STACK_ID")
    db = await open_existing_database(settings.database_path)
    try:
        payload, sentences = await _act(args, stack_id, db, settings, language)
    finally:
        await db.close()
    print(json.dumps(payload, ensure_ascii=False, indent=1) if args.json else sentences)
    return EXIT_OK


async def _act(
    args: argparse.Namespace,
    stack_id: int | None,
    db: Database,
    settings: RobotsCommandSettings,
    language: Language,
) -> Report:
    recorder = LastSeenRecorder(db, max_unassigned=settings.last_seen_max_unassigned)
    robots = RobotService(AssignmentRepository(db), recorder, settings.default_model)
    keys = RobotKeys(RobotKeyRepository(db))
    if args.action == "list":
        return _listed(await robots.overview(), settings.default_model, language)
    assert stack_id is not None
    if args.action == "assign":
        change = await robots.assign(stack_id, args.model, **BY)
        return _changed(change, settings.default_model, language)
    if args.action == "unassign":
        change = await robots.unassign(stack_id, **BY)
        return _changed(change, settings.default_model, language)
    if args.revoke:
        return _revoked(stack_id, await keys.revoke(stack_id, **BY), language)
    issued = await keys.issue(stack_id, **BY)
    return _issued(issued, settings.device_api_public_url, language)


def _model_text(model: str | None, default_model: str, language: Language) -> str:
    if model is None:
        return text("shell.robots.default_model", language, model=default_model)
    return model


def _listed(robots: list[RobotOverview], default_model: str, language: Language) -> Report:
    payload = {
        "default_model": default_model,
        "robots": [
            {
                **asdict(robot),
                "model": robot.assignment.model if robot.assignment else default_model,
            }
            for robot in robots
        ],
    }
    if not robots:
        return payload, text("shell.robots.empty", language, model=default_model)
    lines = [_robot_line(robot, default_model, language) for robot in robots]
    never = sum(1 for robot in robots if robot.last_seen_at is None)
    lines.append(
        text("shell.robots.footer", language, robots=len(robots), never=never, model=default_model)
    )
    return payload, "\n".join(lines)


def _robot_line(robot: RobotOverview, default_model: str, language: Language) -> str:
    assignment = robot.assignment
    model = (
        text(
            "shell.robots.assigned",
            language,
            model=assignment.model,
            by=assignment.assigned_by_name,
            when=assignment.assigned_at,
        )
        if assignment
        else _model_text(None, default_model, language)
    )
    seen = robot.last_seen_at or text("shell.robots.never", language)
    line = text("shell.robots.line", language, stack_id=robot.stack_id, model=model, seen=seen)
    if robot.usage is not None:
        usage = robot.usage
        line += text(
            "shell.robots.usage",
            language,
            requests=usage.requests,
            errors=usage.errors,
            tokens=usage.tokens,
        )
    return line


def _changed(change: AssignmentChange, default_model: str, language: Language) -> Report:
    payload = {
        "stack_id": change.stack_id,
        "old_model": change.old_model,
        "new_model": change.new_model,
        "changed": change.changed,
        "default_model": default_model,
    }
    new = _model_text(change.new_model, default_model, language)
    if change.old_model is None and change.new_model is None:
        key, params = "shell.robots.nothing_to_unassign", {"model": default_model}
    elif not change.changed:
        key, params = "shell.robots.unchanged", {"new": new}
    else:
        old = _model_text(change.old_model, default_model, language)
        key, params = "shell.robots.changed", {"old": old, "new": new}
    return payload, text(key, language, stack_id=change.stack_id, **params)


def _issued(issued: IssuedKey, public_url: str | None, language: Language) -> Report:
    endpoint = chat_endpoint(public_url, language)
    payload = {
        "stack_id": issued.stack_id,
        "key": issued.key,
        "endpoint": endpoint,
        "replaced": issued.replaced,
    }
    sentences = text(
        "shell.robots.key_issued",
        language,
        stack_id=issued.stack_id,
        key=issued.key,
        endpoint=endpoint,
    )
    if issued.replaced:
        sentences += "\n" + text("gateway.key.replaced", language, stack_id=issued.stack_id)
    return payload, sentences


def _revoked(stack_id: int, revoked: bool, language: Language) -> Report:
    key = "shell.robots.key_revoked" if revoked else "shell.robots.nothing_to_revoke"
    return {"stack_id": stack_id, "revoked": revoked}, text(key, language, stack_id=stack_id)

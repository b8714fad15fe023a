"""How robot assignments look in Discord messages."""

from __future__ import annotations

import discord

from bot.formatting import relative_time
from i18n import Language, Message, msg, text
from storage.assignments import AssignmentChange, RobotOverview

# Robots a /stacks page shows. A line is at most ~270 characters (a 10-digit number, a
# 128-character model, a 32-character name escaped, two timestamps, the chat counters): 12 fit
# in an embed's description (4,096).
STACKS_PAGE_SIZE = 12


def model_text(model: str | None, default_model: str) -> Message:
    """A robot's model in a reply; None is the default model, marked as such."""
    if model is None:
        return msg("robots.default_model", model=default_model)
    return msg("robots.model", model=model)


def change_message(change: AssignmentChange, default_model: str, language: Language) -> str:
    old = model_text(change.old_model, default_model).render(language)
    new = model_text(change.new_model, default_model).render(language)
    if not change.changed:
        return text("robots.unchanged", language, stack_id=change.stack_id, new=new)
    return text("robots.changed", language, stack_id=change.stack_id, old=old, new=new)


def stacks_embed(
    shown: list[RobotOverview], robots: list[RobotOverview], default_model: str, language: Language
) -> discord.Embed:
    """``shown``: this page's robots; ``robots``: all of them (for the footer)."""
    embed = discord.Embed(
        title=text("robots.stacks.title", language), colour=discord.Colour.blurple()
    )
    if not robots:
        embed.description = text("robots.stacks.empty", language, model=default_model)
        return embed
    embed.description = "\n".join(_robot_line(robot, default_model, language) for robot in shown)
    never = sum(1 for r in robots if r.last_seen_at is None)
    embed.set_footer(
        text=text(
            "robots.stacks.footer", language, robots=len(robots), never=never, model=default_model
        )
    )
    return embed


def _robot_line(robot: RobotOverview, default_model: str, language: Language) -> str:
    if robot.assignment:
        assignment = robot.assignment
        model = text(
            "robots.stacks.assigned",
            language,
            model=model_text(assignment.model, default_model).render(language),
            by=discord.utils.escape_markdown(assignment.assigned_by_name),
            when=relative_time(assignment.assigned_at),
        )
    else:
        model = model_text(None, default_model).render(language)
    seen = (
        relative_time(robot.last_seen_at)
        if robot.last_seen_at
        else text("robots.stacks.never", language)
    )
    line = text("robots.stacks.line", language, stack_id=robot.stack_id, model=model, seen=seen)
    if robot.usage is not None:
        usage = robot.usage
        line += text(
            "robots.stacks.usage",
            language,
            requests=usage.requests,
            errors=usage.errors,
            tokens=usage.tokens,
        )
    return line

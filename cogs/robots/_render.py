"""How robot assignments look in Discord messages."""

from __future__ import annotations

import discord

from bot.formatting import relative_time
from storage.assignments import AssignmentChange, RobotOverview

EMBED_LIMIT = 4000


def change_message(change: AssignmentChange, default_model: str) -> str:
    old = f"`{change.old_model}`" if change.old_model else f"`{default_model}` (default)"
    new = f"`{change.new_model}`" if change.new_model else f"`{default_model}` (default)"
    robot = f"Stack-chan **{change.stack_id}**"
    if not change.changed:
        return f"{robot} already uses {new}; nothing changed."
    return f"{robot}: {old} → {new}. It takes effect when the robot next boots."


def stacks_embed(robots: list[RobotOverview], default_model: str) -> discord.Embed:
    embed = discord.Embed(title="Stack-chan robots", colour=discord.Colour.blurple())
    if not robots:
        embed.description = (
            "No robot is assigned and none has asked for its model yet.\n"
            f"Robots get `{default_model}` until staff use `/assign`."
        )
        return embed
    lines = []
    for robot in robots:
        if robot.assignment:
            a = robot.assignment
            model = f"`{a.model}` by {a.assigned_by_name} {relative_time(a.assigned_at)}"
        else:
            model = f"`{default_model}` (default)"
        seen = relative_time(robot.last_seen_at)
        lines.append(f"**{robot.stack_id}** · {model} · last asked {seen}")
    shown, length = [], 0
    for line in lines:
        if length + len(line) + 1 > EMBED_LIMIT - 60:
            break
        shown.append(line)
        length += len(line) + 1
    if len(shown) < len(lines):
        shown.append(f"… and {len(lines) - len(shown)} more (see the device API's /api/v1/stacks)")
    embed.description = "\n".join(shown)
    never = sum(1 for r in robots if r.last_seen_at is None)
    embed.set_footer(text=f"{len(robots)} robots · {never} never asked · default {default_model}")
    return embed

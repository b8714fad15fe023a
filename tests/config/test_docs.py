"""The READMEs (English and Japanese) and .env.example list exactly the settings the code reads,
and the READMEs' command tables list exactly the slash commands the bot registers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import Settings
from tests.fakes.discord.commands import CHAT_INPUT

ROOT = Path(__file__).resolve().parents[2]

# Each README's own heading for the two tables (the Japanese one is for hosts and staff).
SETTINGS_HEADING = {"README.md": "Settings", "README.ja.md": "設定"}
COMMANDS_HEADING = {"README.md": "Commands", "README.ja.md": "コマンド"}
READMES = tuple(SETTINGS_HEADING)


def section(readme: str, heading: str) -> str:
    """The text under ``## heading`` up to the next second-level heading."""
    text = (ROOT / readme).read_text(encoding="utf-8")
    _, found, rest = text.partition(f"\n## {heading}\n")
    assert found, f"{readme} has no '## {heading}' section"
    return rest.split("\n## ", 1)[0]


def documented_settings(readme: str) -> set[str]:
    table = section(readme, SETTINGS_HEADING[readme])
    return set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE))


def documented_commands(readme: str) -> set[str]:
    """Every `/name` in the first column of the commands table (a row may name several)."""
    table = section(readme, COMMANDS_HEADING[readme])
    first_cells = re.findall(r"^\|([^|\n]*)\|", table, flags=re.MULTILINE)
    return {name for cell in first_cells for name in re.findall(r"`/([a-z_-]+)", cell)}


@pytest.mark.parametrize("readme", READMES)
def test_readme_settings_table_matches_the_code(readme):
    assert documented_settings(readme) == {name.upper() for name in Settings.model_fields}


async def test_both_readmes_list_the_commands_the_bot_registers(kobo, fake_discord, workshop):
    registered = {
        command["name"]
        for command in fake_discord.synced_commands(workshop.guild)
        if command.get("type", CHAT_INPUT) == CHAT_INPUT
    }
    assert "assign" in registered
    mismatches = {}
    for readme in READMES:
        documented = documented_commands(readme)
        if documented != registered:
            mismatches[readme] = {
                "missing from the table": sorted(registered - documented),
                "not a registered command": sorted(documented - registered),
            }
    assert not mismatches


def test_each_readme_links_to_the_other_at_the_top():
    for readme, other in (("README.md", "README.ja.md"), ("README.ja.md", "README.md")):
        top = (ROOT / readme).read_text(encoding="utf-8").splitlines()[:5]
        assert any(f"]({other})" in line for line in top), f"{readme} does not link {other}"


def test_env_example_only_names_real_settings():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?([A-Z_]+)=", text, flags=re.MULTILINE))
    assert named <= {name.upper() for name in Settings.model_fields}
    assert "DISCORD_TOKEN" in named and "OPENAI_API_KEY" in named

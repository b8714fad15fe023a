"""The README's settings table and .env.example list exactly the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from config import Settings

ROOT = Path(__file__).resolve().parents[2]


def documented_settings() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE))


def test_readme_settings_table_matches_the_code():
    assert documented_settings() == {name.upper() for name in Settings.model_fields}


def test_env_example_only_names_real_settings():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?([A-Z_]+)=", text, flags=re.MULTILINE))
    assert named <= {name.upper() for name in Settings.model_fields}
    assert "DISCORD_TOKEN" in named and "OPENAI_API_KEY" in named

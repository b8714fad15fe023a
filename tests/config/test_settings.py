from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import DeviceApiSettings, Settings, load_settings
from tests.ceilings import PROCESS_SECONDS

SETTING_NAMES = sorted(name.upper() for name in Settings.model_fields)


def run_settings(env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    code = "from config import Settings, load_settings; load_settings(Settings); print('ok')"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "PYTHONPATH": os.getcwd(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DISCORD_TOKEN": "  "}, "DISCORD_TOKEN is invalid"),
        ({"DISCORD_TOKEN": "abc", "GUILD_ID": "workshop"}, "GUILD_ID is invalid"),
        ({"DISCORD_TOKEN": "abc", "DEVICE_API_PORT": "99999"}, "DEVICE_API_PORT is invalid"),
        ({"DISCORD_TOKEN": "abc", "DEFAULT_MODEL": 'gpt"4'}, "DEFAULT_MODEL is invalid"),
        ({"DISCORD_TOKEN": "abc", "LOG_LEVEL": "loud"}, "LOG_LEVEL is invalid"),
        (
            {"DISCORD_TOKEN": "abc", "COST_CURRENCY": "YEN", "COST_RATE": "150"},
            "COST_CURRENCY is invalid: Value error, 'YEN' is not a currency code",
        ),
        (
            {"DISCORD_TOKEN": "abc", "COST_CURRENCY": "JPY", "COST_RATE": "0"},
            "COST_RATE is invalid",
        ),
        (
            {"DISCORD_TOKEN": "abc", "COST_CURRENCY": "JPY"},
            "COST_CURRENCY and COST_RATE go together: set both",
        ),
    ],
)
def test_a_bad_setting_ends_with_one_line_naming_it_and_status_2(env, variable, tmp_path):
    result = run_settings(env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("env", [{}, {"DISCORD_TOKEN": ""}])
def test_without_a_discord_token_the_settings_mean_running_without_discord(env, tmp_path):
    assert run_settings(env, tmp_path).returncode == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        patch.delenv("DISCORD_TOKEN", raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        assert Settings().discord_token is None


def test_settings_come_from_dotenv_and_secrets_are_not_echoed(tmp_path):
    (tmp_path / ".env").write_text("DISCORD_TOKEN=sekrit-token-value\nGUILD_ID=notanumber\n")
    result = run_settings({}, tmp_path)
    assert result.returncode == 2 and "GUILD_ID" in result.stderr
    assert "sekrit" not in result.stderr + result.stdout


def test_defaults_and_types(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "abc")
    monkeypatch.setenv("OPENAI_API_KEY", " ")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.device_api_port == 8000 and settings.device_api_host == "0.0.0.0"
    assert settings.default_model == "gpt-4o-mini"
    assert settings.openai_api_key is None  # blank means "not configured"
    assert settings.log_level == "DEBUG"
    assert "abc" not in repr(settings)
    assert (settings.cost_currency, settings.cost_rate) == (None, None)


def test_a_cost_currency_is_an_iso_code_known_to_babel(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "abc")
    monkeypatch.setenv("COST_CURRENCY", " jpy ")
    monkeypatch.setenv("COST_RATE", "150.5")
    settings = Settings()
    assert (settings.cost_currency, settings.cost_rate) == ("JPY", 150.5)


def test_device_api_alone_needs_no_discord_token(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert DeviceApiSettings().legacy_endpoint_enabled is True


@pytest.mark.parametrize("source", ["environment", ".env"])
def test_an_optional_setting_left_blank_takes_its_default(monkeypatch, tmp_path, source):
    # .env.example ships `GUILD_ID=`, `OPENAI_API_KEY=`...; Docker's env_file passes such
    # lines on as empty environment variables. Blank means "unset", for every setting.
    monkeypatch.chdir(tmp_path)
    blank = [name for name in SETTING_NAMES if name != "DISCORD_TOKEN"]
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    if source == ".env":
        lines = ["DISCORD_TOKEN=abc", *(f"{name}=" for name in blank)]
        (tmp_path / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        monkeypatch.setenv("DISCORD_TOKEN", "abc")
        for name in blank:
            monkeypatch.setenv(name, "")

    settings = load_settings(Settings)

    for name, field in Settings.model_fields.items():
        if name != "discord_token":
            expected = field.default
            if isinstance(expected, Path):  # a relative default, read against the folder
                expected = tmp_path / expected
            assert getattr(settings, name) == expected, name

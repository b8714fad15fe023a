"""Settings for every part of kobo, read from the environment and ``.env`` (pydantic-settings).

``DeviceApiSettings`` is all that ``python -m device_api`` needs (the robots' chat gateway,
``GatewaySettings``, included), ``AugmentSettings`` all that ``python -m bot augment`` needs,
``DatasetStoreSettings`` all that ``python -m bot datasets`` needs,
``RobotsCommandSettings`` all that ``python -m bot robots`` and ``python -m bot try`` need,
``TrainerSettings`` all that ``python -m trainer`` needs, ``TrainCommandSettings`` all that
``python -m bot train`` needs;
``Settings`` is the whole bot's. All are ``KoboSettings``
(a blank value means unset) and are read with :func:`load_settings`, which also finds out which
encoding ``.env`` was saved in (config/env_file.py).
Each field's environment variable is its name in upper case (``discord_token`` ->
``DISCORD_TOKEN``). The README's settings table lists them all; keep it in step.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from babel.numbers import is_currency
from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.env_file import EnvFileError, env_file_encoding
from i18n.languages import Language
from robots.model_ids import validate_model_id

ModelId = Annotated[str, AfterValidator(validate_model_id)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
TrainingDevice = Literal["auto", "cpu", "cuda"]

# Shared by the settings classes that name them (the bot's Settings inherits them all).
DEFAULT_DATABASE_PATH = Path("data/kobo.sqlite3")
DEFAULT_DATA_DIR = Path("data")


def absolute_path(path: Path) -> Path:
    """``path`` (``~`` expanded) made absolute against this process's working folder."""
    return path.expanduser().absolute()


class KoboSettings(BaseSettings):
    """What every settings class shares: where values come from and what a blank one means."""

    # env_ignore_empty: a blank value (``GUILD_ID=`` as .env.example ships it, or an empty
    # environment variable) means "unset", so the default applies; a required setting left
    # blank is reported as not set. load_settings picks the .env encoding (config/env_file.py);
    # env_file_encoding is for direct construction (tests).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore"
    )

    @field_validator("*", mode="after")
    @classmethod
    def _absolute_paths(cls, value: object) -> object:
        # Once, against the working folder of the process that read the settings: every process
        # kobo starts (the training worker runs in its job folder) is handed absolute paths.
        return absolute_path(value) if isinstance(value, Path) else value


class LoggingSettings(KoboSettings):
    log_level: LogLevel = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class DatabaseSettings(KoboSettings):
    database_path: Path = DEFAULT_DATABASE_PATH


def _blank_secret_is_none(value: SecretStr | None) -> SecretStr | None:
    return value if value and value.get_secret_value().strip() else None


class OpenAISettings(KoboSettings):
    """Where OpenAI is reached, and with which key (unset: kobo makes no OpenAI calls)."""

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None

    @field_validator("openai_api_key", mode="after")
    @classmethod
    def _blank_openai_key_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return _blank_secret_is_none(value)


class OpenAIFineTuneSettings(OpenAISettings):
    """What fine-tuning on OpenAI needs, in the bot and in ``python -m bot train``."""

    openai_timeout_seconds: float = Field(60.0, gt=0)
    openai_max_retries: int = Field(3, ge=0, le=10)
    # Replaces the built-in table of fine-tunable models and prices: a .json/.toml file path
    # or the JSON text itself (README, "Training").
    finetune_models: str | None = None


class GatewaySettings(OpenAISettings):
    """The robots' chat gateway (gateway/), served by the device API: where chats go, and the
    limits that protect the robots and the engine. README, "Robots that talk to kobo"."""

    data_dir: Path = DEFAULT_DATA_DIR
    # Local fine-tunes go to this OpenAI-compatible server (vLLM, a llama.cpp server) instead
    # of the engine kobo starts itself; it must serve each fine-tune under its kobo name.
    local_engine_url: str | None = None
    local_engine_api_key: SecretStr | None = None
    # The embedded engine (llama.cpp through xllamacpp): answers in parallel per base model,
    # context per answer, CPU threads (unset: every core), and the base models' GGUF type.
    local_engine_slots: int = Field(4, ge=1, le=64)
    local_engine_context_tokens: int = Field(2048, ge=256, le=131072)
    local_engine_threads: int | None = Field(None, ge=1, le=256)
    local_engine_base_type: Literal["q8_0", "f16"] = "q8_0"
    local_engine_start_seconds: float = Field(300.0, gt=0)
    gateway_max_answer_tokens: int = Field(160, ge=1, le=4096)
    # 600: an empty answer with the longest model name and id already takes about 400 bytes.
    gateway_max_reply_bytes: int = Field(1400, ge=600, le=1_000_000)
    gateway_temperature: float | None = Field(0.7, ge=0, le=2)
    gateway_system_prompt: Literal["replace", "keep"] = "replace"
    gateway_max_concurrent: int = Field(4, ge=1, le=256)
    gateway_max_queued: int = Field(32, ge=0, le=10_000)
    gateway_queue_seconds: float = Field(30.0, gt=0)
    gateway_upstream_timeout_seconds: float = Field(55.0, gt=0)
    gateway_max_request_bytes: int = Field(1_000_000, ge=1024)

    @field_validator("local_engine_api_key", mode="after")
    @classmethod
    def _blank_key_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return _blank_secret_is_none(value)


class DeviceApiSettings(GatewaySettings, DatabaseSettings, LoggingSettings):
    default_model: ModelId = "gpt-4o-mini"
    device_api_host: str = "0.0.0.0"
    device_api_port: int = Field(8000, ge=0, le=65535)
    device_api_token: SecretStr | None = None
    legacy_endpoint_enabled: bool = True
    last_seen_flush_seconds: float = Field(5.0, gt=0)
    last_seen_max_unassigned: int = Field(200, ge=0)
    device_api_max_connections: int = Field(256, ge=1)
    device_api_header_timeout_seconds: float = Field(10.0, gt=0)
    device_api_keepalive_seconds: float = Field(15.0, gt=0)

    @field_validator("device_api_token", mode="after")
    @classmethod
    def _blank_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return _blank_secret_is_none(value)


class TrainerSettings(DatabaseSettings, LoggingSettings):
    """What the local trainer needs (``python -m trainer``, or embedded in the bot)."""

    # Uploaded files, job folders (DATA_DIR/trainer/) and finished models (DATA_DIR/models/).
    data_dir: Path = DEFAULT_DATA_DIR
    # Loopback by default: anywhere else the trainer refuses to start without TRAINER_TOKEN.
    trainer_host: str = "127.0.0.1"
    trainer_port: int = Field(8100, ge=0, le=65535)
    trainer_token: SecretStr | None = None
    trainer_max_file_bytes: int = Field(100_000_000, ge=1)
    # Replaces/extends the table of local base models: a .json/.toml path or the text itself.
    local_base_models: str | None = None
    trainer_device: TrainingDevice = "auto"
    # The training process's CPU priority (Unix niceness, 0-19; higher yields more): robots'
    # answers from the embedded engine come before training (README, "Robots keep talking
    # while a model trains"; trainer/cpu_share.py).
    trainer_niceness: int = Field(19, ge=0, le=19)

    @field_validator("trainer_token", mode="after")
    @classmethod
    def _blank_trainer_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return _blank_secret_is_none(value)

    @field_validator("local_base_models", mode="after")
    @classmethod
    def _absolute_table_file(cls, value: str | None) -> str | None:
        # A file path, not the table's text (trainer/base_models.py tells them apart so too);
        # relative sources inside are read against the same folder when the table is loaded.
        if value and "\n" not in value and value.strip().lower().endswith((".json", ".toml")):
            return str(absolute_path(Path(value.strip())))
        return value


class AugmentSettings(KoboSettings):
    """What the augmentation engine needs; also all that ``python -m bot augment`` reads."""

    data_dir: Path = DEFAULT_DATA_DIR
    augment_model: str = "tohoku-nlp/bert-base-japanese-v3"
    augment_batch_size: int = Field(32, ge=1, le=1024)
    augment_top_k: int = Field(10, ge=1, le=100)
    augment_max_new_per_row: int = Field(20, ge=1, le=1000)
    augment_max_file_bytes: int = Field(5_000_000, ge=1)
    augment_max_rows: int = Field(5_000, ge=1)
    augment_default_system: str | None = None
    # ja or en for every text kobo writes; unset: each person's Discord language (the server's
    # for channel messages; LANG for the command line). Not "LANGUAGE": gettext reads that
    # variable, and desktops set it to lists like "ja:en".
    kobo_language: Language | None = None


class DatasetStoreSettings(DatabaseSettings, AugmentSettings):
    """What ``python -m bot datasets`` reads: the database, the data folder, the language."""


class RobotsCommandSettings(DeviceApiSettings, AugmentSettings):
    """What ``python -m bot robots`` and ``python -m bot try`` read: the database, the default
    model, the gateway's routing and limits, the language, and the device API's address."""

    # The device API as robots reach it (e.g. http://192.168.1.10:8000), for the SD-card lines
    # /robot-key and ``python -m bot robots key`` show; unset, they show a placeholder to fill in.
    device_api_public_url: str | None = None


class TrainerClientSettings(TrainerSettings):
    """Where the bot's fine-tunes on "this machine" go: a trainer embedded in the process (the
    TrainerSettings say how it listens), or the one at TRAINER_URL, sent TRAINER_TOKEN."""

    # A trainer running elsewhere (a GPU machine running ``python -m trainer``); then none is
    # started in this process.
    trainer_url: str | None = None


class TrainCommandSettings(
    AugmentSettings, TrainerClientSettings, OpenAIFineTuneSettings, GatewaySettings
):
    """What ``python -m bot train`` reads: the trainer's settings, OpenAI's for ``--backend
    openai``, the gateway's for where fine-tunes are served (the estimate's one-time GGUF
    export), and the augmentation's for turning a sheet into chat JSONL as /train does (and
    KOBO_LANGUAGE)."""


class Settings(RobotsCommandSettings, TrainerClientSettings, OpenAIFineTuneSettings):
    # Unset (or blank, as .env.example ships it): kobo runs without Discord, serving the robots
    # and the trainer, with the shell commands for staff (README, "Without Discord").
    discord_token: SecretStr | None = None
    # The server(s) kobo serves (one id, or several separated by commas); every other server
    # is refused. Unset: commands are synced globally but refused everywhere (README).
    guild_id: Annotated[tuple[int, ...] | None, NoDecode] = None
    # Who counts as staff: members with this role (name or id) and, when
    # staff_manage_guild is on, members with the Manage Server permission.
    staff_role: str | None = None
    staff_manage_guild: bool = True
    # Who may press keep / drop / edit under a /review message: staff, or every member (so
    # the children can vote). Opening and finishing a review stay staff's.
    review_by: Literal["staff", "everyone"] = "staff"

    finetune_poll_seconds: float = Field(60.0, gt=0)
    finetune_progress_seconds: float = Field(300.0, ge=0)
    finetune_max_file_bytes: int = Field(50_000_000, ge=1)
    # Costs are in USD; with both set they are also shown in this currency (an ISO code such as
    # JPY) at this many units per 1 USD, marked as approximate.
    cost_currency: str | None = None
    cost_rate: float | None = Field(None, gt=0)
    # Training on this machine with kobo's own trainer (README, "Training without a cloud
    # account"): embedded in the bot unless TRAINER_URL names a trainer elsewhere. On unless
    # set off: OpenAI is winding down self-serve fine-tuning (README, "Training").
    local_training: bool = True

    @field_validator("discord_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("discord_token", mode="after")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("the token is only spaces")
        return value

    @field_validator("guild_id", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value: object) -> object:
        if isinstance(value, int):
            return (value,)
        if isinstance(value, str):
            ids = [part.strip() for part in value.split(",") if part.strip()]
            for part in ids:
                if not part.isdigit():
                    raise ValueError(f"{part!r} is not a server id (digits, separated by commas)")
            return tuple(int(part) for part in ids) or None
        return value

    @field_validator("cost_currency", mode="after")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if len(code) != 3 or not is_currency(code):
            raise ValueError(f"{value!r} is not a currency code such as JPY, EUR or USD")
        return code

    @model_validator(mode="after")
    def _cost_currency_with_its_rate(self) -> Settings:
        if (self.cost_currency is None) != (self.cost_rate is None):
            raise ValueError(
                "COST_CURRENCY and COST_RATE go together: set both (e.g. JPY and 150) or neither"
            )
        return self


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    name = "_".join(str(part) for part in first["loc"]).upper() or "settings"
    if first["type"] == "missing":
        return f"{name} is not set (put it in the environment or .env)"
    return f"{name} is invalid: {first['msg']}"


S = TypeVar("S", bound=KoboSettings)


def load_settings(cls: type[S]) -> S:
    """Read settings, or end the process with one line naming the bad variable and status 2."""
    try:
        encoding = env_file_encoding(Path(cls.model_config["env_file"]))
        return cls(_env_file_encoding=encoding)
    except EnvFileError as exc:
        problem = str(exc)
    except ValidationError as exc:
        problem = _describe(exc)
    # No traceback and no input echo: the value may be a secret.
    print(f"kobo: configuration error: {problem}", file=sys.stderr)
    logging.shutdown()
    raise SystemExit(2) from None

"""Turn a test's ``{"name": value}`` into the option payload Discord would send.

The shape comes from the command definitions the bot synced, so a test writes
``invoke("assign", {"stack_id": 4, "model": "ft:x"})`` and gets correctly typed options,
``resolved`` data for users/roles/channels/attachments, and the refusals the Discord
client would show (missing required option, value outside ``choices``/``min``/``max``).
Subcommands and groups are addressed with a space: ``invoke("model list", {...})``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord.models import FakeChannel, FakeFile, FakeMember, FakeRole, FakeUser

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
NUMBER = 10
ATTACHMENT = 11


class InvalidInvocation(ValueError):
    """The test asked for an invocation the Discord client would not let a user send."""


@dataclass
class BuiltOptions:
    """Options for ``data.options`` plus the ``data.resolved`` objects they reference."""

    options: list[dict[str, Any]]
    resolved: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_resolved(self, kind: str, key: int, payload: dict[str, Any]) -> None:
        self.resolved.setdefault(kind, {})[str(key)] = payload


def find_subcommand(
    command: dict[str, Any], path: list[str]
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """Walk ``path`` (subcommand group/subcommand names) to the leaf's option definitions."""
    definitions: list[dict[str, Any]] = command.get("options", []) or []
    chain: list[tuple[str, int]] = []
    for part in path:
        match = next(
            (
                o
                for o in definitions
                if o["name"] == part and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)
            ),
            None,
        )
        if match is None:
            known = [
                o["name"] for o in definitions if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)
            ]
            raise InvalidInvocation(
                f"/{command['name']} has no subcommand {part!r}; subcommands here: {known}"
            )
        chain.append((part, match["type"]))
        definitions = match.get("options", []) or []
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in definitions):
        known = [o["name"] for o in definitions]
        raise InvalidInvocation(
            f"/{' '.join([command['name'], *path])} needs a subcommand; choose one of {known}"
        )
    return definitions, chain


def build_options(
    command: dict[str, Any],
    path: list[str],
    values: Mapping[str, Any],
    *,
    host_file: Callable[[FakeFile], None],
    focused: str | None = None,
) -> BuiltOptions:
    """Build ``data.options``/``data.resolved`` for ``values`` against ``command``'s definition."""
    definitions, chain = find_subcommand(command, path)
    label = "/" + " ".join([command["name"], *path])
    by_name = {d["name"]: d for d in definitions}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise InvalidInvocation(f"{label} has no option(s) {unknown}; it has {sorted(by_name)}")
    if focused is not None and focused not in by_name:
        raise InvalidInvocation(f"{label} has no option {focused!r} to focus")

    built = BuiltOptions(options=[])
    for definition in definitions:
        name = definition["name"]
        if name == focused:
            built.options.append(_focused_option(definition, values.get(name, "")))
            continue
        if name not in values or values[name] is None:
            # While autocompleting, Discord only sends what the user has filled in so far.
            if definition.get("required") and focused is None:
                raise InvalidInvocation(f"{label}: required option {name!r} is missing")
            continue
        value = _option_value(label, definition, values[name], built, host_file)
        built.options.append({"name": name, "type": definition["type"], "value": value})

    # Wrap leaf options in their subcommand/group options, innermost first.
    options = built.options
    for name, kind in reversed(chain):
        options = [{"name": name, "type": kind, "options": options}]
    built.options = options
    return built


def _focused_option(definition: dict[str, Any], typed: Any) -> dict[str, Any]:
    if not definition.get("autocomplete"):
        raise InvalidInvocation(f"option {definition['name']!r} does not use autocomplete")
    # The user is still typing, so Discord sends the raw text whatever the option type.
    return {
        "name": definition["name"],
        "type": definition["type"],
        "value": str(typed),
        "focused": True,
    }


def _option_value(
    label: str,
    definition: dict[str, Any],
    value: Any,
    built: BuiltOptions,
    host_file: Callable[[FakeFile], None],
) -> Any:
    name = definition["name"]
    kind = definition["type"]
    where = f"{label}: option {name!r}"
    if kind == STRING:
        if not isinstance(value, str):
            raise InvalidInvocation(f"{where} is a string, got {value!r}")
        _check_length(where, definition, value)
        _check_choice(where, definition, value)
        return value
    if kind == INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInvocation(f"{where} is an integer, got {value!r}")
        _check_range(where, definition, value)
        _check_choice(where, definition, value)
        return value
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInvocation(f"{where} is a number, got {value!r}")
        _check_range(where, definition, value)
        _check_choice(where, definition, value)
        return value
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise InvalidInvocation(f"{where} is a boolean, got {value!r}")
        return value
    if kind in (USER, MENTIONABLE) and isinstance(value, FakeMember | FakeUser):
        user = value.user if isinstance(value, FakeMember) else value
        built.add_resolved("users", user.id, user.to_payload())
        if isinstance(value, FakeMember):
            member = value.to_payload(with_permissions=True)
            del member["user"]  # resolved members omit the user, it sits in resolved.users
            built.add_resolved("members", user.id, member)
        return str(user.id)
    if kind in (ROLE, MENTIONABLE) and isinstance(value, FakeRole):
        built.add_resolved("roles", value.id, value.to_payload())
        return str(value.id)
    if kind == CHANNEL and isinstance(value, FakeChannel):
        built.add_resolved("channels", value.id, _resolved_channel(value))
        return str(value.id)
    if kind == ATTACHMENT:
        upload = _as_file(where, value)
        host_file(upload)
        built.add_resolved("attachments", upload.id, upload.to_payload(ephemeral=True))
        return str(upload.id)
    raise InvalidInvocation(f"{where} (type {kind}) cannot take {value!r}")


def _as_file(where: str, value: Any) -> FakeFile:
    if isinstance(value, FakeFile):
        return value
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], bytes | bytearray)
    ):
        return FakeFile(filename=value[0], data=bytes(value[1]))
    raise InvalidInvocation(
        f"{where} is an attachment: pass fake.attachment(filename, data) or (filename, bytes), "
        f"got {type(value).__name__}"
    )


def _resolved_channel(channel: FakeChannel) -> dict[str, Any]:
    return {
        "id": str(channel.id),
        "name": channel.name,
        "type": channel.type,
        "permissions": str((1 << 53) - 1),
        "parent_id": None,
        "guild_id": str(channel.guild_id),
    }


def _check_length(where: str, definition: dict[str, Any], value: str) -> None:
    low, high = definition.get("min_length"), definition.get("max_length")
    if low is not None and len(value) < low:
        raise InvalidInvocation(f"{where} needs at least {low} characters, got {len(value)}")
    if high is not None and len(value) > high:
        raise InvalidInvocation(f"{where} allows at most {high} characters, got {len(value)}")


def _check_range(where: str, definition: dict[str, Any], value: float) -> None:
    low, high = definition.get("min_value"), definition.get("max_value")
    if low is not None and value < low:
        raise InvalidInvocation(f"{where} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise InvalidInvocation(f"{where} must be <= {high}, got {value}")


def _check_choice(where: str, definition: dict[str, Any], value: Any) -> None:
    choices = definition.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        allowed = [c["value"] for c in choices]
        raise InvalidInvocation(f"{where} must be one of {allowed}, got {value!r}")

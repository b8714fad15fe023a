"""Refresh ``openai-subset.json`` from a local copy of OpenAI's published OpenAPI spec.

    python -m tests.openapi.extract_subset path/to/openai-openapi/openapi.yaml [--commit SHA]

The spec is https://github.com/openai/openai-openapi (MIT licence, LICENSE-openai-openapi
beside this file). Only what kobo's HTTP apps answer is kept: the success responses of the
operations in :data:`OPERATIONS`, OpenAI's error object, and every component schema they refer
to (followed through ``$ref`` until none is left). Descriptions and examples are dropped; the
schemas themselves are copied unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SUBSET_PATH = Path(__file__).with_name("openai-subset.json")
SOURCE = "https://github.com/openai/openai-openapi"

# (method, path under /v1) of every OpenAI operation the trainer or the gateway serves.
OPERATIONS = (
    ("post", "/chat/completions"),
    ("get", "/models"),
    ("get", "/models/{model}"),
    ("delete", "/models/{model}"),
    ("get", "/files"),
    ("post", "/files"),
    ("get", "/files/{file_id}"),
    ("delete", "/files/{file_id}"),
    ("post", "/fine_tuning/jobs"),
    ("get", "/fine_tuning/jobs"),
    ("get", "/fine_tuning/jobs/{fine_tuning_job_id}"),
    ("post", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel"),
    ("get", "/fine_tuning/jobs/{fine_tuning_job_id}/events"),
    ("get", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"),
)
ERROR_SCHEMA = "ErrorResponse"
DROPPED_KEYS = frozenset({"description", "example", "examples", "x-oaiMeta", "title"})
REF_PREFIX = "#/components/schemas/"


def load_spec(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml  # only for refreshing; the tests read the JSON subset

    return yaml.safe_load(text)


def extract(spec: dict[str, Any], source_commit: str | None = None) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method]
        responses = {
            status: {"content": _trimmed(response["content"])}
            for status, response in operation["responses"].items()
            if status.startswith("2") and response.get("content")
        }
        paths.setdefault(path, {})[method] = {"responses": responses}
    schemas = spec["components"]["schemas"]
    kept = _closure([paths, {"$ref": REF_PREFIX + ERROR_SCHEMA}], schemas)
    return {
        "openapi": spec["openapi"],
        "info": {
            "title": f"The part of {spec['info']['title']} that kobo serves",
            "version": spec["info"]["version"],
            "x-source": SOURCE,
            "x-source-commit": source_commit,
            "license": spec["info"].get("license", {"name": "MIT"}),
        },
        "x-error-schema": REF_PREFIX + ERROR_SCHEMA,
        "paths": paths,
        "components": {"schemas": {name: _trimmed(schemas[name]) for name in sorted(kept)}},
    }


def _closure(roots: list[Any], schemas: dict[str, Any]) -> set[str]:
    kept: set[str] = set()
    waiting = [name for root in roots for name in _refs(root)]
    while waiting:
        name = waiting.pop()
        if name not in kept:
            kept.add(name)
            waiting.extend(_refs(schemas[name]))
    return kept


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [r[len(REF_PREFIX) :] for k, r in node.items() if k == "$ref"]
        if any(k == "$ref" and not r.startswith(REF_PREFIX) for k, r in node.items()):
            raise ValueError(f"a $ref outside the component schemas: {node['$ref']}")
        return found + [name for value in node.values() for name in _refs(value)]
    if isinstance(node, list):
        return [name for value in node for name in _refs(value)]
    return []


def _trimmed(node: Any) -> Any:
    """``node`` without documentation. ``properties`` maps names to schemas, so a property
    called "description" or "title" is kept."""
    if isinstance(node, dict):
        return {
            key: (
                {name: _trimmed(schema) for name, schema in value.items()}
                if key == "properties"
                else _trimmed(value)
            )
            for key, value in node.items()
            if key not in DROPPED_KEYS or not isinstance(value, str | list | dict)
        }
    if isinstance(node, list):
        return [_trimmed(value) for value in node]
    return node


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="openapi.yaml or openapi.json of openai-openapi")
    parser.add_argument("--commit", help="the openai-openapi commit the copy is from")
    parser.add_argument("--output", type=Path, default=SUBSET_PATH)
    args = parser.parse_args(argv)
    subset = extract(load_spec(args.spec), args.commit)
    args.output.write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"{args.output}: {len(subset['components']['schemas'])} schemas", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

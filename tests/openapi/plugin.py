"""Fails a test when a response it got broke OpenAI's schema, even if the test caught the
:class:`~tests.openapi.schema.SchemaMismatch` (tests/conftest.py imports these hooks)."""

from __future__ import annotations

import pytest

from tests.openapi import clients
from tests.openapi.schema import SchemaMismatch


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    clients.mismatches.clear()
    try:
        result = yield
    except SchemaMismatch as error:
        raise _reported([error]) from None
    finally:
        found, clients.mismatches[:] = list(clients.mismatches), []
    if found:
        raise _reported(found)
    return result


def _reported(found: list[SchemaMismatch]) -> SchemaMismatch:
    """A fresh exception, its traceback this frame alone: the message names the route and the
    fields, and pytest's formatting of the SDK's deep async stacks can crash Python 3.11.7's
    parser ("AST constructor recursion depth mismatch")."""
    more = f"\n(and {len(found) - 1} more mismatches)" if len(found) > 1 else ""
    return SchemaMismatch(f"{found[0]}{more}")

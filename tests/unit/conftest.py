"""Unit tests are pure: a test that opens a socket or starts a process fails.

Such a test belongs in tests/integration. The attempt raises where it happens, and
the test fails at teardown even if the code under test caught that error.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


class ImpureTestError(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def no_network_or_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            attempts.append(what)
            raise ImpureTestError(f"a unit test {what}: move it to tests/integration")

        return refused

    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, refuse(f"called socket.{method}"))
    monkeypatch.setattr(subprocess, "Popen", refuse("started a process"))
    yield
    if attempts:
        pytest.fail(f"unit tests are pure, but this one {', '.join(sorted(set(attempts)))}")

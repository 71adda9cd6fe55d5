"""Fault tests: a PostgreSQL cluster of their own for the session, and a summary of
every trial (copies, lost, duplicated, unsure) at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import TRIALS
from tests.instances import PostgresInstance


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresInstance]:
    """Made once (initdb takes seconds); each stack empties its schema first."""
    with PostgresInstance() as instance:
        yield instance


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TRIALS:
        return
    terminalreporter.section("fault trials")
    for trial in TRIALS:
        terminalreporter.write_line(trial.line())
    lost = sum(t.lost for t in TRIALS)
    duplicated = sum(t.duplicated for t in TRIALS)
    unsure = sum(t.unsure for t in TRIALS)
    terminalreporter.write_line(
        f"all trials: lost {lost}, duplicated {duplicated}, unsure {unsure} "
        f"(found in the relay's log {sum(t.found for t in TRIALS)}, "
        f"resent {sum(t.not_found for t in TRIALS)})"
    )

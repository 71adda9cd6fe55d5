"""Processes dying and services restarting during a send to a few thousand readers:
every address ends with exactly one copy (after the operator's look at the unsure
deliveries, which only a kill -9 makes here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.faults.harness import Stack, Trial, running_stack
from tests.instances import CeleryProcess, PostgresInstance

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning:aiosmtpd.*")]

READERS = 3000


def _busy_worker(stack: Stack) -> CeleryProcess | None:
    """A live worker running a send_batch (by its log), the busiest one."""
    busy = [(stack.running_batches(w), n, w) for n, w in enumerate(stack.live_workers())]
    best = max(busy, default=None, key=lambda t: t[:2])
    return best[2] if best is not None and best[0] > 0 else None


def _sweeps(stack: Stack) -> tuple[int, int]:
    """What the sweeps logged: claims given back, rows made unsure."""
    released = unsure = 0
    for worker in stack.workers:
        for back, lost in re.findall(
            r"sweep: (\d+) expired claims back to pending, (\d+) unsure", worker.text()
        ):
            released += int(back)
            unsure += int(lost)
    return released, unsure


def test_a_worker_killed_mid_batch_three_times(tmp_path: Path, postgres: PostgresInstance) -> None:
    """kill -9 of a whole worker (its pool processes too) while it sends, three times,
    a new worker started each time: its claimed rows come back when their lease ends,
    its `sending` rows (one per SMTP connection) become unsure for the operator."""
    with running_stack(tmp_path, postgres) as stack:
        edition_id, addresses = stack.seed(READERS)
        stack.send(edition_id)
        taken_at_kill = []
        for share in (0.15, 0.35, 0.55):
            stack.wait_taken(int(share * READERS))
            victim = stack.wait(lambda: _busy_worker(stack), 60, "a worker running a batch")
            victim.kill9()
            taken_at_kill.append(len(stack.smtp.taken))
            stack.start_worker()
        trial = Trial("kill -9 of a worker mid-batch x3", notes={"taken_at_kill": taken_at_kill})
        stack.wait_final(len(addresses))
        stack.resolve_unsure(edition_id, trial)
        stack.wait_final(len(addresses))
        released, unsure = _sweeps(stack)
        trial.notes.update(swept_back=released, swept_unsure=unsure)
        stack.check(addresses, trial)
        assert released > 0, "no claimed row was left by a killed batch: not mid-batch"
        assert unsure == trial.unsure  # the sweep made them unsure, the operator resolved them


def test_a_redis_restart_mid_send(tmp_path: Path, postgres: PostgresInstance) -> None:
    """The broker restarts empty (no persistence): the queued send_batch tasks are gone;
    the sweep on the beat queues new ones for the rows still pending."""
    with running_stack(tmp_path, postgres) as stack:
        edition_id, addresses = stack.seed(READERS)
        stack.send(edition_id)
        stack.wait_taken(int(0.3 * READERS))
        at = len(stack.smtp.taken)
        stack.redis.restart(down=1.0)
        trial = Trial("Redis restart mid-send", notes={"taken_at_restart": at})
        stack.run_operator_and_check(edition_id, addresses, trial)
        assert at < len(addresses), "the send was over before the restart"
        logs = "".join(w.text() for w in stack.workers)
        assert "Connection to broker lost" in logs
        # A batch whose successor could not be queued ends normally: the sweep queues it.
        assert not re.search(r"send_batch\[[^\]]+\] raised", logs)


def test_a_postgres_restart_mid_send(tmp_path: Path, postgres: PostgresInstance) -> None:
    """PostgreSQL restarts (every session ended, down two seconds): the sending threads
    keep their outcomes and retry their commits, the tasks retry their claims."""
    with running_stack(tmp_path, postgres) as stack:
        edition_id, addresses = stack.seed(READERS)
        stack.send(edition_id)
        stack.wait_taken(int(0.3 * READERS))
        at = len(stack.smtp.taken)
        stack.postgres.restart(down=2.0)
        trial = Trial("PostgreSQL restart mid-send", notes={"taken_at_restart": at})
        stack.run_operator_and_check(edition_id, addresses, trial)
        assert at < len(addresses), "the send was over before the restart"
        logs = "".join(w.text() for w in stack.workers)
        assert "recording deliveries failed" in logs  # the restart hit the sending threads

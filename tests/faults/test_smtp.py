"""A relay that misbehaves during a send to a few thousand readers, through real
workers: every address ends with exactly one copy, except those the relay refuses
for good (no copy, a failed delivery, a bounced reader)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.faults.harness import Trial, address, running_stack
from tests.faultsmtp import (
    HANG_UP,
    NO_SUCH_USER,
    SHUTTING_DOWN,
    Faults,
    chosen,
    every,
    greylist,
    refuse,
)
from tests.instances import PostgresInstance

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning:aiosmtpd.*")]

READERS = 2000


def test_a_relay_that_drops_connections(tmp_path: Path, postgres: PostgresInstance) -> None:
    """Hang-ups at MAIL FROM (nothing sent: retried) and after the end of DATA (the
    relay has the message but said nothing: unsure, found in its log, marked sent)."""
    faults = Faults(mail=every(50, HANG_UP), after_data=every(300, HANG_UP))
    with running_stack(tmp_path, postgres, faults) as stack:
        edition_id, addresses = stack.seed(READERS)
        stack.send(edition_id)
        trial = Trial("SMTP drops (MAIL FROM, after end of DATA)")
        stack.run_operator_and_check(edition_id, addresses, trial)
        hung_up_after_data = sum(not t.replied for t in stack.smtp.taken)
        assert hung_up_after_data >= READERS // 300
        assert trial.unsure == hung_up_after_data and trial.not_found == 0


def test_a_relay_that_answers_421(tmp_path: Path, postgres: PostgresInstance) -> None:
    """421 (closing the connection) to a few recipients' first RCPT TO: each is retried
    on a new connection once its domain's back-off is over."""
    shut = {address(n) for n in (150, 777, 1301, 1999)}
    faults = Faults(rcpt=lambda a, n: SHUTTING_DOWN if n == 1 and a in shut else None)
    with running_stack(tmp_path, postgres, faults) as stack:
        edition_id, addresses = stack.seed(READERS)
        stack.send(edition_id)
        trial = Trial("SMTP 421 to some recipients")
        stack.run_operator_and_check(edition_id, addresses, trial)
        tries = stack.attempts()
        assert {a: tries[a] for a in shut} == dict.fromkeys(shut, 2)  # the 421, then a 250
        assert trial.unsure == 0


def test_a_greylisting_relay(tmp_path: Path, postgres: PostgresInstance) -> None:
    """451 to the first RCPT TO of a fifth of the recipients: those alone wait for their
    retry (BRIEF_SEND_RETRY_SECONDS); their domains go on."""
    with running_stack(tmp_path, postgres, Faults(rcpt=greylist(0.2))) as stack:
        edition_id, addresses = stack.seed(READERS)
        greylisted = [a for a in addresses if chosen(a, 0.2)]
        stack.send(edition_id)
        trial = Trial("SMTP 451 to a fifth (greylisting)", notes={"greylisted": len(greylisted)})
        stack.run_operator_and_check(edition_id, addresses, trial, timeout=120)
        assert 0.15 * READERS < len(greylisted) < 0.25 * READERS
        tries = stack.attempts()
        assert {a for a in addresses if tries[a] == 2} == set(greylisted)  # only those waited
        assert set(tries.values()) == {1, 2}
        assert trial.unsure == 0


def test_a_relay_that_refuses_some_addresses(tmp_path: Path, postgres: PostgresInstance) -> None:
    """550 5.1.1 for 1% of the addresses: those deliveries fail and their readers are
    bounced; every other address gets its one copy."""
    gone = [address(n) for n in range(7, READERS, 100)]
    with running_stack(tmp_path, postgres, Faults(rcpt=refuse(gone, NO_SUCH_USER))) as stack:
        edition_id, addresses = stack.seed(READERS)
        stack.send(edition_id)
        trial = Trial("SMTP 550 for 1% of addresses")
        stack.run_operator_and_check(edition_id, addresses, trial, refused=gone)
        assert trial.failed == len(gone) and trial.unsure == 0


def test_a_reply_to_the_end_of_data_after_the_client_gave_up(
    tmp_path: Path, postgres: PostgresInstance
) -> None:
    """The relay takes every 250th message but answers its end of DATA after the
    client's timeout (3 s): unsure, never resent by itself; the operator finds each
    Message-ID in the relay's log and marks it sent. No duplicate."""
    faults = Faults(data_reply_delay=lambda n: 5.0 if n % 250 == 0 else 0.0)
    with running_stack(tmp_path, postgres, faults, smtp_timeout=3) as stack:
        edition_id, addresses = stack.seed(READERS)
        stack.send(edition_id)
        trial = Trial("SMTP end-of-DATA reply after the client's timeout")
        stack.wait_final(len(addresses))
        late = READERS // 250
        statuses = stack.statuses()
        assert statuses["unsure"] >= late, statuses  # none resent while unsure
        assert len(stack.smtp.taken) == len(addresses)
        stack.resolve_unsure(edition_id, trial)
        stack.wait_final(len(addresses))
        stack.check(addresses, trial)
        assert trial.not_found == 0, "an unsure delivery the relay never had"


def test_a_relay_slower_than_the_time_limit(tmp_path: Path, postgres: PostgresInstance) -> None:
    """Each reply takes 0.1 s (three a message), so a batch of 1,200 over 16
    connections takes at least 22 s, more than the task's soft time limit (18 s with a
    30 s lease): the task stops cleanly (the messages on the wire finish and are
    recorded, the rest go back) and a successor sends the rest. Nothing delivered is
    recorded failed, nothing is sent twice."""
    env = {"BRIEF_SEND_BATCH_SIZE": "1200", "BRIEF_SMTP_CONNECTIONS": "16"}
    with running_stack(tmp_path, postgres, Faults(reply_delay=0.1), env=env) as stack:
        edition_id, addresses = stack.seed(READERS)
        stack.send(edition_id)
        trial = Trial("SMTP relay slower than the soft time limit")
        stack.wait_final(len(addresses), timeout=240)
        stack.resolve_unsure(edition_id, trial)
        stack.wait_final(len(addresses))
        stops = sum(
            len(re.findall(r"send_batch: soft time limit; stopped cleanly", w.text()))
            for w in stack.workers
        )
        trial.notes["soft_limit_stops"] = stops
        stack.check(addresses, trial)
        assert stops >= 1, "no batch ran into its soft time limit"
        assert trial.failed == 0 and trial.unsure == 0

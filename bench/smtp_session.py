"""Messages per second of SMTPSession into Postfix's smtp-sink, against smtplib.

Starts ``smtp-sink`` (Debian's postfix package) on a free loopback port, makes a
pool of personalized 25-story messages (~62 KB, made before timing), and sends N:

- SMTPSession, one connection, then --connections threads each with its own;
- smtplib ``SMTP.sendmail`` over one connection (what a naive batch would do);
- smtplib with a connection per message, as SMTPSender does (fewer messages);
- ``smtp-source`` with the same size and parallelism: the ceiling of the sink.

The CPU column is this process's CPU time per message (the sink runs beside it).

    python bench/smtp_session.py [--messages 5000] [--connections 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.personalize import NOW, SENDER, WEB_URL, edition, links
from brief.mail.prepared import personalize, prepare_digest
from brief.mail.smtp_session import SendOutcome, SMTPSession

HOST = "127.0.0.1"
FROM = "bounces@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[int]:
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([sink, *user, f"{HOST}:{port}", "1000"])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def messages(count: int) -> list[bytes]:
    prepared = prepare_digest(
        edition(), brief_name="Daily Brief", web_url=WEB_URL, sender=SENDER, date=NOW
    )
    pool = []
    for n in range(count):
        to, message_id, unsubscribe, preferences = links(n)
        pool.append(
            personalize(
                prepared,
                to=to,
                message_id=message_id,
                unsubscribe_url=unsubscribe,
                preferences_url=preferences,
                unsubscribe_mailto="unsubscribe@example.com",
            )
        )
    return pool


def timed(run: Callable[[], int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, messages sent) of ``run``."""
    wall, cpu = time.perf_counter(), time.process_time()
    sent = run()
    return time.perf_counter() - wall, time.process_time() - cpu, sent


def with_sessions(port: int, pool: list[bytes], count: int, connections: int) -> int:
    sent = [0] * connections

    def worker(k: int) -> None:
        with SMTPSession(HOST, port) as session:
            for n in range(k, count, connections):
                reply = session.send(FROM, f"r{n}@example.com", pool[n % len(pool)])
                if reply.outcome is SendOutcome.SENT:
                    sent[k] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(sent)


def with_sendmail(port: int, pool: list[bytes], count: int) -> int:
    with smtplib.SMTP(HOST, port) as smtp:
        for n in range(count):
            smtp.sendmail(FROM, [f"r{n}@example.com"], pool[n % len(pool)])
    return count


def with_a_connection_each(port: int, pool: list[bytes], count: int) -> int:
    for n in range(count):
        with smtplib.SMTP(HOST, port) as smtp:
            smtp.sendmail(FROM, [f"r{n}@example.com"], pool[n % len(pool)])
    return count


def with_smtp_source(port: int, size: int, count: int, connections: int) -> int:
    source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    subprocess.run(
        [source, "-s", str(connections), "-l", str(size), "-m", str(count), f"{HOST}:{port}"],
        check=True,
    )
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--pool", type=int, default=200, help="distinct messages made")
    args = parser.parse_args()
    count, k = args.messages, args.connections
    pool = messages(args.pool)
    size = len(pool[0])
    print(f"{count:,} messages of ~{size:,} bytes into smtp-sink; {os.cpu_count()} CPUs")
    print(f"{'':34} {'msgs/s':>8} {'CPU µs/msg':>11}")
    with smtp_sink() as port:
        runs: list[tuple[str, Callable[[], int]]] = [
            ("SMTPSession, 1 connection", lambda: with_sessions(port, pool, count, 1)),
            (f"SMTPSession, {k} connections", lambda: with_sessions(port, pool, count, k)),
            ("smtplib sendmail, 1 connection", lambda: with_sendmail(port, pool, count)),
            (
                "smtplib, a connection per message",
                lambda: with_a_connection_each(port, pool, count // 5),
            ),
            (f"smtp-source, {k} connections", lambda: with_smtp_source(port, size, count, k)),
        ]
        for name, run in runs:
            wall, cpu, sent = timed(run)
            cpu_note = "" if name.startswith("smtp-source") else f"{cpu / sent * 1e6:11,.0f}"
            print(f"{name:34} {sent / wall:8,.0f} {cpu_note}")


if __name__ == "__main__":
    main()

"""Start-up time of the `brief` command: `brief --help` and `brief status`.

Runs each command ``--runs`` times in a fresh process (after ``--warmup`` runs that
are not counted, so the files are in the page cache) and prints, per command, the
median and minimum wall time and the median CPU time (user + system) of the child.
CPU time moves less than wall time when other processes share the machine.

`brief status` runs on a fresh default setup (SQLite database and embedded broker
in a temporary data folder, created by a first `brief db upgrade`).

    python bench/startup.py [--runs 15] [--warmup 2] [--python PATH] [--root CHECKOUT]

``--root`` times another checkout's code (A/B against a branch's worktree).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (("brief --help", ["--help"]), ("brief status", ["status"]))


def run_once(python: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `python -m brief.cli ARGS` process.

    It runs in the data folder, so `-m` imports brief from PYTHONPATH, not from here.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [python, "-m", "brief.cli", *args],
        env=env,
        cwd=env["BRIEF_DATA_DIR"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"brief {' '.join(args)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to time")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
        env.update(BRIEF_DATA_DIR=data, BRIEF_ENV_FILE="", PYTHONPATH=str(opts.root.resolve()))
        run_once(opts.python, ["db", "upgrade"], env)
        print(f"{opts.root.resolve()}")
        print(f"{'command':<14} {'median':>8} {'min':>8} {'cpu median':>11}  ({opts.runs} runs)")
        for name, args in COMMANDS:
            for _ in range(opts.warmup):
                run_once(opts.python, args, env)
            walls, cpus = zip(
                *(run_once(opts.python, args, env) for _ in range(opts.runs)), strict=True
            )
            print(
                f"{name:<14} {statistics.median(walls) * 1000:>6.0f}ms "
                f"{min(walls) * 1000:>6.0f}ms {statistics.median(cpus) * 1000:>9.0f}ms"
            )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

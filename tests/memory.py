"""The peak memory of this process, for tests that run hostile input in a child."""

from __future__ import annotations


def peak_rss() -> int:
    """Bytes: the high-water mark of this process's resident memory (VmHWM).

    Not ``getrusage().ru_maxrss``: Linux carries that across exec, so a child spawned
    from a large process (pytest after a thousand tests) would report the parent's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")

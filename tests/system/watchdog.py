"""
The deployment's reaper, run as its own process: ``python watchdog.py HOME [--keep]``.

It reads process ids from stdin, one a line: the leaders of the process groups the deployment
starts. Every second it records every descendant of those processes (Airflow puts each task
runner in a process group of its own, and a killed supervisor leaves its task runner to init, so
process groups alone do not find everything). When stdin closes (``Deployment.stop()`` closes it,
and so does the death of the test process), it sends SIGTERM to the groups, waits a few seconds,
then SIGKILLs the groups and every process it recorded that still runs, and removes HOME unless
``--keep``. Standard library only; Linux only (``/proc``).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import time

GRACE_SECONDS = 3.0

Table = dict[int, tuple[int, int, str]]  # pid -> (parent pid, start time in ticks, state)


def process_table() -> Table:
    table: Table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                data = stat.read().decode(errors="replace")
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
        table[int(entry)] = (int(fields[1]), int(fields[19]), fields[0])
    return table


def running(table: Table, pid: int, start: int) -> bool:
    entry = table.get(pid)
    return entry is not None and entry[1] == start and entry[2] not in ("Z", "X")


class Reaper:
    def __init__(self) -> None:
        self.leaders: dict[int, int] = {}  # pid -> start time
        self.known: dict[int, int] = {}

    def add_leader(self, pid: int) -> None:
        entry = process_table().get(pid)
        if entry is not None:
            self.leaders[pid] = entry[1]

    def scan(self) -> Table:
        """Record every live descendant of the leaders."""
        table = process_table()
        children: dict[int, list[int]] = {}
        for pid, (parent, _, _) in table.items():
            children.setdefault(parent, []).append(pid)
        todo = [pid for pid, start in self.leaders.items() if running(table, pid, start)]
        seen = set(todo)
        while todo:
            pid = todo.pop()
            for child in children.get(pid, []):
                if child not in seen:
                    seen.add(child)
                    self.known.setdefault(child, table[child][1])
                    todo.append(child)
        return table

    def alive(self) -> list[int]:
        table = self.scan()
        everything = {**self.known, **self.leaders}
        return [pid for pid, start in everything.items() if running(table, pid, start)]

    def reap(self) -> None:
        """SIGTERM, a grace period, then SIGKILL: to each group whose leader still holds its id, and
        to each recorded process (checked by start time, so a reused pid is never signalled)."""
        self.signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.signal(signal.SIGKILL)

    def signal(self, sig: int) -> None:
        table = self.scan()
        for pid, start in self.leaders.items():
            entry = table.get(pid)
            if entry is not None and entry[1] == start:  # alive or an unreaped zombie: the group is ours
                with contextlib.suppress(OSError):
                    os.killpg(pid, sig)
        for pid in self.alive():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)


def main(argv: list[str]) -> int:
    home, keep = argv[0], "--keep" in argv[1:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for pytest must not skip the cleanup
    reaper = Reaper()
    pending = b""
    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([stdin], [], [], 1.0)
        if ready:
            chunk = os.read(stdin, 4096)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip().isdigit():
                    reaper.add_leader(int(line))
        reaper.scan()
    reaper.reap()
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""
Scanning AIRFLOW_HOME's files for secrets (``tests.support.files_holding``) while this process has
the metadata database open must leave that database working for every process.

A plain ``open()`` and ``close()`` of a SQLite file in a process that has connections to it drops
every POSIX lock that process holds on it (SQLite's "How To Corrupt An SQLite Database File",
2.2). Airflow runs SQLite in WAL mode: the next other process to close its connection then counts
itself the last one, checkpoints, and deletes ``-wal`` and ``-shm``; this process goes on
committing into the deleted WAL, and no other process sees those commits until it exits. That is
how the tab's pages (a child process) answered 404 for DAG runs made after the secret scan of
``test_example_quality_dags.py`` in one pytest session.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import files_holding

COUNT = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "print(c.execute('select count(*) from t').fetchone()[0]); c.close()"
)


def rows_seen_by_another_process(db: Path) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT, str(db)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout)


def test_a_scan_of_the_home_keeps_later_commits_visible_to_other_processes(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, event, text

    engine = create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")

    @event.listens_for(engine, "connect")
    def wal(connection: object, record: object) -> None:  # as Airflow's orm_event_handlers does
        connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[attr-defined]

    with engine.begin() as connection:  # the pool keeps this connection open, as Airflow's does
        connection.execute(text("create table t (x integer)"))
        connection.execute(text("insert into t values (1)"))
    assert files_holding(tmp_path, ["secret-that-is-not-there"]) == []
    assert rows_seen_by_another_process(tmp_path / "airflow.db") == 1  # it opens and closes the DB
    with engine.begin() as connection:
        connection.execute(text("insert into t values (2)"))
    assert rows_seen_by_another_process(tmp_path / "airflow.db") == 2, "a commit lost for other processes"
    engine.dispose()


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "task.log").write_text("token: s3cret-value-42\n")
    assert files_holding(tmp_path, ["s3cret-value-42", "not-there"]) == [
        f"{tmp_path / 'logs' / 'task.log'}: s3cr..."
    ]

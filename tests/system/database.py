"""
Connection arguments of the system-test deployment's SQLite, named by ``[database]
sql_alchemy_connect_args`` (and ``..._async``, Airflow 3.1+): every Airflow process imports this
small module. ``timeout`` is SQLite's busy timeout: a connection that finds the database locked by
another process's write waits up to that many seconds for the lock instead of failing at once (the
default is 5 s, which a busy machine's scheduler, triggerer and api-server outlast). A write that
SQLite still refuses (two transactions upgrading their read locks at once) is rolled back; the
tests' client tries such a trigger again (``client.AirflowClient.create_dag_run``).
"""

from __future__ import annotations

BUSY_TIMEOUT_SECONDS = 60
CONNECT_ARGS = {"timeout": BUSY_TIMEOUT_SECONDS}
CONNECT_ARGS_ASYNC = {"timeout": BUSY_TIMEOUT_SECONDS}

"""
A local DataArts Studio emulator, to develop and test DAGs with no cloud account.

Run it with ``python -m airflow_provider_dataarts.emulator --port 8790`` (or ``dataarts-emulator``),
or in-process::

    with DataArtsEmulator(port=0) as emulator:
        print(emulator.url)
"""

from __future__ import annotations

from airflow_provider_dataarts.emulator.emulator import DataArtsEmulator

__all__ = ["DataArtsEmulator"]

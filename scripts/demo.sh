#!/usr/bin/env bash
# The demo command: set up .venv, start the DataArts emulator, run example DAG
# example_dataarts_quality with `airflow dags test` in a temporary AIRFLOW_HOME, print the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
exec .venv/bin/python scripts/demo.py "$@"

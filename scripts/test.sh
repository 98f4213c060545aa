#!/usr/bin/env bash
# The test command: set up .venv, then lint (ruff), type-check (mypy) and run the tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# The benchmarks: set up .venv (with the peer provider for the import comparison), then run them.
# Takes about 10 minutes; pass --help for options (e.g. --sizes 100,1000 --skip imports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
.venv/bin/uv pip install --quiet --python .venv/bin/python --constraints constraints/test.txt -e '.[test,docs,bench]'
exec .venv/bin/python benchmarks/run.py "$@"

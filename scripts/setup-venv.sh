#!/usr/bin/env bash
# Create .venv (once) and install the provider with its test and docs tools; fast when already done.
# Versions come from the lock, constraints/test.txt (refreshed on purpose by scripts/lock.sh, never
# here): a new release of a dependency cannot change the test environment. A package the lock does
# not list yet still installs (constraints pin only what they list).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --constraint constraints/test.txt uv
fi
.venv/bin/uv pip install --quiet --python .venv/bin/python --constraints constraints/test.txt \
  -e '.[test,docs]'
# Bytecode for every installed module and the provider: with PYTHONDONTWRITEBYTECODE set (as on the
# test machine) nothing writes .pyc files, so each Python process (each pytest, each `airflow`
# command, each service of a test deployment, each task and DAG-file parse they fork) compiled every
# module it imported, about 2-3 s of CPU per process importing Airflow. Up-to-date files are skipped.
.venv/bin/python -m compileall -q .venv/lib/python*/site-packages airflow_provider_dataarts >/dev/null 2>&1 || true
# The DataArts tab's browser test (tests/system/test_ui_tab.py) drives Debian's chromium.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "setup-venv.sh: could not install Debian's chromium (the browser test needs /usr/bin/chromium)" >&2
fi

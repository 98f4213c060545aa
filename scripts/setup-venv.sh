#!/usr/bin/env bash
# Create .venv (once) and install the provider with its test tools; fast when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
fi
.venv/bin/uv pip install --quiet --python .venv/bin/python -e '.[test]'
# The DataArts tab's browser test (tests/system/test_ui_tab.py) drives Debian's chromium.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "setup-venv.sh: could not install Debian's chromium (the browser test needs /usr/bin/chromium)" >&2
fi

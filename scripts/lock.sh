#!/usr/bin/env bash
# Refresh the lock of the test environment, constraints/test.txt: every package that pyproject's
# dependencies and its extras `test` and `docs` resolve to, pinned, for every platform (--universal)
# from Python 3.11 on. Run it on purpose, when a dependency is added or is to be upgraded, and
# commit the result; scripts/setup-venv.sh installs from it and never resolves anew, so a new
# release of a dependency cannot change CI overnight. A package not in the file still installs
# (constraints only pin what they list), resolved at install time, until this script is run again.
# The compatibility runs (scripts/compat.sh) keep their own dated resolution and ignore this file.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/uv ] || bash scripts/setup-venv.sh
mkdir -p constraints
.venv/bin/uv pip compile --quiet --universal --python-version 3.11 --custom-compile-command scripts/lock.sh \
  --extra test --extra docs --output-file constraints/test.txt pyproject.toml
echo "constraints/test.txt: $(grep -cE '^[A-Za-z0-9]' constraints/test.txt) packages pinned"

#!/usr/bin/env bash
# The test command: set up .venv, then lint (ruff), type-check (mypy) and run the tests (pytest) on
# the Airflow in .venv (3.3); beside them, scripts/compat.sh runs the example DAGs and the
# provider-registration test on older Airflow 3 releases. Arguments go to pytest and skip the
# compatibility runs (a developer running a few tests); COMPAT=0 skips them too, COMPAT=1 forces them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
mkdir -p .compat
rm -f .compat/main.log
compat=${COMPAT:-$([ $# -eq 0 ] && echo 1 || echo 0)}
if [ "$compat" = 1 ]; then
  bash scripts/compat.sh >.compat/results 2>&1 &
  compat_pid=$!
fi

main_suite() {
  .venv/bin/ruff check . &&
    .venv/bin/ruff format --check . &&
    .venv/bin/mypy &&
    .venv/bin/python -m pytest "$@" 2>&1 | tee .compat/main.log
}
status=0
main_suite "$@" || status=$?
main=$(.venv/bin/python -c 'import airflow; print(airflow.__version__)')
echo
echo "Airflow versions run:"
printf 'Airflow %-6s %s  %s  (.venv: lint, types, the whole suite)\n' "$main" \
  "$([ $status -eq 0 ] && echo PASS || echo FAIL)" \
  "$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped).* in [0-9.]+s' .compat/main.log 2>/dev/null | tail -1 | tr -d '=' | xargs)"
if [ "$compat" = 1 ]; then
  wait "$compat_pid" || status=1
  cat .compat/results
fi
# One closing line over every run, "N passed, N failed, N skipped", from each pytest's own last line.
logs=(.compat/main.log)
[ "$compat" = 1 ] && logs+=(.compat/[0-9]*.log)
finals=$(for log in "${logs[@]}"; do
  grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped|deselected).* in [0-9.]+s' "$log" 2>/dev/null | tail -1
done)
count() { grep -oE "[0-9]+ $1" <<<"$finals" | awk '{s += $1} END {print s + 0}'; }
echo "total: $(count passed) passed, $(($(count failed) + $(count error))) failed, $(count skipped) skipped"
exit $status

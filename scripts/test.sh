#!/usr/bin/env bash
# The test command: set up .venv, then lint (ruff), type-check (mypy) and run the tests (pytest) on
# the Airflow in .venv (3.3), the system tests (tests/system: real Airflow deployments) in two more
# pytest beside the rest; beside them too, scripts/compat.sh runs the example DAGs, the
# provider-registration test and the DataArts tab on older Airflow 3 releases and on the next one
# (3.4: 3.4.0 once released, else 3.4.0b2; with a few system tests on a 3.4 deployment), and the
# packaging checks (tests/packaging:
# build the sdist and wheel, twine check, the wheel in a clean virtualenv runs an example DAG). The
# main suite builds the docs site in strict mode (tests/test_docs.py). Arguments go to pytest and
# skip the compatibility runs (a developer running a few tests); COMPAT=0 skips them too, COMPAT=1
# forces them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
mkdir -p .compat
rm -f .compat/main.log .compat/main2.log .compat/system.log .compat/system2.log .compat/packaging.log
compat=${COMPAT:-$([ $# -eq 0 ] && echo 1 || echo 0)}
if [ "$compat" = 1 ]; then
  bash scripts/compat.sh >.compat/results 2>&1 &
  compat_pid=$!
fi

lint() { .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy; }

main_suite() {
  if [ $# -gt 0 ]; then
    lint || return 1
    .venv/bin/python -m pytest "$@" 2>&1 | tee .compat/main.log
    return
  fi
  # The system tests (a real Airflow deployment, mostly waiting for it) run beside the rest, in two
  # deployments side by side: the edge tests pause, add and restart triggerers and shorten the
  # heartbeat timeout, so they get a deployment of their own, with the PatchData and migration rows;
  # the examples' five runs each go first on that deployment (before the edge tests), which
  # evens out the two sessions' lengths (the first was the longest pytest of the command).
  local own_deployment=(tests/system/test_examples.py tests/system/test_edges.py tests/system/test_patchdata.py
    tests/system/test_migration.py)
  .venv/bin/python -m pytest tests/system "${own_deployment[@]/#/--ignore=}" >.compat/system.log 2>&1 &
  local system_pid=$! unit=0 system=0 system2=0 packaging=0 linted=0
  # With them, the tab's quality-gate pages (about a minute): they balance the sessions' lengths.
  local gate_tab=tests/plugins/test_tab_quality_gate.py
  .venv/bin/python -m pytest "${own_deployment[@]}" "$gate_tab" >.compat/system2.log 2>&1 &
  local system2_pid=$!
  # The release checks (mostly waiting on installs and Airflow's start-up) run beside them too.
  .venv/bin/python -m pytest tests/packaging >.compat/packaging.log 2>&1 &
  local packaging_pid=$!
  # The rest in two halves side by side (each pytest has its own AIRFLOW_HOME and emulator): the
  # DAG runs (dag.test(), airflow commands) in one, everything else in the other.
  local dag_runs=(tests/integration tests/operators tests/dags tests/plugins) second=0
  .venv/bin/python -m pytest "${dag_runs[@]}" --ignore="$gate_tab" >.compat/main2.log 2>&1 &
  local second_pid=$!
  # Lint and types once every session has started (the sessions need not wait for them).
  lint || linted=$?
  .venv/bin/python -m pytest --ignore=tests/system --ignore=tests/packaging "${dag_runs[@]/#/--ignore=}" 2>&1 \
    | tee .compat/main.log || unit=$?
  wait "$second_pid" || second=$?
  echo "--- ${dag_runs[*]} ---"
  cat .compat/main2.log
  wait "$system_pid" || system=$?
  wait "$system2_pid" || system2=$?
  wait "$packaging_pid" || packaging=$?
  echo "--- tests/system (a real Airflow deployment) ---"
  cat .compat/system.log
  echo "--- ${own_deployment[*]} (a deployment of their own), $gate_tab ---"
  cat .compat/system2.log
  echo "--- tests/packaging (sdist and wheel, twine check, the wheel in a clean virtualenv) ---"
  cat .compat/packaging.log
  [ "$linted" -eq 0 ] && [ "$unit" -eq 0 ] && [ "$second" -eq 0 ] && [ "$system" -eq 0 ] && [ "$system2" -eq 0 ] && [ "$packaging" -eq 0 ]
}
status=0
main_suite "$@" || status=$?
main=$(.venv/bin/python -c 'import airflow; print(airflow.__version__)')
echo
echo "Airflow versions run:"
last_line() { grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped).* in [0-9.]+s' "$1" 2>/dev/null | tail -1 | tr -d '=' | xargs; }
printf 'Airflow %-6s %s  %s%s  (.venv: lint, types, the whole suite)\n' "$main" \
  "$([ $status -eq 0 ] && echo PASS || echo FAIL)" "$(last_line .compat/main.log)" \
  "$([ -f .compat/main2.log ] && echo "; DAG runs: $(last_line .compat/main2.log)")$([ -f .compat/system.log ] && echo "; system tests: $(last_line .compat/system.log)")$([ -f .compat/system2.log ] && echo "; system tests (examples, edges, PatchData, migration): $(last_line .compat/system2.log)")$([ -f .compat/packaging.log ] && echo "; packaging: $(last_line .compat/packaging.log)")"
if [ "$compat" = 1 ]; then
  wait "$compat_pid" || status=1
  cat .compat/results
fi
# One closing line over every run, "N passed, N failed, N skipped", from each pytest's own last line.
logs=(.compat/main.log)
[ -f .compat/main2.log ] && logs+=(.compat/main2.log)
[ -f .compat/system.log ] && logs+=(.compat/system.log)
[ -f .compat/system2.log ] && logs+=(.compat/system2.log)
[ -f .compat/packaging.log ] && logs+=(.compat/packaging.log)
[ "$compat" = 1 ] && logs+=(.compat/[0-9]*.log)
finals=$(for log in "${logs[@]}"; do
  grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped|deselected).* in [0-9.]+s' "$log" 2>/dev/null | tail -1
done)
count() { grep -oE "[0-9]+ $1" <<<"$finals" | awk '{s += $1} END {print s + 0}'; }
echo "total: $(count passed) passed, $(($(count failed) + $(count error))) failed, $(count skipped) skipped"
exit $status

#!/usr/bin/env bash
# Airflow compatibility: the example DAGs, the provider-registration test and the DataArts tab
# (the plugin loads; its pages fetched from that release's api-server app) on older Airflow 3
# releases, each in its own virtualenv (.venv-af30, .venv-af31, .venv-af32) with the dependency set
# of that release's time (uv --exclude-newer): a plain install of an old Airflow today resolves a
# newer pydantic/fastapi that breaks it. scripts/test.sh runs this beside the main suite (3.3).
#
# And the next release, Airflow 3.4 (.venv-af34, today's dependencies): 3.4.0 once the registry has
# it, else its newest pre-release we know works (NEXT_FALLBACK); that row also starts a real
# deployment and runs a few system tests on it (SYSTEM_TESTS: a killed worker, a cleared task, the
# tab in a browser): 3.4 moves XCom storage to new tables and task attempts to their own rows.
#
# Usage: scripts/compat.sh [3.0.6 3.1.8 3.4 ...]   (default: every release below)
# Writes .compat/<version>.log and prints one result line per release; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# release, its virtualenv, the day its dependency set is taken from (a week after the release)
RELEASES=(
  "3.0.6 .venv-af30 2025-09-07"
  "3.1.8 .venv-af31 2026-03-20"
  "3.2.2 .venv-af32 2026-06-07"
  "3.4 .venv-af34 next"
)
# "next": the first of these the registry has (pre-releases allowed for the fallback only).
NEXT_RELEASE=3.4.0
NEXT_FALLBACK=3.4.0b2
# The few system tests the next release runs (a deployment starts once, ~1-2 min, then ~4 min): a
# killed worker's retry reconnects, a clear after a verdict runs again, the tab in a browser.
SYSTEM_TESTS=(
  "tests/system/test_lifecycle.py::test_a_dead_worker_is_retried_and_reconnects"
  "tests/system/test_lifecycle.py::test_a_clear_after_a_verdict_runs_again"
  tests/system/test_ui_tab.py
)
# On the release itself, not on its pre-release: clearing a running task makes 3.4.0b2's scheduler
# exit (IntegrityError, UNIQUE task_instance ... working_set, in prepare_db_for_next_try; see
# docs/airflow-versions.md). The day 3.4.0 installs, this test says whether the release fixed it.
RELEASE_ONLY_SYSTEM_TESTS=(
  "tests/system/test_lifecycle.py::test_a_user_who_kills_a_waiting_task_stops_what_it_started_never_what_it_watches"
)
# What those need beyond the provider (the versions of constraints/test.txt).
SYSTEM_PACKAGES=(
  "$(grep -m1 '^psutil==' constraints/test.txt)"
  "$(grep -m1 '^playwright==' constraints/test.txt)"
  "$(grep -m1 '^responses==' constraints/test.txt)"
)
# Newer than those days on purpose: the provider is built and tested against common-compat >= 1.23.0.
NEWER_PACKAGES=(--exclude-newer-package "apache-airflow-providers-common-compat=2026-11-30")
TESTS=(
  tests/test_provider_info.py
  tests/integration/test_examples_without_logical_date.py
  tests/integration/test_example_script_dag.py
  tests/integration/test_example_quality_dags.py
  tests/plugins/test_plugin_registration.py
  tests/plugins/test_tab_app.py
)
# Every example DAG, each quality example on its ALARMING job in both modes; not the other outcomes
# nor the secrets scan (every example in every auth mode), which the main suite runs. The retry
# drill skips itself below Airflow 3.3 (no task_state_store), the CLI one below 3.2.
SELECT="not secret_reaches_airflow_home and not orders_completeness and not orders_broken"
# Examples the runs without a logical date already cover, in each mode: kept to the main suite.
SELECT+=" and not rerun_then_sensor and not rerun_and_wait_in_one_task and not alarm_tolerated"
SELECT+=" and not failing_script_stops"
python=${PYTHON:-python3}
uv=.venv/bin/uv
[ -x "$uv" ] || bash scripts/setup-venv.sh >/dev/null
mkdir -p .compat

last_summary() { grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped).* in [0-9.]+s' "$1" | tail -1 | tr -d '=' | xargs; }

install_release() {
  local version=$1 venv=$2 day=$3
  [ -x "$venv/bin/python" ] || "$uv" venv --quiet --python "$python" "$venv"
  if [ "$day" != next ]; then
    "$uv" pip install --quiet --python "$venv/bin/python" --exclude-newer "$day" "${NEWER_PACKAGES[@]}" \
      "apache-airflow==$version" -e . "pytest>=8"
    return
  fi
  "$uv" pip install --quiet --python "$venv/bin/python" "apache-airflow==$NEXT_RELEASE" -e . "pytest>=8" \
    "${SYSTEM_PACKAGES[@]}" ||
    { echo "Airflow $NEXT_RELEASE is not installable (yet): $NEXT_FALLBACK instead"
      "$uv" pip install --quiet --python "$venv/bin/python" --prerelease=allow \
        "apache-airflow==$NEXT_FALLBACK" -e . "pytest>=8" "${SYSTEM_PACKAGES[@]}"; }
}

run_release() {
  local version=$1 venv=$2 day=$3 log=.compat/$1.log started result summary deps installed
  started=$(date +%s)
  deps="deps as of $day"
  rm -f ".compat/$version-system.log"
  install_release "$version" "$venv" "$day" >"$log" 2>&1
  if [ $? -eq 0 ]; then
    # Bytecode once, not in every process (PYTHONDONTWRITEBYTECODE: see scripts/setup-venv.sh).
    "$venv/bin/python" -m compileall -q "$venv"/lib/python*/site-packages >/dev/null 2>&1
    installed=$("$venv/bin/python" -c 'import airflow; print(airflow.__version__)' 2>>"$log")
    "$venv/bin/python" -m pytest -q -p no:randomly "${TESTS[@]}" -k "$SELECT" >>"$log" 2>&1
    result=$?
    summary=$(last_summary "$log")
    if [ "$day" = next ]; then
      deps="Airflow $installed, today's deps"
      # The system tests after the rest (a deployment of its own, on 2 cores beside the main suite).
      local system=("${SYSTEM_TESTS[@]}")
      [ "$installed" = "$NEXT_RELEASE" ] && system+=("${RELEASE_ONLY_SYSTEM_TESTS[@]}")
      DATAARTS_SYSTEM_TESTS=required "$venv/bin/python" -m pytest -q -p no:randomly "${system[@]}" \
        >".compat/$version-system.log" 2>&1 || result=1
      summary+="; system tests: $(last_summary ".compat/$version-system.log")"
    fi
  else
    result=1
    summary="install failed"
  fi
  printf 'Airflow %-6s %s  %s  (%ss; %s; log %s)\n' "$version" \
    "$([ $result -eq 0 ] && echo PASS || echo FAIL)" "$summary" "$(($(date +%s) - started))" "$deps" "$log" \
    >".compat/$version.result"
  return $result
}

# The releases run side by side: their tests mostly wait for the emulator's instances.
pids=()
for release in "${RELEASES[@]}"; do
  read -r version venv day <<<"$release"
  if [ $# -gt 0 ] && [[ ! " $* " =~ " $version " ]]; then
    continue
  fi
  rm -f ".compat/$version.result"
  run_release "$version" "$venv" "$day" &
  pids+=("$!:$version")
done
status=0
for entry in "${pids[@]}"; do
  wait "${entry%%:*}" || status=1
  cat ".compat/${entry#*:}.result"
done
exit $status

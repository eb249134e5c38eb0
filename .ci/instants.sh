#!/usr/bin/env bash
# The clock-sensitive part of the suite at chosen instants (issue 11).
#
#   .ci/instants.sh                         every instant CI uses (make test-instants)
#   .ci/instants.sh 2027-03-14T06:30:00Z    one instant (make test-at INSTANT=...)
#
# For each instant: a throwaway PostgreSQL 15 cluster started under faketime (so the
# database's now() moves too), a Redis of its own started WITHOUT faketime (jemalloc and
# libfaketime do not mix; Redis keeps no clock the tests read), and pytest under the same
# relative faketime offset, so every later process (Celery workers started by tests too)
# shares the moved clock. The run fails if any instant fails.
set -uo pipefail
cd "$(dirname "$0")/.."

# Each instant and why it is here. Together: every weekday; 23:30 and 00:30 UTC; local
# midnight in Los Angeles and Auckland; both 2027 DST changes in New York and London.
DEFAULT_INSTANTS=(
  2026-12-14T23:30:00Z # Mon 23:30 UTC (Tue 12:30 in Auckland: the UTC date is not the patient's)
  2026-12-15T08:00:00Z # Tue local midnight in America/Los_Angeles (PST)
  2026-12-02T05:50:00Z # Wed 00:50 in New York: the instant issue 11's four failures were found at
  2026-12-17T11:00:00Z # Thu local midnight in Pacific/Auckland (NZDT; Friday there)
  2026-12-18T00:30:00Z # Fri 00:30 UTC (Thursday evening in the Americas)
  2026-12-19T15:00:00Z # Sat mid-day UTC (Sunday early morning in Auckland)
  2027-03-14T06:30:00Z # Sun 01:30 EST, 30 min before New York springs forward
  2027-11-07T05:30:00Z # Sun 01:30 EDT, 30 min before New York falls back (01:xx happens twice)
  2027-03-28T00:30:00Z # Sun 00:30 GMT, 30 min before London springs forward
  2027-10-31T00:30:00Z # Sun 01:30 BST, 30 min before London falls back (01:xx happens twice)
)
INSTANTS=("$@")
[ ${#INSTANTS[@]} -gt 0 ] || INSTANTS=("${DEFAULT_INSTANTS[@]}")

# The clock-sensitive part of the suite: scheduling, reminders, programs, patients, the admin pages
# and the dashboard, the patient app's /me/ endpoints. Left out, being slow and not about the
# calendar: e2e (a browser), reliability, bench, the rest of the staff API (schemathesis, the
# permission matrix, list queries), races between connections, the pipeline's fault tests (killed
# workers, Redis restarted, a flaky provider) and the demo-seeding and scale tests (the dashboard's
# tests still seed the demo at each instant). `make test` runs them all.
TESTS=(tests/scheduling tests/reminders tests/programs tests/patients
  tests/clinic/test_admin_pages.py tests/clinic/test_dashboard.py tests/clinic/test_admin_workflows.py
  tests/api/test_me.py tests/api/test_patient_app.py tests/api/test_aftercare_api.py
  tests/api/test_patient_care_sql.py tests/api/test_me_sessions_pages.py
  tests/admissions/test_worklists.py tests/utilization/test_ur_worklists.py
  --ignore=tests/programs/test_concurrency.py --ignore=tests/scheduling/test_concurrency.py
  --deselect=tests/programs/test_seed_demo.py::test_seed_demo_scales_up
  --deselect=tests/programs/test_seed_demo.py::test_seed_demo_builds_every_phase_and_a_second_run_changes_nothing
  --deselect=tests/scheduling/test_generation.py::test_generating_twelve_weeks_for_many_series_takes_a_fixed_number_of_queries
  --deselect=tests/reminders/test_pipeline.py::test_a_provider_failing_half_the_time_and_timing_out
  --deselect=tests/reminders/test_pipeline.py::test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing
  --deselect=tests/reminders/test_pipeline.py::test_redis_restarted_during_dispatch
  --deselect=tests/reminders/test_pipeline.py::test_two_workers_dispatching_the_same_due_reminders)

PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=${INSTANTS_PG_PORT:-55432}
REDIS_PORT=${INSTANTS_REDIS_PORT:-56379}
PY=${PY:-.venv/bin/python}
export FAKETIME_DONT_FAKE_MONOTONIC=1

if ! command -v faketime > /dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime > /dev/null
fi

# INSTANTS_TESTS="tests/x.py tests/y.py" runs only those (a new clock-sensitive test at every instant).
[ -n "${INSTANTS_TESTS:-}" ] && read -r -a TESTS <<< "$INSTANTS_TESTS"

# Two lanes by default: each instant is mostly one pytest process, and this machine has two cores.
# Each lane runs every other instant on its own ports, template cluster and Redis; the output of a
# lane is printed when it ends, and the run fails if either lane failed.
LANES=${INSTANTS_LANES:-2}
if [ -z "${INSTANTS_LANE:-}" ] && [ "$LANES" -gt 1 ] && [ ${#INSTANTS[@]} -gt 1 ]; then
  pids=()
  logs=()
  for ((lane = 0; lane < LANES; lane++)); do
    part=()
    for ((i = lane; i < ${#INSTANTS[@]}; i += LANES)); do part+=("${INSTANTS[$i]}"); done
    log=$(mktemp /tmp/instants-lane$lane.XXXXXX)
    INSTANTS_LANE=$lane INSTANTS_PG_PORT=$((PG_PORT + lane)) INSTANTS_REDIS_PORT=$((REDIS_PORT + lane)) \
      "$0" "${part[@]}" > "$log" 2>&1 &
    pids+=($!)
    logs+=("$log")
  done
  status=0
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || status=1
    printf -- '--- lane %d\n' "$i"
    cat "${logs[$i]}"
    rm -f "${logs[$i]}"
  done
  exit $status
fi

FAKETIME_LIB=$(dpkg -L libfaketime 2> /dev/null | grep -m1 '/libfaketime\.so\.1$')
[ -n "$FAKETIME_LIB" ] || { echo "libfaketime not found" >&2; exit 2; }

# initdb refuses to run as root: the cluster belongs to the postgres OS user then.
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)

PG_OPTS="-p $PG_PORT -c listen_addresses=localhost -c fsync=off -c synchronous_commit=off \
  -c full_page_writes=off -c shared_buffers=32MB -c max_connections=60"
pg_ctl() { "${as_pg[@]}" "$PG_BIN/pg_ctl" "$@"; }

tmp=""
template=""
cleanup() {
  local dir
  for dir in "$tmp" "$template"; do
    [ -n "$dir" ] || continue
    [ -f "$dir/pg/postmaster.pid" ] && pg_ctl -D "$dir/pg" -m immediate stop > /dev/null 2>&1
    [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2> /dev/null
  done
  sleep 0.2
  [ -n "$tmp" ] && rm -rf "$tmp"
  tmp=""
}
trap 'cleanup; [ -n "$template" ] && rm -rf "$template"' EXIT
trap 'exit 130' INT TERM

# Migrating the test database takes longer than many instants' tests: it is done once, at the real
# instant, into a template cluster that each instant copies (the migrations hold no "now" of their own).
make_template() {
  template=$(mktemp -d /tmp/instant-template.XXXXXX)
  chmod 755 "$template"
  mkdir "$template/pg"
  [ ${#as_pg[@]} -gt 0 ] && chown -R postgres: "$template"
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$template/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
    > "$template/initdb.log" 2>&1 || { cat "$template/initdb.log" >&2; return 1; }
  pg_ctl -D "$template/pg" -l "$template/server.log" -w -o "$PG_OPTS -k $template/pg" start > /dev/null \
    || { cat "$template/server.log" >&2; return 1; }
  # pytest-django's test database for DATABASE_URL=.../clinic; --reuse-db (pyproject) then keeps it.
  psql -q -h localhost -p "$PG_PORT" -U postgres -c "CREATE DATABASE test_clinic" \
    && DATABASE_URL="postgres://postgres@localhost:$PG_PORT/test_clinic" REDIS_URL="redis://localhost:$REDIS_PORT/1" \
      "$PY" manage.py migrate --no-input --settings=clinic.settings_test > "$template/migrate.log" 2>&1 \
    || { cat "$template/migrate.log" >&2; return 1; }
  pg_ctl -D "$template/pg" -m fast stop > /dev/null
}

# This instant's Redis, answering before the tests start (a daemonized start returns before it listens).
start_redis() {
  local try
  for try in 1 2 3; do
    env -u LD_PRELOAD redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
      --daemonize yes --dir "$tmp" --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log" > /dev/null
    for _ in $(seq 50); do
      [ "$(redis-cli -p "$REDIS_PORT" ping 2> /dev/null)" = PONG ] && return 0
      sleep 0.1
    done
    echo "redis on port $REDIS_PORT did not answer (try $try)" >&2
  done
  return 1
}

run_instant() {
  local instant=$1 target offset started result status
  target=$(date -u -d "$instant" +%s) || { echo "not an instant: $instant" >&2; return 2; }
  started=$(date +%s)
  tmp=$(mktemp -d /tmp/instant.XXXXXX)
  chmod 755 "$tmp"
  cp -a "$template/pg" "$tmp/pg"
  [ ${#as_pg[@]} -gt 0 ] && chown postgres: "$tmp"

  # A relative offset, computed once: PostgreSQL, pytest and every process they start share it.
  offset=$(printf '%+d' $((target - $(date -u +%s))))
  # The server gets libfaketime directly rather than through the `faketime` wrapper: the wrapper
  # waits until every descendant has closed its pipe, and the postmaster lives on after pg_ctl.
  "${as_pg[@]}" env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$offset" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    "$PG_BIN/pg_ctl" -D "$tmp/pg" -l "$tmp/server.log" -w -o "$PG_OPTS -k $tmp/pg" start > /dev/null \
    || { cat "$tmp/server.log" >&2; return 1; }

  start_redis || { cat "$tmp/redis.log" >&2 2> /dev/null; return 1; }

  env -u LD_PRELOAD PYTHONPATH="$PWD/.ci/faketime${PYTHONPATH:+:$PYTHONPATH}" \
    DATABASE_URL="postgres://postgres@localhost:$PG_PORT/clinic" \
    REDIS_URL="redis://localhost:$REDIS_PORT/1" CELERY_TASK_DEFAULT_QUEUE=q_instants \
    faketime -f "$offset" "$PY" -m pytest "${TESTS[@]}" --reuse-db -q -p no:cacheprovider --durations=10 \
    > "$tmp/pytest.log" 2>&1
  status=$?
  result=$(grep -E '(passed|failed|error|no tests ran).* in [0-9.]+s' "$tmp/pytest.log" | tail -1 | tr -d '=' | xargs)
  if [ $status -ne 0 ]; then
    grep -E '^(FAILED|ERROR) ' "$tmp/pytest.log" >&2 || tail -40 "$tmp/pytest.log" >&2
    mkdir -p var && cp "$tmp/pytest.log" "var/instant-$instant.log"
  fi
  cleanup
  printf 'instant %s  %s  %ds\n' "$instant" "${result:-no result (exit $status)}" $(($(date +%s) - started))
  return $status
}

failed=()
total_started=$(date +%s)
make_template || exit 1
printf 'template cluster migrated in %ds\n' $(($(date +%s) - total_started))
for instant in "${INSTANTS[@]}"; do
  run_instant "$instant" || failed+=("$instant")
done
printf 'instants: %d run, %d failed, %ds in all\n' ${#INSTANTS[@]} ${#failed[@]} $(($(date +%s) - total_started))
if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed at: %s (logs in var/instant-*.log)\n' "${failed[*]}"
  exit 1
fi

# The two commands the README promises: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The stamp's name changes with the requirements, so editing them reinstalls.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: install browser run test lint format check-compose

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run: the whole system on this machine's PostgreSQL and Redis, with demo data.
run: export DEBUG ?= 1
run: install
	@mkdir -p var
	$(PY) manage.py ensure_db
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input -v0
	$(PY) manage.py seed_demo
	@echo
	@echo "  Admin: http://127.0.0.1:8000/admin/  (demo staff login printed above)"
	@echo
	$(VENV)/bin/honcho start -f Procfile

## Debian's Chromium for the end-to-end tests (Playwright drives it; no browser download).
browser:
	@command -v chromium > /dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null)

## make test: everything the suite needs, then the suite against real PostgreSQL and Redis.
test: install browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run --settings=clinic.settings_test > /dev/null
	$(PY) -m pytest --create-db

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## The compose file is only validated here: this machine has no Docker engine.
check-compose:
	@command -v docker-compose > /dev/null || (apt-get update -qq && apt-get install -y -qq docker-compose > /dev/null)
	@# The file demands SECRET_KEY from the deployer; validating it needs a stand-in value.
	SECRET_KEY=compose-config-check docker-compose config -q

## Benchmarks (issue 8): seed a provider-scale dataset into its own database (<name>_bench),
## measure each hot path beside its raw-SQL baseline, write bench/results/report.md, JSON and plots.
.PHONY: bench bench-quick
bench: install
	$(PY) -m bench $(BENCH_ARGS)

## The same at small scales with short load, in under two minutes (CI's smoke test; numbers not judged).
bench-quick: install
	$(PY) -m bench --quick $(BENCH_ARGS)

## The clock-sensitive part of the suite at the ten instants CI uses (issue 11; see the README),
## each against its own throwaway PostgreSQL cluster and Redis, all under faketime.
.PHONY: test-instants test-at
test-instants: install
	.ci/instants.sh

## One chosen instant: make test-at INSTANT=2027-03-14T06:30:00Z
test-at: install
	@test -n "$(INSTANT)" || (echo "usage: make test-at INSTANT=2027-03-14T06:30:00Z" && false)
	.ci/instants.sh $(INSTANT)

# The two commands the README promises: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The stamp's name changes with the requirements, so editing them reinstalls.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: install browser messages axe run test lint format check-compose check-roles

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run's two database roles (issue 11): the owner migrates, the application owns nothing.
## Given DATABASE_OWNER_URL, DATABASE_URL is the application's as it stands; otherwise the owner is
## DATABASE_URL (or the local superuser) and the application is clinic_app on the same database.
RUN_OWNER_URL := $(or $(DATABASE_OWNER_URL),$(DATABASE_URL),postgres://postgres@localhost:5432/clinic)
RUN_APP_URL := $(if $(DATABASE_OWNER_URL),$(DATABASE_URL),$(shell echo '$(RUN_OWNER_URL)' | sed -E 's#^(postgres(ql)?://)([^@/]*@)?#\1clinic_app@#'))

## make run: the whole system on this machine's PostgreSQL and Redis, with demo data.
run: export DEBUG ?= 1
run: export DATABASE_OWNER_URL := $(RUN_OWNER_URL)
run: export DATABASE_URL := $(RUN_APP_URL)
run: install messages
	@mkdir -p var
	$(PY) manage.py ensure_db
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input -v0
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_fhir_demo
	@echo
	@echo "  Admin: http://127.0.0.1:8000/admin/  (demo staff login printed above)"
	@echo
	$(VENV)/bin/honcho start -f Procfile

## Debian's Chromium for the end-to-end tests (Playwright drives it; no browser download).
browser:
	@command -v chromium > /dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null)

## Translations (issue 13): locale/*/LC_MESSAGES/django.po compiled to .mo with Debian's gettext.
messages: install
	@command -v msgfmt > /dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext > /dev/null)
	$(PY) manage.py compilemessages --ignore=.venv -v0

## axe-core for the browser tests' accessibility checks (issue 12): pinned in tools/node, no CDN.
axe:
	@test -f tools/node/node_modules/axe-core/axe.min.js || npm ci --prefix tools/node --no-audit --no-fund --silent

## make test: everything the suite needs, then the suite against real PostgreSQL and Redis.
test: install browser messages axe
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
	SECRET_KEY=compose-config-check POSTGRES_PASSWORD=compose-config-check APP_DB_PASSWORD=compose-config-check \
	  docker-compose config -q

## make run's first steps on a throwaway database with both roles (issue 11): the owner migrates,
## clinic_app (which owns nothing) loads the demo clinic.
check-roles: export DEBUG := 1
check-roles: export DATABASE_OWNER_URL := postgres://postgres@localhost:5432/clinic_roles_check
check-roles: export DATABASE_URL := postgres://clinic_app@localhost:5432/clinic_roles_check
check-roles: install
	dropdb --if-exists -h localhost -U postgres clinic_roles_check
	$(PY) manage.py ensure_db
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py seed_demo --patients 3 --no-progress
	dropdb -h localhost -U postgres clinic_roles_check

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

## Mutation testing (issue 18): mutmut over the modules that hold the rules, each against the tests
## that cover it (tests/mutation/targets.py); writes var/mutation/report.md and docs/mutation-report.md.
## Fails when a surviving mutant is neither killed nor explained in tests/mutation/equivalents.toml.
.PHONY: mutation mutation-sample
mutation: install messages
	$(PY) -m tests.mutation.run $(MUTATION_ARGS); status=$$?; cp var/mutation/report.md docs/mutation-report.md; exit $$status

## A fixed random subset (seed 18) in a few minutes: CI's check that the habit has not rotted.
MUTATION_SAMPLE ?= 40
mutation-sample: install messages
	$(PY) -m tests.mutation.run --sample $(MUTATION_SAMPLE) --out var/mutation/sample.md

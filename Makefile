# evalplatform: `make run` serves the demo, `make test` runs the whole suite.  Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# The PostgreSQL server the suite's second pass runs on (Django creates and drops test_<name>).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15
PYTEST_WORKERS    ?= 2

.PHONY: run test test-sqlite test-postgres lint install install-dev serve-prod worker beat bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy evalplatform rubrics
	$(BIN)/lint-imports

test: install-dev lint test-sqlite test-postgres

# Every test on SQLite (the embedded default), except those that need PostgreSQL.
test-sqlite: install-dev
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "not postgres"

# The database tests again on PostgreSQL (but those marked database_independent), plus the
# PostgreSQL-only ones (concurrency, real workers).
test-postgres: install-dev
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(TEST_DATABASE_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "(django_db or postgres) and not browser and not database_independent"; \
	elif [ -n "$$EVAL_REQUIRE_SERVICES" ]; then \
		echo "PostgreSQL at $(TEST_DATABASE_URL) is unreachable and EVAL_REQUIRE_SERVICES is set"; exit 1; \
	else \
		echo "PostgreSQL at $(TEST_DATABASE_URL) is unreachable: skipping the PostgreSQL pass (set EVAL_REQUIRE_SERVICES=1 to fail instead)"; \
	fi

# Production processes (see README "Production"): set DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS, DEBUG=0.
serve-prod: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput
	$(BIN)/gunicorn evalplatform.wsgi --bind $${BIND:-127.0.0.1:$(PORT)} --workers $${WEB_CONCURRENCY:-4} --access-logfile -

worker: install
	$(BIN)/celery -A evalplatform.celery_app worker --loglevel=INFO -Q $${CELERY_QUEUE:-evalplatform}

beat: install
	$(BIN)/celery -A evalplatform.celery_app beat --loglevel=INFO

bench: install-dev
	$(BIN)/python bench/bench_stats.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .mypy_cache

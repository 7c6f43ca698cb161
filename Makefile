# Purser: the two commands of the README, and the helpers they use.
#   make run   installs the system libraries if missing, builds, and serves examples/policy.yaml
#   make test  runs every test

SWIFT ?= swift
CONFIGURATION ?= debug
BIN := .build/$(CONFIGURATION)/purser
POLICY ?= examples/policy.yaml
DATA ?= ./purser-data

.PHONY: run test deps build build-release crash-test fuzz bench instructions clean

CYCLES ?= 20
FUZZ_SECONDS ?= 60

# Installs liblmdb-dev and libsqlite3-dev when pkg-config cannot find them (Debian; needs root or sudo).
deps:
	@pkg-config --exists lmdb sqlite3 2>/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq pkg-config liblmdb-dev libsqlite3-dev; }
	@python3 -c "import pytest" 2>/dev/null || python3 -m pip install -q pytest
	@python3 -c "import hdrh" 2>/dev/null || python3 -m pip install -q hdrhistogram

build: deps
	$(SWIFT) build -c $(CONFIGURATION) --product purser

run: build
	@echo "Purser serves $(POLICY) on ./purser.sock (admin: ./purser-admin.sock). In another terminal:"
	@echo "  $(BIN) authorize --key pk_demo_acme_prod --model gpt-5.4 --estimate-micros 5000 --tag summarize --json"
	@echo "  $(BIN) settle --reservation RESERVATION --cost-micros 4200 --json"
	@echo "  $(BIN) status --json"
	@echo "Ctrl-C stops it cleanly."
	$(BIN) serve --policy $(POLICY) --data $(DATA)

# Swift unit and store tests, then the Python client's tests and the integration tests, which
# drive a real daemon process over its real sockets.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	PURSER_BIN=$(CURDIR)/$(BIN) python3 -m pytest -q clients/python/tests tests Benchmarks/test_bench_smoke.py

# kill -9 in a loop under load, restart, reconcile: 0 lost and 0 cap violations is the only pass.
crash-test: deps
	$(SWIFT) build --product purser
	python3 tests/reliability/crash_loop.py --cycles $(CYCLES) --bin $(CURDIR)/$(BIN)

# libFuzzer on the frame and message decoder (see Fuzz/README.md).
fuzz:
	Fuzz/run.sh $(FUZZ_SECONDS)

# Purser against the machine's floor and a Redis peer, in one run (see Benchmarks/README.md).
bench: deps
	$(SWIFT) build -c release --product purser
	python3 Benchmarks/bench.py --pin --purser-bin $(CURDIR)/.build/release/purser

# Instructions per operation of the daemon, counted by callgrind (needs valgrind; see Benchmarks/README.md).
instructions: deps
	$(SWIFT) build -c release --product purser
	python3 Benchmarks/instructions.py --purser-bin $(CURDIR)/.build/release/purser

clean:
	rm -rf .build purser-data purser.sock purser-admin.sock

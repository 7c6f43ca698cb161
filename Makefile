# Purser: the two commands of the README, and the helpers they use.
#   make run   installs the system libraries if missing, builds, and serves examples/policy.yaml
#   make test  runs every test

SWIFT ?= swift
CONFIGURATION ?= debug
BIN := .build/$(CONFIGURATION)/purser
POLICY ?= examples/policy.yaml
DATA ?= ./purser-data

.PHONY: run test deps build build-release clean

# Installs liblmdb-dev and libsqlite3-dev when pkg-config cannot find them (Debian; needs root or sudo).
deps:
	@pkg-config --exists lmdb sqlite3 2>/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq pkg-config liblmdb-dev libsqlite3-dev; }
	@python3 -c "import pytest" 2>/dev/null || python3 -m pip install -q pytest

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
	PURSER_BIN=$(CURDIR)/$(BIN) python3 -m pytest -q clients/python/tests tests

clean:
	rm -rf .build purser-data purser.sock purser-admin.sock

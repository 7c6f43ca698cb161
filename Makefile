# Purser: the two commands of the README, and the helpers they use.
#   make run   installs the system libraries if missing, builds, and runs Purser on examples/policy.yaml
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

build: deps
	$(SWIFT) build -c $(CONFIGURATION) --product purser

run: build
	$(BIN) check-policy $(POLICY)

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build purser-data purser.sock purser-admin.sock

# The two set-up commands:
#   make run    install, build, and run the daemon on the quickstart (no server needed)
#   make test   install, build with sanitizers, start the test servers, run every test
SHELL := /bin/bash
JOBS ?= $(shell nproc)
QUICKSTART := examples/quickstart.yaml

.PHONY: all deps build run test unit e2e format format-check bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

run: build
	@scripts/quickstart-seed.sh
	./build/release/megasync run -c $(QUICKSTART)

# Sanitizer build (ASan+UBSan) of the binary and every test; the e2e tests drive
# this same binary. Test servers are started by tests/services/start.sh.
test: deps
	cmake --preset ci >/dev/null
	cmake --build --preset ci -j $(JOBS)
	tests/services/run-with-services.sh ctest --preset ci -j $(JOBS)

unit: deps
	cmake --preset ci >/dev/null
	cmake --build --preset ci -j $(JOBS)
	ctest --preset ci -L unit -j $(JOBS)

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

format-check:
	git ls-files '*.h' '*.cc' | xargs clang-format --dry-run -Werror

bench: build
	bench/run.sh

clean:
	rm -rf build

# ttalloc - thin wrapper over CMake. `make help` lists the targets.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# Debian's interpreter: it has python3-pytest from scripts/install-deps.sh,
# whatever python3 comes first in PATH.
PYTHON     ?= /usr/bin/python3
PYTEST      = $(PYTHON) -m pytest -q -p no:cacheprovider
# Servers started by the tests take a free HTTP port, not 8080 (ttalloc-server --http).
export TTALLOC_HTTP ?= 127.0.0.1:0
BROWSER_DIR = tests/browser

.PHONY: format format-check fuzz-ci fuzz-ring fuzz-http bench-fleet bench-python all build deps deps-demo browser-deps test unit integration test-ttmetal asan asan-test tsan tsan-test soak fuzz demo bench bench-http clean help

all: build

help:
	@echo "make            build everything into $(BUILD)/ (bin/, lib/, programming_examples/)"
	@echo "make deps       install every Debian package: build, demo and test (scripts/install-deps.sh)"
	@echo "make deps-demo  install only what the build and the demo need"
	@echo "make demo       the end-to-end demo on simulated devices (installs deps-demo first)"
	@echo "make test       every test: unit, integration, both again under ASan+UBSan, concurrency under TSan"
	@echo "make unit       unit tests (cmocka via ctest)"
	@echo "make integration  integration tests (pytest, real binaries, Chromium, Prometheus)"
	@echo "make test-ttmetal libttalloc_ttmetal against the fake tt-metal (docs/TTMETAL.md; part of integration)"
	@echo "make browser-deps playwright-core for the dashboard test (npm ci in tests/browser)"
	@echo "make bench      issue 4's benchmark table (bench/run.py; BENCH_QUICK=1: ~20 s), writes bench/RESULTS.md"
	@echo "make bench-http   ingest rate while wrk hammers /metrics (bench/http_ingest.sh)"
	@echo "make asan-test  unit + integration tests on the ASan+UBSan build"
	@echo "make tsan-test  the concurrency tests on a ThreadSanitizer build ($(TSAN_BUILD))"
	@echo "make soak       8 producers x 1 M events, kill -9s and a server restart (bench/soak.py)"
	@echo "make fuzz       60 s libFuzzer run on the frame decoder"
	@echo "make fuzz-ring  60 s libFuzzer run on the shared-memory ring's consumer"
	@echo "make fuzz-http  60 s libFuzzer run on HTTP requests to the server (issue 14)"
	@echo "make bench-fleet  issue 14's figures: /metrics on a 32-device host, /metrics under abusive clients"
	@echo "make bench-python the Python Reporter per event through libttalloc (ctypes) vs pure Python (issue 15)"
	@echo "make install    install under PREFIX (default /usr/local; DESTDIR stages a package)"
	@echo "make format     clang-format the C sources (.clang-format); make format-check only checks"

deps:
	@bash scripts/install-deps.sh

# `make demo` needs no test tools (Chromium, Prometheus, clang...): the
# build and demo groups of scripts/install-deps.sh only.
deps-demo:
	@bash scripts/install-deps.sh build demo

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure

# playwright-core from the npm registry, pinned by package-lock.json; it drives
# Debian's /usr/bin/chromium and never downloads a browser.
$(BROWSER_DIR)/node_modules/.package-lock.json: $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund

browser-deps: $(BROWSER_DIR)/node_modules/.package-lock.json

integration: build browser-deps
	TTALLOC_BUILD_DIR=$(abspath $(BUILD)) $(PYTEST) tests/integration

# libttalloc_ttmetal driven by the fake tt-metal and the real server, and the
# fake's vtable checked against the pinned tt-metal header (docs/TTMETAL.md).
# They are integration tests too: `make integration` and `make asan-test` run them.
TTMETAL_TESTS = $(addprefix tests/integration/test_ttmetal_,plugin.py python.py vtable.py)

test-ttmetal: build
	TTALLOC_BUILD_DIR=$(abspath $(BUILD)) $(PYTEST) $(TTMETAL_TESTS)

$(ASAN_BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTTALLOC_SANITIZE=ON

asan: $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j$(JOBS)

asan-test: asan browser-deps
	ctest --test-dir $(ASAN_BUILD) --output-on-failure
	TTALLOC_BUILD_DIR=$(abspath $(ASAN_BUILD)) TTALLOC_SANITIZE=1 $(PYTEST) tests/integration

# ThreadSanitizer: the client library (threads, watcher, fork) and what drives it.
$(TSAN_BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTTALLOC_TSAN=ON -DTTALLOC_TESTS=OFF

tsan: $(TSAN_BUILD)/Makefile
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target ttalloc ttalloc-server ttalloc-load

tsan-test: tsan
	TTALLOC_BUILD_DIR=$(abspath $(TSAN_BUILD)) TTALLOC_TSAN=1 $(PYTEST) tests/integration/test_concurrency.py

soak: build
	$(PYTHON) bench/soak.py --build $(BUILD)

test: deps format-check unit integration test-ttmetal asan-test tsan-test fuzz-ci
	@echo "make test: all test suites passed"

fuzz: deps
	bash tests/fuzz/run.sh 60

# The short fuzz run of `make test` (issue 5): 45 s on the frame decoder,
# 45 s on the shared-memory ring's consumer (issue 4), 30 s on HTTP requests (issue 14).
fuzz-ci:
	bash tests/fuzz/run.sh 45
	bash tests/fuzz/run.sh 45 ring
	bash tests/fuzz/run.sh 30 http

fuzz-ring: deps
	bash tests/fuzz/run.sh 60 ring

fuzz-http: deps
	bash tests/fuzz/run.sh 60 http

# Issue 4's suite (bench/README.md): prints the table, rewrites its section of
# bench/RESULTS.md; fails only when a correctness check fails, not on a
# missed performance target.
bench: build
	$(PYTHON) bench/run.py --build $(BUILD)

bench-http: build
	bash bench/http_ingest.sh $(BUILD)

# Issue 14 (bench/fleet.py): /metrics render time and series on a simulated 32-device
# host with 500 processes and 1 M buffers; /metrics latency with abusive HTTP clients.
bench-fleet: build
	$(PYTHON) bench/fleet.py --build $(BUILD)

# Issue 15 (bench/python_reporter.py): Reporter.report_alloc + report_free per event
# through libttalloc with ctypes, pure Python and the bare ctypes calls, same run.
bench-python: build
	$(PYTHON) bench/python_reporter.py --build $(BUILD)

# cmake --install (cmake/install.cmake): binaries, libttalloc, ttalloc.h,
# ttalloc.pc, man pages, systemd units. DESTDIR=... stages a package.
PREFIX ?= /usr/local
.PHONY: install
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

demo: deps-demo build
	bash scripts/demo.sh $(BUILD)

# .clang-format (clang-format 14, Debian's clang-format): the C sources as the project writes them.
FORMAT_FILES = $(shell git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 'include/*.h')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@out=$$(for f in $(FORMAT_FILES); do clang-format "$$f" | diff -q "$$f" - >/dev/null || echo "$$f"; done); \
	if [ -n "$$out" ]; then echo "not formatted as .clang-format says (run make format):"; echo "$$out"; exit 1; fi; \
	echo "format-check: $(words $(FORMAT_FILES)) files formatted"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz

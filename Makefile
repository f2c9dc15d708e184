# 留芳 Liufang — `make run` starts the service on the embedded default; `make test` runs the test suite.
# Both do their own set-up on a fresh machine (virtualenv, packages, database migration).

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 5000
export LIUFANG_INSTANCE_PATH ?= $(CURDIR)/instance

BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The reference Whisper engine (PyTorch) and the Node tus client/server used by tests and benchmarks.
REFERENCE_STAMP := $(VENV)/.reference-engine
NODE_STAMP      := bench/node_modules/.installed

.PHONY: run test install system-deps test-system-deps bench-api bench-asr bench-upload bench-slow-clients bench-console clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[models,test]'
	touch $(STAMP)

install: $(STAMP)

# openai-whisper is installed without its dependencies: they pull triton (~1 GB), which CPU inference never uses.
# torch==2.13.0 is the CPU build that this project's machines keep on disk.
$(REFERENCE_STAMP): $(STAMP)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps openai-whisper==20250625
	$(BIN)/pip install --quiet tiktoken numba more-itertools tqdm
	touch $(REFERENCE_STAMP)

$(NODE_STAMP):
	if command -v npm >/dev/null 2>&1; then \
	  cd bench && npm install --silent --no-save --no-package-lock --no-audit --no-fund \
	    tus-js-client@4 @tus/server@2 @tus/file-store@2 && touch node_modules/.installed; \
	else echo "npm not found: the tus-js-client tests and the @tus/server comparison will be skipped"; fi

# ffmpeg for media processing (and PostgreSQL for the tests); installed with apt-get when missing and allowed.
system-deps:
	./scripts/install-system-deps

# The same, plus Debian's Chromium and a Chinese font for the console's browser tests (tests/console).
test-system-deps:
	./scripts/install-system-deps --test

run: system-deps $(STAMP)
	$(BIN)/liufang db upgrade
	$(BIN)/liufang users ensure-admin
	PORT=$(PORT) ./scripts/serve-embedded

test: test-system-deps $(STAMP) $(REFERENCE_STAMP) $(NODE_STAMP)
	$(BIN)/lint-imports --no-cache
	LIUFANG_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

bench-api: $(STAMP)
	$(BIN)/python bench/api_bench.py

bench-upload: $(STAMP) $(NODE_STAMP)
	$(BIN)/python bench/upload_bench.py

bench-slow-clients: $(STAMP) $(NODE_STAMP)
	$(BIN)/python bench/slow_clients_bench.py

bench-console: test-system-deps $(STAMP)
	$(BIN)/python bench/console_bench.py

bench-asr: $(STAMP) $(REFERENCE_STAMP)
	$(BIN)/python bench/asr_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

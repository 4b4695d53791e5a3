# convcli: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= $(abspath ../shared/datasets)
DEMO := demo-out

.PHONY: demo test lint bench bench-train clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: the main job on skimage's bundled sample images (nothing downloaded)
demo: $(STAMP)
	mkdir -p $(DEMO)
	$(BIN)/convcli kernels
	$(BIN)/convcli filter examples/lecture-5x5.txt -k sharpen
	$(BIN)/convcli filter --sample astronaut -k edges -k sharpen -k emboss -k sobel-x --gray \
		--range abs --out-dir $(DEMO) --json
	$(BIN)/convcli gray --sample astronaut -o $(DEMO)/astronaut-gray.png
	$(BIN)/convcli channels --sample astronaut --out-dir $(DEMO)
	@echo "demo images written to $(DEMO)/"

## test: the whole test suite (MNIST from ../shared/datasets)
test: $(STAMP)
	CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

## bench: convcli against ImageMagick, libvips, scipy and the Keras recipe (several minutes)
bench: $(STAMP)
	bash benchmarks/setup.sh
	CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(BIN)/python benchmarks/run.py $(BENCH)

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache

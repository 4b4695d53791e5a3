# convcli: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= $(abspath ../shared/datasets)
DEMO := demo-out

.PHONY: demo test test-deps test-slow test-all test-backends test-lowest lint bench clean

# On Linux x86_64 convcli depends on tensorflow-cpu, which installs the same `tensorflow`
# package as the CUDA build: a venv that still holds the `tensorflow` distribution drops both
# first, so the two never share files (TensorFlow on a GPU: see the README, not this target).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	if $(BIN)/python -c "$$TF_SWAP_NEEDED" 2>/dev/null; then \
		$(BIN)/python -m pip uninstall -y -q tensorflow tensorflow-cpu; fi
	$(BIN)/python -m pip install -q -e '.[dev,export]'
	touch $(STAMP)

define TF_SWAP_NEEDED
import importlib.metadata as m, platform, sys
m.distribution("tensorflow")
sys.exit(platform.system() != "Linux" or platform.machine() != "x86_64")
endef
export TF_SWAP_NEEDED

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
	@echo ""
	@echo "Watch your own network think, live in the browser (about 20 s of training, 98%):"
	@echo "  $(if $(wildcard $(DATA_DIR)),CONVCLI_DATA_DIR=$(DATA_DIR) )$(BIN)/convcli train cnn --epochs 2 --limit 20000 -o $(DEMO)/cnn.keras"
	@echo "  $(BIN)/convcli explain $(DEMO)/cnn.keras --open"

## test-deps: the Debian packages the tests read (fonts, chromium, ImageMagick, Fashion-MNIST, jq), when missing
test-deps:
	bash tools/test-deps.sh

## test: the test suite without the slow tests (MNIST from ../shared/datasets; under 2 minutes here)
test: $(STAMP) test-deps
	CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(BIN)/python -m pytest -n 2 -q -m "not slow"

## test-slow: the slow tests (training runs, signals at every stage, the browser, photographed digits)
test-slow: $(STAMP) test-deps
	CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(BIN)/python -m pytest -n 2 -q -m slow

## test-all: both
test-all: test test-slow

## test-backends: the fast backend-sensitive tests (a CLI train + evaluate + predict among them) under JAX and
## PyTorch, CPU builds, installed here when missing (TensorFlow runs them in test and test-slow)
test-backends: $(STAMP) test-deps
	$(BIN)/python -c "import jax" 2>/dev/null || $(BIN)/python -m pip install -q "jax[cpu]"
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	for b in $${BACKENDS:-jax torch}; do \
		echo "== KERAS_BACKEND=$$b"; \
		KERAS_BACKEND=$$b CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} \
			$(BIN)/python -m pytest -n 2 -q -m "backend and not slow" -p no:cacheprovider || exit 1; \
	done

## test-lowest: the fast suite with the oldest dependency versions pyproject.toml allows
## (constraints/lowest.txt), in .venv-lowest: the floors stay true. The export extra is not in that
## set, so CONVCLI_CI is unset here: its tests (and only tests lacking material) skip.
LOWEST := .venv-lowest
$(LOWEST)/.installed-stamp: pyproject.toml constraints/lowest.txt
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install -q --upgrade pip
	$(LOWEST)/bin/python -m pip install -q -c constraints/lowest.txt -e '.[dev]'
	touch $@

test-lowest: $(LOWEST)/.installed-stamp test-deps
	$(LOWEST)/bin/python -c "import numpy, PIL, skimage; print('lowest:', numpy.__version__, PIL.__version__, skimage.__version__)"
	CONVCLI_CI= CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(LOWEST)/bin/python -m pytest -n 2 -q -m "not slow" -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/python tools/structure_check.py src/convcli

## bench: convcli against ImageMagick, libvips, scipy and the Keras recipe; PNG folder vs IDX (several minutes)
bench: $(STAMP)
	bash benchmarks/setup.sh
	CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(BIN)/python benchmarks/run.py $(BENCH)

clean:
	rm -rf $(VENV) $(LOWEST) $(DEMO) .pytest_cache .ruff_cache

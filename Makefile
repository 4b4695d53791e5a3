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

## test-lowest: the oldest versions pyproject.toml allows, on the tests that use what the floors are
## for: 5.4 minutes on 2 cores shared at load 5-7 (175 s of CPU; the install 30 s with uv's cache
## empty); about 3 minutes on 2 free cores, estimated from that CPU time. uv installs with --resolution lowest-direct
## into a fresh .venv-lowest: every direct dependency (and the dev extra's) at its floor, read from
## pyproject.toml itself; tools/check_floors.py fails when one is not (uv takes a higher version,
## silently, where floors cannot be installed together).
## The tests, chosen by the floored library each one calls through convcli (numpy in all of them):
##   Pillow, tifffile: decoding, encoding, EXIF, 16 bits, JPEG/WebP quality, TIFF/GIF frames
##     (test_pictures, test_pictures2); Keras's loader on damaged model files (test_hostile);
##   scikit-image: samples, colour, a digit's ink, ruled paper (test_color, test_prediction,
##     test_ruled_paper); matplotlib: colour maps (test_color), train/evaluate plots (test_inspection);
##   Keras, TensorFlow: Conv2D filters, the lecture's numbers, building, summaries, fit, save/load,
##     predict, feature maps, schedules, training runs with checkpoints, resume and interrupts
##     (test_kernels, test_lecture, test_models, test_inspection, test_schedule, test_training);
##   Typer, Rich: --help and docs/cli.md byte for byte, flags (test_cli_help, test_docs, test_cli_flags*),
##     and Rich's floor itself: Spanish starts within 10 ms of English (13.7 failed it), run alone
##     after the others, as the other worker's load would disturb its CPU timing.
## Left out: what tests convcli's own code with the libraries only as references or as
## TensorFlow start-up (bands, batches, errors, daemon, explain, i18n catalogs, exports:
## the export extra is not installed).
LOWEST := .venv-lowest
LOWEST_TESTS := tests/test_pictures.py tests/test_pictures2.py tests/test_hostile.py tests/test_color.py \
	tests/test_prediction.py tests/test_ruled_paper.py tests/test_inspection.py tests/test_kernels.py \
	tests/test_lecture.py tests/test_models.py tests/test_schedule.py tests/test_cli_help.py tests/test_docs.py \
	tests/test_cli_flags.py tests/test_cli_flags_named.py tests/test_training.py tests/test_feeding.py
LOWEST_ALONE := tests/test_i18n.py::test_spanish_starts_within_10_ms_of_english
$(LOWEST)/.installed-stamp: pyproject.toml
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install -q uv
	$(LOWEST)/bin/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[dev]'
	touch $@

test-lowest: $(LOWEST)/.installed-stamp test-deps
	$(LOWEST)/bin/python tools/check_floors.py dev
	CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(LOWEST)/bin/python -m pytest -n 2 -q -m "not slow" \
		-p no:cacheprovider $(LOWEST_TESTS)
	CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(LOWEST)/bin/python -m pytest -q -p no:cacheprovider \
		$(LOWEST_ALONE)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/python tools/structure_check.py src/convcli

## bench: convcli against ImageMagick, libvips, scipy and the Keras recipe; PNG folder vs IDX (several minutes)
bench: $(STAMP)
	bash benchmarks/setup.sh
	CONVCLI_DATA_DIR=$${CONVCLI_DATA_DIR:-$(DATA_DIR)} $(BIN)/python benchmarks/run.py $(BENCH)

clean:
	rm -rf $(VENV) $(LOWEST) $(DEMO) .pytest_cache .ruff_cache

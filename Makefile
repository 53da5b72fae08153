# Quick start: `make demo` (train, export, stylize the bundled photos) and `make test`;
# `make check` is the fast tier to run while working, `make lint` the linter and formatter.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# pip takes torch from this machine's local wheel cache where there is one; the versions
# are the ones this project is tested with (aarch64 has no CPU wheel of 2.14.1).
ifeq ($(shell uname -m),aarch64)
TORCH := torch==2.9.1 torchvision==0.24.1
else
TORCH := torch==2.14.1 torchvision==0.29.1
endif
DEMO_DIR := outputs/demo

.PHONY: demo test check lint install clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	rm -rf $(DEMO_DIR)
	$(BIN)/python train.py hydra.run.dir=$(DEMO_DIR)/run
	$(BIN)/python export.py ckpt=$(DEMO_DIR)/run/checkpoints/last.ckpt out=$(DEMO_DIR)/model.onnx
	$(BIN)/photostyle stylize $(DEMO_DIR)/model.onnx data/samples -o $(DEMO_DIR)/stylized
	$(BIN)/photostyle compare data/samples $(DEMO_DIR)/stylized/samples -o $(DEMO_DIR)/before_after.jpg
	@echo "before: data/samples/   after: $(DEMO_DIR)/stylized/samples/   side by side: $(DEMO_DIR)/before_after.jpg"

# -n 2: two test processes, so that one computes while the other waits on a subprocess
# (training, serve) or a timer; not -n auto, since a container may report more cores than it
# may use, and the timed serve tests need theirs. --durations: CI's log names where time goes.
test: install
	$(BIN)/python -m pytest -q -n 2 --durations=15

check: install
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) outputs

# Quick start:   make demo    (set up .venv/ if needed, train SegNeXt-T on the built-in street scenes)
#                make test    (set up .venv/ if needed, run the test suite)
# Every target runs in the project environment $(VENV) (created and filled by scripts/install.sh;
# as root it also installs the system packages). Another environment: make test VENV=/path/to/venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CONFIG ?= configs/demo/segnext_t_scenes.py

.PHONY: install demo test bench e2fgvi-demo clean

install:
	PYTHON="$(PYTHON)" VENV="$(VENV)" bash scripts/install.sh

demo: install
	$(PY) tools/train.py $(DEMO_CONFIG)

test: install
	$(PY) -m pytest -q tests

# E2FGVI on the built-in synthetic clips: the warm-up stage, then the demo (README, E2FGVI).
e2fgvi-demo: install
	$(PY) tools/train.py configs/e2fgvi/e2fgvi_demo_warmup.py
	$(PY) tools/train.py configs/e2fgvi/e2fgvi_demo_synthetic.py

bench: install
	$(PY) benchmarks/bench_ops.py

# The environment is kept: remove it with rm -rf $(VENV).
clean:
	rm -rf work_dirs .pytest_cache .install-stamp

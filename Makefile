# Quick start:   make demo    (install what is missing, run the main job on built-in data)
#                make test    (install what is missing, run the test suite)
PYTHON ?= python3
DEMO_CONFIG ?= configs/demo/segnext_t_scenes.py

.PHONY: install demo test bench clean

install:
	PYTHON=$(PYTHON) bash scripts/install.sh

demo: install
	$(PYTHON) tools/train.py $(DEMO_CONFIG)

test: install
	$(PYTHON) -m pytest -q tests

bench: install
	$(PYTHON) benchmarks/bench_ops.py

clean:
	rm -rf work_dirs .pytest_cache .install-stamp

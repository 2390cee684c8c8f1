# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= demo_output

.PHONY: env test test-fast demo bench clean-demo

# The virtual environment, rebuilt when pyproject.toml changes. torch/torchvision come first and
# pinned: plain pip takes them from this machine's local wheels (no multi-GB download).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

env: $(STAMP)

test: env
	$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest ran no test"; exit 1; fi; exit $$rc

test-fast: env
	$(PY) -m pytest -q -m "not slow"

demo: env
	$(VENV)/bin/workbench demo --out $(DEMO_DIR)

bench: env
	$(PY) bench/run_all.py

clean-demo:
	rm -rf $(DEMO_DIR)

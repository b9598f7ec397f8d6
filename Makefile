# Two commands on a fresh machine (Python 3.11, pip, make): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench clean

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(PIP) install -e '.[test,heif]'
	touch $@

demo: $(VENV)/.core
	mkdir -p out
	$(VENV)/bin/zoomout make examples/cat.png -o out/demo.mp4 --save-slots out/demo_slots
	@echo "demo video: $(CURDIR)/out/demo.mp4"

test: $(VENV)/.test
	$(PY) -m pytest

bench: $(VENV)/.test
	$(PY) bench/bench_render.py
	$(PY) bench/bench_classic.py
	$(PY) bench/bench_demo.py

clean:
	rm -rf $(VENV) out .pytest_cache

# Two commands on a fresh machine (Python 3.11, pip, make): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench clean chromium

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.test: $(VENV)/.core
	# torch first and pinned, so it resolves to the CPU build here: an unpinned torch pulls GBs of CUDA wheels
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[test,heif,diffusion,lama,web,batch]'
	touch $@

demo: $(VENV)/.core
	mkdir -p out
	$(VENV)/bin/zoomout make examples/cat.png -o out/demo.mp4 --save-slots out/demo_slots
	@echo "demo video: $(CURDIR)/out/demo.mp4"

test: $(VENV)/.test chromium
	$(PY) -m pytest

# The web app's browser test drives Debian's chromium (never a downloaded browser); it is
# installed here where apt can (as root), and the test is skipped where it could not be.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) \
		|| echo "chromium unavailable: the browser test will skip"

bench: $(VENV)/.test
	$(PY) bench/bench_render.py
	$(PY) bench/bench_stream.py
	$(PY) bench/bench_classic.py
	$(PY) bench/bench_picture.py
	$(PY) bench/bench_engines.py
	$(PY) bench/bench_fast.py  # full-size SD 1.5 on the CPU: about 10 minutes; builds 4.5 GB of random weights once
	$(PY) bench/bench_sound.py
	$(PY) bench/bench_memory.py
	$(PY) bench/bench_demo.py
	$(PY) bench/bench_batch.py

clean:
	rm -rf $(VENV) out .pytest_cache

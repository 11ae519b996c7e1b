# `make run` launches the application, `make test` runs the test suite, `make bench` prints the quick
# benchmarks' figures (a few minutes on a 2-core CPU; run it on an otherwise idle machine), `make bundle`
# builds and checks the one-folder PyInstaller bundle (packaging/README.md; its own venv, not .venv).
# Each creates .venv and installs the project into it on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench bundle clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/matteapp $(ARGS)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

# The long benchmarks (full-resolution matting, the GUI, the canvas, band widths, local updates, seams,
# the speed suite) are left out: run tests/benchmarks/<name>.py on its own (each says how in its docstring).
SHARED ?= ../shared
bench: $(STAMP)
	$(PY) tests/benchmarks/bench_training_data.py
	$(PY) tests/benchmarks/bench_export.py
	$(PY) tests/benchmarks/bench_model.py --decoder-layout
	$(PY) tests/benchmarks/bench_model.py --sizes 1024
	$(PY) tests/benchmarks/bench_memory.py --sizes 1024 2048
	@if [ -d $(SHARED)/reference/mematte-d96 ] && [ -d $(SHARED)/data/alphamatting-dev ]; then \
		$(PY) tests/benchmarks/bench_precision.py --reduced-routers; \
	else echo "bench_precision.py skipped: $(SHARED)/reference and $(SHARED)/data are absent"; fi

# BUNDLE_ARGS=--cpu: CPU-only torch (a fraction of the size)
bundle:
	packaging/build.sh $(BUNDLE_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info

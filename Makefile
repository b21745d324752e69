# adkit: the commands.
#   make test    set up .venv, lint, run the test suite (tests + doctests + notebooks)
#   make demo    set up .venv (with PyTorch), run the main job: every tutorial executed headless into out/*.html
#   make notebooks  re-execute every notebooks/NN_*.py into its stored .ipynb (NB="00_tour 03_x" for some)
#   make lab     set up .venv, open the notebooks in JupyterLab
#   make docs    build the documentation into docs/_build/html (once docs/conf.py exists)
#   make bench   run the benchmarks, pinned to one core and one BLAS thread
#   make lint    ruff check and ruff format --check (ruff format . lays the code out)
#   make clean   remove build and test leftovers (make distclean also removes .venv)
#
# Each target creates .venv with $(PYTHON) when it is missing and installs into
# it through a stamp file (.venv/.stamp-EXTRA) that depends on pyproject.toml:
# a second run installs nothing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := test

# No home state leaks into the tests: matplotlib, IPython and Jupyter get
# folders of their own, made fresh by each `make test` (MPLBACKEND is left
# unset on purpose: notebooks use %matplotlib inline, tests pick Agg headless).
# JUPYTER_PLATFORM_DIRS=1 keeps older jupyter_core 5.x releases from warning about their
# path migration, which filterwarnings = "error" would turn into a failure.
TEST_HOME := $(VENV)/test-home
TEST_ENV  := MPLCONFIGDIR=$(abspath $(TEST_HOME))/matplotlib \
             IPYTHONDIR=$(abspath $(TEST_HOME))/ipython \
             JUPYTER_CONFIG_DIR=$(abspath $(TEST_HOME))/jupyter-config \
             JUPYTER_DATA_DIR=$(abspath $(TEST_HOME))/jupyter-data \
             JUPYTER_RUNTIME_DIR=$(abspath $(TEST_HOME))/jupyter-runtime \
             JUPYTER_PLATFORM_DIRS=1

PYTEST_ARGS ?=

# ---- Notebooks (nbval) ------------------------------------------------------
# The tutorials under notebooks/ are run by nbval against their stored outputs.
# NOTEBOOKS is empty while notebooks/ holds none, and then the step is skipped.
# A sanitize file (regex:/replace: blocks) is used when it exists.
NOTEBOOKS      ?= $(wildcard notebooks/*.ipynb)
NBVAL_SANITIZE ?= $(wildcard notebooks/nbval-sanitize.cfg)
NBVAL_ARGS     ?= --nbval --nbval-current-env \
                  $(if $(NBVAL_SANITIZE),--nbval-sanitize-with $(NBVAL_SANITIZE))

# ---- Docs -------------------------------------------------------------------
# Built by `make docs` once docs/conf.py exists; `make test` builds them then too. -E reads every page
# afresh: an incremental build would not repeat the warnings of unchanged pages, so -W would pass the
# second time. Open docs/_build/html/index.html.
DOCS_CONF := $(wildcard docs/conf.py)
SPHINX_ARGS ?= -W --keep-going -E -b html docs docs/_build/html

.PHONY: test demo notebooks lab docs bench lint clean distclean

# ---- the virtual environment ------------------------------------------------
$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-test: pyproject.toml | $(PY)
	$(PIP) install -e '.[test]'
	touch $@

# The demo extra: what executing the notebooks headless needs (nbclient, ipykernel, jupytext, nbconvert ...).
$(VENV)/.stamp-demo: pyproject.toml | $(PY)
	$(PIP) install -e '.[demo]'
	touch $@

# PyTorch, which tutorial 08 compares adkit with, for make demo, make notebooks and make lab. Pinned: this
# release's CPU wheel is what the tutorial was checked with (PyPI's Linux wheel of it is a CUDA build of a few
# GB: see the README for the CPU-only one). If it cannot be installed, make demo still runs and shows tutorial
# 08 with its stored results, marked as such with their versions; the next make tries again.
TORCH ?= torch==2.13.0
$(VENV)/.stamp-torch: | $(PY)
	if $(PIP) install '$(TORCH)'; then touch $@; \
	else echo "make: $(TORCH) could not be installed: tutorial 08 will show its stored PyTorch results"; fi

$(VENV)/.stamp-lab: pyproject.toml | $(PY)
	$(PIP) install -e '.[lab]'
	touch $@

$(VENV)/.stamp-docs: pyproject.toml | $(PY)
	$(PIP) install -e '.[docs]'
	touch $@

$(VENV)/.stamp-bench: pyproject.toml | $(PY)
	$(PIP) install -e '.[bench]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(PY)
	$(PIP) install -e '.[dev]'
	touch $@

# ---- targets ----------------------------------------------------------------
# The docs extra too (when docs/conf.py exists): tests/test_offline.py builds the docs in a real browser.
test: $(VENV)/.stamp-test $(if $(DOCS_CONF),$(VENV)/.stamp-docs)
	rm -rf $(TEST_HOME) && mkdir -p $(TEST_HOME)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)
# -- notebooks: nbval over $(NOTEBOOKS) (skipped while there are none) --
	$(if $(NOTEBOOKS),$(TEST_ENV) $(PY) -m pytest $(NBVAL_ARGS) $(NOTEBOOKS),@echo "make test: no notebooks/*.ipynb yet: nbval skipped")
# -- docs: the Sphinx build with -W (skipped while docs/conf.py is missing) --
	$(if $(DOCS_CONF),$(MAKE) docs,@echo "make test: no docs/conf.py yet: docs build skipped")

# The main job: every stored notebook executed afresh, headless, into out/NN_name.html (figures
# embedded); one line per notebook, then the path of out/index.html. (`python -m adkit.tour` is
# the same tour as notebooks/00_tour, printed in a terminal.)
DEMO_OUT ?= out
demo: $(VENV)/.stamp-demo $(VENV)/.stamp-torch
	$(PY) notebooks/build.py --demo $(DEMO_OUT)

# Rebuild the stored notebooks from their jupytext scripts (the source of truth), with outputs.
NB ?=
notebooks: $(VENV)/.stamp-demo $(VENV)/.stamp-torch
	$(PY) notebooks/build.py $(NB)

# Extra options for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --port=8899".
# Jupyter refuses to run as root unless told: this machine's users are root.
LAB_ARGS ?=
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)
# notebooks/jupyter_lab_config.json lists each tutorial once in the file browser, as its notebook
# NN_name.ipynb: the paired script NN_name.py (kept in step by jupytext on every save) and the build
# files are hidden. `make lab LAB_CONFIG=` shows every file.
LAB_CONFIG ?= $(wildcard notebooks/jupyter_lab_config.json)
# The demo extra too: what the tutorials import (sympy, torch), and jupytext, which saves each notebook
# together with its script.
lab: $(VENV)/.stamp-lab $(VENV)/.stamp-demo $(VENV)/.stamp-torch
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(if $(wildcard notebooks),notebooks,.) \
	    $(if $(LAB_CONFIG),--config=$(abspath $(LAB_CONFIG))) $(LAB_ROOT) $(LAB_ARGS)

ifeq ($(DOCS_CONF),)
docs:
	@echo "make docs: docs/conf.py does not exist yet: nothing to build"
else
docs: $(VENV)/.stamp-docs
	$(VENV)/bin/sphinx-build $(SPHINX_ARGS)
endif

TASKSET := $(if $(shell command -v taskset 2>/dev/null),taskset -c 0)
bench: $(VENV)/.stamp-bench
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	    $(TASKSET) $(PY) benchmarks/run.py

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis out build dist *.egg-info \
	       docs/_build notebooks/_build jupyter_execute $(TEST_HOME)
	find . -path ./$(VENV) -prune -o \
	       \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +
	rm -f benchmarks/results/*.tmp

distclean: clean
	rm -rf $(VENV)

# tlcourse: two commands on a fresh machine with Python 3.11, make and pip.
#   make lab    create .venv if missing, install everything, open JupyterLab on notebooks/
#   make test   the same set-up, then every check (ruff, pytest, every notebook in quick mode)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tlcourse-installed
# The tests use the offline mirror of the course assets when it exists next to the checkout.
MIRROR ?= $(if $(wildcard ../shared/assets),$(abspath ../shared/assets),)
TEST_ENV := TLCOURSE_QUICK=1 $(if $(MIRROR),TLCOURSE_MIRROR=$(MIRROR)) \
            TLCOURSE_CACHE=$(CURDIR)/.cache/tlcourse MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=3

.PHONY: install lab test lint unit notebooks notebooks-full test-colab test-browser benchmark clean

$(STAMP): pyproject.toml tools/no_deps.py
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found: install it, or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev,lab]"  # lab: JupyterLab and the kernel; dev: the test tools
	# Packages whose declared dependencies are wrong for us (see [tool.tlcourse] in pyproject.toml)
	$(PY) -m pip install --no-deps $$($(PY) tools/no_deps.py)
	$(PY) -m ipykernel install --sys-prefix --name tlcourse --display-name "Python 3 (tlcourse)"  # this venv's own kernel: each checkout runs its own Python
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

lint: install
	$(VENV)/bin/ruff check .
	$(PY) tools/sync_notebooks.py --check

unit: install
	$(TEST_ENV) $(PY) -m pytest -q tests --ignore=tests/browser

# Two notebooks at a time (pytest-xdist; each notebook stays on one worker): kernel start-up and
# imports overlap. JOBS=1 runs them one after another.
JOBS ?= 2
notebooks: install
	$(TEST_ENV) $(PY) -m pytest -q --nbval-lax --nbval-current-env --durations=0 \
	  $(if $(filter-out 1,$(JOBS)),-n $(JOBS) --dist loadfile) notebooks

test: lint unit notebooks

# Full mode, what learners run (offline here): every lesson and its solutions, longest first.
# FULL_JOBS notebooks at a time (pytest-xdist, as `notebooks`): graph tracing, scikit-learn and
# Python leave part of the second core idle, so two side by side finish sooner (1,257 s against
# 1,438-1,502 s one at a time, clean-clone CI); each cell's time is then a shared-machine figure.
# Idle-machine times per lesson: `make benchmark`. FULL_JOBS=1 runs them one after another.
FULL ?= 05_bert_sentiment 06_domain_adaptation 03_mobilenetv2_mnist 07_your_own_images \
        02_freezing_layers 01_transfer_learning_concepts 04_resnet50_imagenet 00_start_here
FULL_JOBS ?= 2
# Each notebook runs under Binder's memory: a cgroup limit of MEMORY_LIMIT for its kernel and the
# test process (tools/memory_limit.py; where cgroups cannot be created it says so and runs
# without one). A kernel over the limit is killed and its notebook fails. MEMORY_LIMIT= turns it off.
MEMORY_LIMIT ?= 1.8G
FULL_ENV := $(filter-out TLCOURSE_QUICK=1,$(TEST_ENV))
notebooks-full: install
	$(FULL_ENV) $(PY) -m pytest -q --nbval-lax --nbval-current-env --durations=0 \
	  $(if $(MEMORY_LIMIT),-p tools.memory_limit --memory-limit $(MEMORY_LIMIT)) \
	  $(if $(filter-out 1,$(FULL_JOBS)),-n $(FULL_JOBS) --dist loadfile) \
	  $(foreach n,$(FULL),notebooks/$(n).ipynb $(wildcard notebooks/solutions/$(n).ipynb))

benchmark: install
	$(PY) benchmarks/time_notebooks.py

# Colab's runtime (tools/colab_job.py): a Python 3.13 venv with Colab's published versions
# (.ci/colab/runtime.txt), a kernel that imports a stand-in google.colab, and every notebook
# run alone in an empty folder, its own Colab cell installing the course from this checkout.
# Then the unit tests on the same versions. Fails if a notebook or test fails, or if a package
# of the runtime changed version.
# a python3.13 that runs (a pyenv shim of a version not selected does not), else pyenv's own copy
COLAB_PYTHON ?= $(firstword $(shell python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null) $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13))
COLAB_VENV   ?= .colab-venv
test-colab:
	@test -n "$(COLAB_PYTHON)" || { echo "Python 3.13 (Colab's version) not found: install it, or run 'make test-colab COLAB_PYTHON=/path/to/python3.13'"; exit 1; }
	$(PYTHON) tools/colab_job.py --python $(COLAB_PYTHON) --venv $(COLAB_VENV) $(if $(MIRROR),--mirror $(MIRROR)) $(if $(filter true,$(CI)),--fresh)

# A real browser drives JupyterLab (tests/browser). Chromium comes from Debian's package
# (Playwright's own browser download needs hosts a classroom or CI may not reach).
# In CI (CI=true) the browser is installed first and a missing one fails the test; elsewhere the
# test is skipped with a hint (`bash tools/install_browser.sh`). The course kernel is also
# registered inside the venv, where this venv's JupyterLab looks first, so that it runs this
# checkout's Python even when another checkout registered its own `--user` one.
# TLCOURSE_BROWSER_RECORD=1 make test-browser  also writes the timings to benchmarks/RESULTS.md.
test-browser: install
	$(if $(filter true,$(CI)),bash tools/install_browser.sh)
	$(PY) -m ipykernel install --sys-prefix --name tlcourse --display-name "Python 3 (tlcourse)" >/dev/null
	$(TEST_ENV) $(PY) -m pytest -q tests/browser

clean:
	rm -rf .cache .pytest_cache .ruff_cache

# alignbench: `make help` lists the targets.
PY ?= .venv/bin/python

.PHONY: help install system-packages run plan sweep-tiny status report notebooks bench test test-fast lint format clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install:  ## create .venv with the pinned stack (torch first: the CPU wheel, not a CUDA build), then system-packages
	python3 -m venv .venv
	.venv/bin/pip install --quiet --upgrade pip
	.venv/bin/pip install --quiet torch==2.13.0
	.venv/bin/pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory system-packages

# The local SLURM cluster of tests/slurm (slurmctld, slurmd, munged). Never fails the install: without them
# (no apt-get, not root, no network) those tests skip, saying why.
system-packages:  ## slurm-wlm and munge for the SLURM tests (apt-get, only as root; skipped with a note otherwise)
	@if command -v slurmctld >/dev/null && command -v munged >/dev/null; then \
	  echo "system packages: slurm-wlm and munge are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "system packages: installing slurm-wlm and munge with apt-get (for tests/slurm)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null) \
	    || echo "system packages: apt-get failed; tests/slurm will skip"; \
	else \
	  echo "system packages: slurm-wlm and munge not installed (needs apt-get as root); tests/slurm will skip"; \
	fi

run:  ## the embedded default: DPO + LoRA on a tiny local model, bundled data, CPU
	$(PY) -m alignbench

SWEEP ?= paper_tiny
plan:  ## print every job of SWEEP (default paper_tiny) with its status, without running anything
	$(PY) -m alignbench -m sweep=$(SWEEP) dry_run=true

sweep-tiny:  ## the study's grid on tiny models and bundled data (32 runs, CPU); relaunch resumes
	$(PY) -m alignbench -m sweep=paper_tiny

status:  ## the grid of SWEEP (default paper_tiny) as a done/failed/pending matrix
	$(PY) -m alignbench.report.status multirun/$(SWEEP)

report:  ## tables, figures and checked findings of SWEEP into multirun/SWEEP/report/ (no torch; seconds)
	$(PY) -m alignbench.report multirun/$(SWEEP)

notebooks:  ## execute notebooks/*.ipynb on the records of SWEEP; executed copies (outputs) in multirun/SWEEP/notebooks/
	$(PY) -m alignbench.report.notebooks multirun/$(SWEEP)

bench:  ## alignbench vs plain TRL and stock lm-eval (grid, step, eval, plan, RSS); ~15 min; bench/results/
	$(PY) bench/bench.py

# Two workers, a file each at a time (module fixtures stay in one process), one torch thread each: on 2 cores the
# suite is 40% faster than one process with two threads, which leaves a core idle while Python or SLURM works.
TEST_WORKERS ?= 2
test:  ## every test, on CPU, offline (TEST_WORKERS=2 processes)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast:  ## the tests that take seconds (no training, no subprocesses)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow"

LINTED = alignbench tests scripts bench hydra_plugins
lint:  ## ruff check (pycodestyle, pyflakes, bugbear, pyupgrade, isort), ruff format --check, mypy against its baseline
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)
	$(PY) scripts/mypy_baseline.py

format:  ## apply ruff's fixes and formatting
	$(PY) -m ruff check --fix $(LINTED)
	$(PY) -m ruff format $(LINTED)

clean:  ## remove run outputs (runs/, multirun/)
	rm -rf runs multirun outputs

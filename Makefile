# tomclip: `make paper` reproduces the companion, `make test` checks it. `make` alone lists targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.SECONDARY:
MAKEFLAGS += --no-builtin-rules

PROFILE ?= embedded
# A profile is a file params/<profile>.yaml; any other PROFILE stops here, before any work.
PROFILES := $(sort $(basename $(notdir $(wildcard params/*.yaml))))
ifeq ($(filter $(PROFILE),$(PROFILES)),)
$(error Unknown profile PROFILE=$(PROFILE): there is no params/$(PROFILE).yaml. The profiles: $(PROFILES))
endif
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
KERNEL := tomclip
BUILD := build
export PYTHONHASHSEED := 0
# The pinned numeric environment (kernels, thread count): see numerics.env for why. Exported to every
# recipe here and written into the Jupyter kernel, so notebooks, tests and scripts compute alike.
include numerics.env
NUMERIC_VARS := $(shell sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' numerics.env)
export $(NUMERIC_VARS)

SOURCES := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
NAMES := $(notdir $(basename $(SOURCES)))
EXECUTED := $(NAMES:%=$(BUILD)/executed/$(PROFILE)/%.ipynb)
SITE := $(BUILD)/site/$(PROFILE)

VENV_STAMP := $(VENV)/.tomclip-installed
SYSTEM_STAMP := $(BUILD)/stamps/system-assets
ASSETS_STAMP := $(BUILD)/stamps/assets

.PHONY: help setup data-check paper reproduce site readme benchmark test unit lint format nbval nbval-prepare site-test guard spread cpus nbval-record lab lock \
        clean distclean

help: ## list the targets
	@echo "tomclip: the ToMCLIP companion. Targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: PROFILE=$(PROFILE) (embedded | smoke | paper)"

# ---------------------------------------------------------------- set-up (idempotent, stamped)
# JupyterLab reads the project's settings from the virtualenv's app directory (overrides.d): the .py
# sources open as notebooks (jupytext's viewer) and Lab asks no news question.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.d/tomclip.json

$(VENV_STAMP): pyproject.toml requirements.lock numerics.env scripts/install-venv.sh scripts/uv-sources.sh \
               scripts/jupyterlab/tomclip-settings.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	scripts/install-venv.sh $(VENV)
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (tomclip)" \
	    $(foreach v,$(NUMERIC_VARS),--env $(v) '$($(v))') >/dev/null
	@mkdir -p $(dir $(LAB_SETTINGS)) && cp scripts/jupyterlab/tomclip-settings.json $(LAB_SETTINGS)
	@touch $@

$(SYSTEM_STAMP): scripts/install-system-assets.sh
	bash scripts/install-system-assets.sh
	@mkdir -p $(@D) && touch $@

$(ASSETS_STAMP): $(VENV_STAMP) $(SYSTEM_STAMP)
	$(BIN)/python -m tomclip_lib.assets prepare
	@mkdir -p $(@D) && touch $@

setup: $(ASSETS_STAMP) ## install everything: virtualenv, Jupyter kernel, data and model assets

# ---------------------------------------------------------------- notebooks
$(BUILD)/notebooks/%.ipynb: notebooks/%.py jupytext.toml | $(VENV_STAMP)
	@mkdir -p $(@D)
	$(BIN)/jupytext --quiet --to ipynb --set-kernel $(KERNEL) --output $@ $<

$(BUILD)/params/$(PROFILE)/%.yaml: params/$(PROFILE).yaml notebooks/%.py | $(VENV_STAMP)
	@mkdir -p $(@D)
	$(BIN)/python -m tomclip_lib.config $(PROFILE) $* > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi  # unchanged: keep the date

# Before the first notebook, once per run: every download the profile names (the paper profile's
# M-CLIP, CIFAR-100, xFlickr&CO and image folders), with one message that lists all that is missing.
data-check: | $(VENV_STAMP) ## check the profile's data paths (PROFILE=paper: the real downloads)
	@$(BIN)/python -m tomclip_lib.data.paper_check $(PROFILE)

# Executed copies, never in place. scripts/run-notebook.py runs papermill and prints the expected
# duration, each cell, the notebook's prints and training progress; a failure names the cell and
# keeps the partial notebook as *.failed.ipynb.
$(BUILD)/executed/$(PROFILE)/%.ipynb: $(BUILD)/notebooks/%.ipynb $(BUILD)/params/$(PROFILE)/%.yaml | $(ASSETS_STAMP) data-check
	@$(BIN)/python scripts/run-notebook.py --kernel $(KERNEL) --parameters-file $(word 2,$^) --cwd $(@D) \
	    --profile $(PROFILE) --source notebooks/$*.py $< $@

# What each notebook reads from the ones before it (artifacts); make re-runs it when they change.
include notebooks/dependencies.mk

paper: $(EXECUTED) $(SITE)/index.html ## run every notebook for PROFILE (default embedded), then build its reader's edition

# The reproduction check: this run's results/PROFILE against the committed ones (git HEAD), cell by cell,
# timing columns aside; every difference is named and fails the target (docs/testing.md).
reproduce: paper ## make paper, then compare results/PROFILE with the committed tables cell by cell (timings aside)
	@git ls-files --error-unmatch results/$(PROFILE) >/dev/null 2>&1 || \
	    { echo "No committed results/$(PROFILE) to compare with (only results/embedded is kept)."; exit 2; }
	@committed=$$(mktemp -d) && trap 'rm -rf "$$committed"' EXIT && \
	git archive HEAD results/$(PROFILE) | tar -x -C "$$committed" && \
	$(BIN)/python scripts/compare-results.py "$$committed/results/$(PROFILE)" results/$(PROFILE)

# The reader's edition: every executed notebook as a page, a landing page, the engine's API reference,
# in build/site/PROFILE/ (open index.html from the file system). docs/rendered-edition.md says more.
# The findings and the headline verdict are written from this run's tables first, so the landing page
# shows this run's verdict.
$(SITE)/index.html: $(EXECUTED) scripts/build-site.py scripts/findings.py tomclip_lib/stages/findings.py $(wildcard tomclip_lib/topology/*.py) \
                    | $(VENV_STAMP)
	$(BIN)/python scripts/findings.py $(PROFILE) >/dev/null
	$(BIN)/python scripts/build-site.py $(PROFILE)

site: | $(VENV_STAMP) ## rebuild the reader's edition of PROFILE from its executed notebooks (build/site/PROFILE/)
	$(BIN)/python scripts/build-site.py $(PROFILE)

readme: ## refresh the generated blocks of README.md, RESULTS.md and docs/ from results/ after `make paper`
	$(BIN)/python scripts/notebook-timings.py embedded
	$(BIN)/python scripts/findings.py embedded
	$(BIN)/python scripts/update-readme.py

benchmark: $(VENV_STAMP) ## time the topology engine against the reference path, a training step, the pinning's cost, torchrun on the CPU (minutes)
	$(BIN)/python benchmarks/bench_topology.py
	$(BIN)/python benchmarks/bench_training_step.py
	$(BIN)/python benchmarks/bench_numerics.py
	$(BIN)/python benchmarks/bench_distributed.py

# A trained student of notebook 03 as a Hugging Face folder with its model card (and open_clip's files in
# the paper profile), in build/export/PROFILE/ or OUT: docs/export.md. MODEL, SETTING, SEED choose the run.
.PHONY: export
export: | $(VENV_STAMP) ## export a trained student of PROFILE (MODEL=ToMCLIP SETTING=full|low SEED=0 OUT=folder)
	$(BIN)/python -m tomclip_lib.export $(PROFILE) --model '$(or $(MODEL),ToMCLIP)' $(if $(SETTING),--setting $(SETTING)) \
	    $(if $(SEED),--seed $(SEED)) $(if $(OUT),--out '$(OUT)')

# What the regression may compare: the smoke profile in three numeric environments (pinned, one
# thread, unpinned), and every checked line that moves, in results/numeric_spread.md.
spread: setup ## run the smoke profile in three numeric environments; list the checked outputs that move (20 min)
	scripts/smoke-in-environment.sh pinned $(BUILD)/spread
	OMP_NUM_THREADS=1 scripts/smoke-in-environment.sh one-thread $(BUILD)/spread
	env -u ATEN_CPU_CAPABILITY -u MKL_CBWR -u ONEDNN_MAX_CPU_ISA -u NUMBA_CPU_NAME \
	    scripts/smoke-in-environment.sh unpinned $(BUILD)/spread
	$(BIN)/python scripts/numeric-spread.py $(BUILD)/spread pinned one-thread unpinned

cpus: $(VENV_STAMP) ## which of our operations give other bits on an emulated Intel AVX2 and AMD CPU (minutes)
	@command -v qemu-x86_64 >/dev/null || { [ "$$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user >/dev/null; }
	$(BIN)/python scripts/cpu-probe.py | tee results/cpu_probe.md

# The repository is Lab's root (the executed copies in build/executed/ are one click away); root
# users (containers, these machines) need --allow-root.
lab: setup ## open the notebooks in JupyterLab (the .py sources open as notebooks)
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
	    $(if $(filter 0,$(shell id -u)),--allow-root)

# ---------------------------------------------------------------- tests
# The unit tests leave out the module that reads the smoke profile's site: site-test runs it after nbval.
# Two processes (pytest-xdist), each test file on one of them (module fixtures are built once), the paper
# profile's notebook chain first (tests/conftest.py): most tests keep one core busy, the machine has two.
SMOKE_TESTS := tests/test_site.py
UNIT_TESTS := $(BIN)/python -m pytest -q --durations=8 -n 2 --dist loadfile --no-loadscope-reorder \
    tests $(SMOKE_TESTS:%=--ignore=%)

test: setup ## the linter, unit tests, every notebook in the smoke profile (regression), its site in Chromium, the numeric guard
	$(MAKE) --no-print-directory lint
	$(UNIT_TESTS)
	$(MAKE) --no-print-directory nbval
	$(MAKE) --no-print-directory site-test
	$(MAKE) --no-print-directory guard

unit: setup ## unit tests only
	$(UNIT_TESTS)

# One formatter and linter for the whole tree (ruff, pinned; its settings in pyproject.toml): `make format`
# applies both, `make lint` (the first step of make test) fails on a file that either would change.
lint: $(VENV_STAMP) ## check formatting and lint of the whole tree (ruff)
	$(BIN)/ruff format --check --quiet .
	$(BIN)/ruff check --quiet .

format: $(VENV_STAMP) ## format the whole tree and apply ruff's safe fixes
	$(BIN)/ruff format --quiet .
	$(BIN)/ruff check --fix --quiet .

# The regression, by nbval, and the smoke profile's run in one execution. tests/nbval/regress.py assembles
# each notebook as `make paper PROFILE=smoke` would run it (the smoke parameters injected by papermill)
# with the outputs recorded in tests/nbval/expected/ in the cells marked NBVAL_CHECK_OUTPUT
# (build/nbval/smoke/; `make nbval-record` records them anew); `pytest --nbval-lax` executes them in the
# tomclip kernel and compares those cells after tests/nbval/sanitize.cfg, and its plugin
# tests/nbval/executed_copies.py writes what ran to build/executed/smoke/ as papermill's copies. make then
# finds them up to date and builds the reader's edition from them (site-test opens it, guard reuses the
# cached features). Executing the notebooks a second time after papermill's run would cost minutes of
# make test's fifteen (docs/testing.md). Everything of the smoke run is removed first, so the regression
# always tests the code as it is now.
NBVAL := $(BUILD)/nbval/smoke
NBVAL_RUN := PYTHONPATH=tests/nbval$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python -m pytest -v -p executed_copies \
    --durations=8 --nbval-lax \
    --nbval-kernel-name $(KERNEL) --nbval-sanitize-with tests/nbval/sanitize.cfg
nbval: | $(ASSETS_STAMP) ## the notebook regression: every notebook in the smoke profile under nbval, then its site
	rm -rf $(BUILD)/executed/smoke $(NBVAL) $(SITE:$(PROFILE)=smoke)
	$(MAKE) --no-print-directory nbval-prepare PROFILE=smoke
	$(NBVAL_RUN) --executed-copies $(BUILD)/executed/smoke $(NAMES:%=$(NBVAL)/%.ipynb)
	$(MAKE) --no-print-directory paper PROFILE=smoke

# nbval's notebooks, NOTEBOOK.ipynb and PARAMETERS.yaml in pairs for regress.py (with PROFILE=smoke).
nbval-prepare: $(foreach n,$(NAMES),$(BUILD)/notebooks/$(n).ipynb $(BUILD)/params/$(PROFILE)/$(n).yaml) | data-check
	$(BIN)/python tests/nbval/regress.py prepare $(NBVAL) $^

# After nbval: the smoke profile's reader's edition, opened from the file system in headless Chromium.
site-test: | $(SYSTEM_STAMP) $(VENV_STAMP) ## the smoke site in headless Chromium, after nbval (build/screenshots/)
	$(BIN)/python -m pytest -q --durations=3 tests/test_site.py

# After nbval: notebook 03's smoke runs retrained under another thread count must give the same bits
# (tests/numeric_guard.py), the stand-in for a second machine.
guard: | $(VENV_STAMP) ## retrain the smoke runs of notebook 03 with 1 thread: the same bits, or it fails
	$(BIN)/python tests/numeric_guard.py smoke

nbval-record: ## run the smoke profile and record its marked outputs as the new expected ones
	$(MAKE) --no-print-directory paper PROFILE=smoke
	$(BIN)/python tests/nbval/regress.py record $(NAMES:%=$(BUILD)/executed/smoke/%.ipynb)

# ---------------------------------------------------------------- maintenance
lock: $(VENV_STAMP) ## re-pin requirements.lock from the virtualenv
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | sort > requirements.lock

clean: ## remove built notebooks, stamps and artifacts (keeps .venv and the asset cache)
	rm -rf $(BUILD) artifacts

distclean: clean ## also remove the virtualenv
	rm -rf $(VENV)

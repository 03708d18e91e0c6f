# tomclip: `make paper` reproduces the companion, `make test` checks it. `make` alone lists targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.SECONDARY:
MAKEFLAGS += --no-builtin-rules

PROFILE ?= embedded
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
NBVAL := $(NAMES:%=$(BUILD)/nbval/%.ipynb)

VENV_STAMP := $(VENV)/.tomclip-installed
SYSTEM_STAMP := $(BUILD)/stamps/system-assets
ASSETS_STAMP := $(BUILD)/stamps/assets

.PHONY: help setup data-check paper readme benchmark test unit nbval guard spread cpus nbval-record lab lock clean distclean

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

# Executed copies, never in place; a failure keeps the partial notebook as *.failed.ipynb.
$(BUILD)/executed/$(PROFILE)/%.ipynb: $(BUILD)/notebooks/%.ipynb $(BUILD)/params/$(PROFILE)/%.yaml | $(ASSETS_STAMP) data-check
	@mkdir -p $(@D) && rm -f $(@:.ipynb=.failed.ipynb)
	@echo "== running $* (profile $(PROFILE))"
	@$(BIN)/papermill --kernel $(KERNEL) --parameters_file $(word 2,$^) --cwd $(@D) \
	    --log-level WARNING --no-progress-bar $< $@.partial.ipynb \
	  || { mv $@.partial.ipynb $(@:.ipynb=.failed.ipynb); \
	       echo "error: notebook notebooks/$*.py failed (profile $(PROFILE)); the failing cell is shown" \
	            "above and in $(@:.ipynb=.failed.ipynb)" >&2; exit 1; }
	@mv $@.partial.ipynb $@

# What each notebook reads from the ones before it (artifacts); make re-runs it when they change.
include notebooks/dependencies.mk

paper: $(EXECUTED) ## run every notebook for PROFILE (default embedded) into build/executed/PROFILE/

readme: ## refresh README.md's generated blocks (tables, timings) from results/ after `make paper`
	$(BIN)/python scripts/notebook-timings.py embedded
	$(BIN)/python scripts/findings.py embedded
	$(BIN)/python scripts/update-readme.py

benchmark: $(VENV_STAMP) ## time the topology engine against the reference path, a training step, the pinning's cost (minutes)
	$(BIN)/python benchmarks/bench_topology.py
	$(BIN)/python benchmarks/bench_training_step.py
	$(BIN)/python benchmarks/bench_numerics.py

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
UNIT_TESTS := $(BIN)/python -m pytest -q --durations=8 tests

test: setup ## unit tests, every notebook in the smoke profile under nbval, the numeric guard
	$(UNIT_TESTS)
	$(MAKE) --no-print-directory nbval
	$(MAKE) --no-print-directory guard

unit: setup ## unit tests only
	$(UNIT_TESTS)

# nbval re-executes each notebook and compares the cells marked NBVAL_CHECK_OUTPUT with the
# outputs recorded in tests/nbval/expected/ (update them with `make nbval-record`).
.SECONDEXPANSION:
$(BUILD)/nbval/%.ipynb: $(BUILD)/notebooks/%.ipynb params/smoke.yaml tests/nbval/regress.py \
                        $$(wildcard tests/nbval/expected/$$*.json) | $(VENV_STAMP)
	@mkdir -p $(@D)
	$(BIN)/python -m tomclip_lib.config smoke $* > $(@D)/$*.params.yaml
	$(BIN)/python tests/nbval/regress.py prepare $< $(@D)/$*.params.yaml tests/nbval/expected/$*.json $@

nbval: $(NBVAL) | $(ASSETS_STAMP) ## the notebook regression alone (smoke profile)
	$(BIN)/python -m pytest -q --nbval-lax --nbval-kernel-name $(KERNEL) --nbval-cell-timeout 900 \
	    --nbval-sanitize-with tests/nbval/sanitize.cfg $(NBVAL)

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

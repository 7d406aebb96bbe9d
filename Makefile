# Tiny GPT, week by week: every command a learner types.
# `make` or `make help` lists them. Lines marked `## group: text` are what help prints.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# $(call quote,TEXT): TEXT as one shell word, whatever quotes it holds
quote = '$(subst ','\'',$(1))'

# Command-line knobs (see `make help`)
CFG ?= configs/tiny.yaml
ARGS ?=
VOCAB ?= 1024

# Each week's package and its coverage gate (percent).
week1_pkg := week1_setup
week2_pkg := week2_tokenizer
week3_pkg := week3_model
week4_pkg := week4_training
week5_pkg := week5_generation
week6_pkg := week6_optimizations
shared_gate := 90
week1_gate := 85
week2_gate := 90
week3_gate := 90
week4_gate := 85
week5_gate := 90
week6_gate := 85
overall_gate := 85
WEEKS := week1 week2 week3 week4 week5 week6

.PHONY: help setup lock data env explore baseline test lint typecheck format clean-venv \
        shared-tests cross-tests notebooks bench-smoke bpe-train params train eval plot sample chat evaluate bench ablate workbook check notebooks-write finetune sft-data sft-eval gpt2 serve size $(WEEKS)

help: ## Setup: list every command
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / { split($$2, p, ": "); \
	  if (p[1] != g) { g = p[1]; printf "\n%s\n", g }; printf "  make %-14s %s\n", $$1, p[2] }' \
	  $(MAKEFILE_LIST)
	@echo

# ------------------------------------------------------------------ setup

# What `make setup` installs, and the knobs that change it (README, "Setup"):
#   TORCH_INDEX=URL  take PyTorch from this package index first, e.g. PyTorch's CPU-only builds
#                    (https://download.pytorch.org/whl/cpu); by default pip takes PyPI's torch,
#                    which on Linux is the CUDA build with its NVIDIA libraries (several GB)
#   MLX=no           skip MLX (week 6's port); by default it is installed where a wheel exists
# Versions come from constraints.txt, the set the course is tested with (`make lock` renews it).
TORCH_INDEX ?=
MLX ?= yes
CONSTRAINTS := constraints.txt
PIP = $(PY) -m pip install --disable-pip-version-check --progress-bar on -c $(CONSTRAINTS)

setup: $(STAMP) ## Setup: create .venv and install the course (idempotent; [TORCH_INDEX=url] [MLX=no])

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "Python 3.11+ is needed; run make setup PYTHON=python3.11 (or newer)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "== installing the course into $(VENV): a few minutes the first time, pip shows each package"
	$(if $(TORCH_INDEX),$(PIP) --index-url $(TORCH_INDEX) torch)
	@set -o pipefail; $(PIP) -e '.[dev]' | { grep -v '^Requirement already satisfied' || true; }
	@if [ "$(MLX)" = no ]; then echo "MLX=no: week 6's MLX port is skipped"; \
	elif ! $(PIP) --quiet -e '.[mlx]' 2>/dev/null; then \
	  echo "note: MLX has no wheel for this machine; week 6's MLX port is skipped (everything else works)"; fi
	@touch $@

data: setup ## Week 1: fetch tiny shakespeare and the GPT-2 tokenizer files (checksummed)
	$(PY) -m week1_setup data

# ------------------------------------------------------------------ week 1

env: setup ## Week 1: report Python, libraries, cores and devices; fails if something is missing
	$(PY) -m week1_setup env

explore: data ## Week 1: corpus statistics and a character-frequency plot in runs/explore/
	$(PY) -m week1_setup explore

baseline: data ## Week 1: the byte-bigram baseline's validation bits per byte
	$(PY) -m week1_setup baseline

# ------------------------------------------------------------------ week 2

bpe-train: data ## Week 2: train a BPE tokenizer (VOCAB=1024 [INPUT=file] [OUT=path] [FORCE=1])
	$(PY) -m week2_tokenizer train --vocab-size $(VOCAB) $(if $(INPUT),--input $(INPUT)) \
	  $(if $(OUT),--output $(OUT)) $(if $(FORCE),--force=$(call quote,$(FORCE)))

# ------------------------------------------------------------------ week 3

params: setup ## Week 3: parameter count by component for a config (CFG=configs/tiny.yaml)
	$(PY) -m week3_model.summary --config $(CFG) $(ARGS)

# ------------------------------------------------------------------ week 4

NPROC ?=
# Yes/no knobs reach the commands as typed (OVERWRITE=0 is a "no" only if the command says so):
# the command accepts 1/yes/true and refuses anything else with the allowed values.
train_args = --config $(CFG) $(if $(RESUME),--resume $(RESUME)) \
  $(if $(OVERWRITE),--overwrite=$(call quote,$(OVERWRITE))) $(ARGS)

# With NPROC=N, week 6's launcher checks N and the run once, then starts N processes (torchrun).
train: data ## Week 4: train a model (CFG=configs/tiny.yaml [ARGS="train.max_iters=200"] [RESUME=runs/x] [OVERWRITE=1] [NPROC=2])
ifdef NPROC
	$(PY) -m week6_optimizations.distributed launch --nproc $(call quote,$(NPROC)) $(train_args)
else
	$(PY) -m week4_training train $(train_args)
endif

eval: data ## Week 4: validation loss, perplexity, bits per byte of a checkpoint ([CKPT=runs/x])
	$(PY) -m week4_training eval $(if $(CKPT),--checkpoint $(CKPT))

plot: setup ## Week 4: loss and learning-rate curves as PNG ([RUNS="runs/a runs/b"])
	$(PY) -m week4_training plot $(RUNS)

# ------------------------------------------------------------------ week 5

# Sampling knobs; empty means "the checkpoint's config decides".
PROMPT ?=
N ?=
TEMP ?=
TOPK ?=
TOPP ?=
SEED ?=
sample_args = $(if $(CKPT),--checkpoint $(CKPT)) $(if $(WEIGHTS),--weights $(WEIGHTS)) \
  $(if $(N),--max-new-tokens $(N)) $(if $(TEMP),--temperature $(TEMP)) $(if $(TOPK),--top-k $(TOPK)) \
  $(if $(TOPP),--top-p $(TOPP)) $(if $(SEED),--seed $(SEED)) $(if $(BACKEND),--backend $(BACKEND)) \
  $(if $(DECODER),--decoder $(DECODER))

sample: setup ## Week 5: generate text (PROMPT="..." [CKPT=runs/x|gpt2 WEIGHTS=...] [N=200] [TEMP=0.8] [TOPK=] [TOPP=] [SEED=] [DECODER=kv_cache] [BACKEND=mlx])
	$(PY) -m week5_generation sample --prompt $(call quote,$(PROMPT)) $(sample_args)

chat: setup ## Week 5: an interactive prompt loop with a checkpoint ([CKPT=...] and the sample knobs)
	$(PY) -m week5_generation sample --interactive $(sample_args)

evaluate: data ## Week 5: compare checkpoints side by side (bits per byte, samples, sample statistics) ([CKPT="runs/a runs/b"])
	$(PY) -m week5_generation evaluate $(CKPT) $(CKPTS)

# Fine-tuning: a base run (or GPT-2) trained further on JSONL examples, the loss on the answers.
finetune_args = $(if $(CKPT),--base $(call quote,$(CKPT))) $(if $(WEIGHTS),--weights $(call quote,$(WEIGHTS))) \
  $(if $(DATA),--data $(call quote,$(DATA))) $(if $(VAL),--val $(call quote,$(VAL))) \
  $(if $(RESUME),--resume $(call quote,$(RESUME))) \
  $(if $(OVERWRITE),--overwrite=$(call quote,$(OVERWRITE))) --config $(call quote,$(FT_CFG)) $(ARGS)
FT_CFG = $(if $(filter file,$(origin CFG)),configs/finetune.yaml,$(CFG))

finetune: data ## Week 5: fine-tune a run on JSONL (CKPT=runs/x|gpt2 DATA=file.jsonl [VAL=file.jsonl] [CFG=configs/finetune.yaml] [ARGS=...] [RESUME=runs/y])
	$(PY) -m week5_generation.finetune train $(finetune_args)

sft-data: data ## Week 5: build the speaker-attribution set from tiny shakespeare into data/sft/ ([OVERWRITE=1])
	$(PY) -m week5_generation.finetune sft-data $(if $(OVERWRITE),--overwrite=$(call quote,$(OVERWRITE)))

sft-eval: data ## Week 5: speaker attribution accuracy, fine-tuned vs base vs majority (BASE=runs/x CKPT=runs/y)
	$(PY) -m week5_generation.finetune accuracy --base $(call quote,$(BASE)) --tuned $(call quote,$(CKPT))

gpt2: setup ## Week 5: fetch GPT-2 small's weights (548 MB, checksummed) for CKPT=gpt2
	$(PY) -m week5_generation gpt2

# ------------------------------------------------------------------ week 6

bench: data ## Week 6: measure tokenizer, training and generation speed; writes runs/bench/<date>.json ([QUICK=1] [ONLY="training trainer"] [THREADS=1])
	$(PY) -m week6_optimizations.bench $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY)) \
	  $(if $(THREADS),--threads $(THREADS))

serve: setup ## Week 6: the playground, an OpenAI-compatible server and a web page on 127.0.0.1 ([CKPT=runs/x] [PORT=8000] [HOST=127.0.0.1])
	$(PY) -m week6_optimizations.playground serve $(if $(CKPT),--ckpt $(call quote,$(CKPT))) \
	  $(if $(PORT),--port $(call quote,$(PORT))) $(if $(HOST),--host $(call quote,$(HOST)))

prepare: data ## Week 6: your own text files as a corpus of token shards; then train with ARGS="data.corpus=<NAME>" (DATA=<folder, file or glob> NAME=<corpus> [CFG=configs/tiny.yaml] [OVERWRITE=1] [ARGS="prepare.workers=2"])
	$(PY) -m week6_optimizations.corpus prepare --data $(call quote,$(DATA)) --name $(call quote,$(NAME)) \
	  --config $(call quote,$(CFG)) $(if $(OVERWRITE),--overwrite=$(call quote,$(OVERWRITE))) $(ARGS)

ablate: data ## Week 6: the modern blocks at equal training time, SEEDS seeds each; writes runs/ablation/<name>/results.md ([MINUTES=5] [SEEDS=2] [ONLY="rope muon"] [CFG=...] [DRY_RUN=1] [QUICK=1])
	$(PY) -m week6_optimizations.ablation --base $(call quote,$(CFG)) \
	  $(if $(MINUTES),--minutes $(call quote,$(MINUTES))) $(if $(SEEDS),--seeds $(call quote,$(SEEDS))) \
	  $(if $(ONLY),--only $(ONLY)) $(if $(DRY_RUN),--dry-run) $(if $(QUICK),--quick)

# One number sets a model's size: DEPTH blocks, 64 x DEPTH wide, DEPTH heads, a learning rate that
# falls as 1/sqrt(width) (week6_optimizations/sizes.py). Writes configs/size_d<DEPTH>.yaml.
size: setup ## Week 6: write a config whose depth sets width, heads and lr (DEPTH=12 [BASE=configs/modern.yaml] [OUT=configs/size_d12.yaml] [OVERWRITE=1])
	@test -n "$(DEPTH)" || { echo "error: say which depth: make size DEPTH=12" >&2; exit 2; }
	$(PY) -m week6_optimizations.size_config --depth=$(call quote,$(DEPTH)) \
	  $(if $(BASE),--base=$(call quote,$(BASE))) $(if $(OUT),--out=$(call quote,$(OUT))) \
	  $(if $(OVERWRITE),--overwrite=$(call quote,$(OVERWRITE)))

# ------------------------------------------------------------------ workbook

# The learner's edition: every task's body (shared/workbook.py) replaced by a stub that the same
# tests grade. FROM=N keeps weeks before N solved.
DIR ?= ../tiny-gpt-workbook
FROM ?= 1
WEEK ?=

workbook: setup ## Workbook: write the learner's edition, a new git repository ([DIR=../tiny-gpt-workbook] [FROM=N])
	$(PY) -m shared.workbook write $(call quote,$(DIR)) --from $(call quote,$(FROM))

check: data ## Workbook: grade week N's tasks, one row per task (WEEK=N)
	@test -n "$(WEEK)" || { echo "error: say which week: make check WEEK=3" >&2; exit 2; }
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m shared.grading $(call quote,$(WEEK))

# ------------------------------------------------------------------ tests

# Tests run in one process per core (pytest-xdist); most of them start real commands, each of
# which spends seconds importing PyTorch on one core. JOBS=1 runs them in this process instead.
JOBS ?= auto
TEST_JOBS = $(if $(filter 1,$(JOBS)),,-n $(JOBS))

# Without MLX (no wheel for this machine, or MLX=no) the port's code cannot run: it leaves the
# coverage figures (pyproject.toml reads COURSE_COVERAGE_OMIT), and its tests say they skip.
coverage_env = COURSE_COVERAGE_OMIT="$$($(PY) -c 'import mlx.core' 2>/dev/null || echo '*/mlx_port/*')"

# $(call week_tests,package,gate): run a package's tests with its coverage gate; data goes to
# .coverage.<package> so `make test` can combine every week into the overall figure.
define week_tests
	@if [ -n "$$(find $(1) -path '*/tests/test_*.py' -print -quit)" ]; then \
	  echo "== $(1): tests, coverage gate $(2)%"; \
	  $(coverage_env) COVERAGE_FILE=.coverage.$(1) $(PY) -m pytest $(1) $(TEST_JOBS) --cov=$(1) \
	    --cov-report=term:skip-covered --cov-fail-under=$(2); \
	else echo "== $(1): no tests yet (lesson outline only)"; fi
endef

shared-tests: setup data ## Tests: the shared package, coverage gate 90%
	$(call week_tests,shared,$(shared_gate))

$(WEEKS): setup data
	$(call week_tests,$($@_pkg),$($@_gate))

week1: ## Tests: week 1 with its coverage gate (85%)
week2: ## Tests: week 2 with its coverage gate (90%)
week3: ## Tests: week 3 with its coverage gate (90%)
week4: ## Tests: week 4 with its coverage gate (85%)
week5: ## Tests: week 5 with its coverage gate (90%)
week6: ## Tests: week 6 with its coverage gate (85%)

cross-tests: setup data ## Tests: cross-week tests in tests/ (corpus to samples, CLIs)
	@echo "== tests/: cross-week tests"
	$(coverage_env) COVERAGE_FILE=.coverage.cross $(PY) -m pytest tests -n $(CORES) $(foreach p,shared $(foreach w,$(WEEKS),$($(w)_pkg)),--cov=$(p)) \
	  --cov-report=

notebooks: setup data ## Tests: execute every week's lesson notebook top to bottom, each from its own folder
	$(PY) -m shared.notebooks $(sort $(wildcard week*/lesson*.ipynb week*/*/lesson*.ipynb))

# Run it in a fresh clone (an empty runs/), so the saved outputs are what a new learner sees.
notebooks-write: setup data ## Tests: execute every lesson notebook and save its outputs into it (then commit them)
	$(PY) -m shared.notebooks --write $(sort $(wildcard week*/lesson*.ipynb week*/*/lesson*.ipynb))

# In a learner's edition the bench waits until every task is written (it runs all six weeks).
bench-smoke: setup data
	@echo "== make bench QUICK=1 (smoke test: every benchmark runs and writes its JSON)"
	@left="$$($(PY) -m shared.workbook left | head -n 1)"; \
	if [ -n "$$left" ]; then echo "skipped: waits for the workbook: $$left"; \
	else $(MAKE) --no-print-directory bench QUICK=1; fi

# `make test` runs its parts side by side, one per core (the longest first), each part's output
# printed whole when it ends (make's --output-sync, where this make has it: GNU make 4+).
CORES := $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
SYNC := $(if $(filter output-sync,$(.FEATURES)),--output-sync=target)
TEST_PARTS := cross-tests week6 notebooks week2 week3 week5 week4 shared-tests bench-smoke week1 \
  lint typecheck

test: setup data ## Tests: run everything (lint, types, each week and its gate, tests/, notebooks, overall coverage >= 85%)
	@rm -f .coverage .coverage.*
	@OMP_NUM_THREADS=1 $(MAKE) --no-print-directory -k -j$(CORES) $(SYNC) JOBS=1 $(TEST_PARTS)
	@echo "== overall coverage, gate $(overall_gate)%"
	@$(coverage_env) $(PY) -m coverage combine --quiet .coverage.*
	@$(coverage_env) $(PY) -m coverage report --format=total --fail-under=$(overall_gate) \
	  | sed 's/^/overall coverage: /;s/$$/%/'

lint: setup ## Tooling: ruff check and format check, code and notebooks (make test runs it)
	@echo "== ruff: lint and format"
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup ## Tooling: mypy over every week and shared (make test runs it)
	@echo "== mypy: types"
	$(VENV)/bin/mypy

format: setup ## Tooling: ruff format and fix what ruff can fix
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock: ## Tooling: renew constraints.txt from the newest versions pyproject.toml allows (then make test)
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --disable-pip-version-check \
	  $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e '.[dev,mlx]'
	{ sed -n '1,3p' $(CONSTRAINTS); .venv-lock/bin/python -m pip freeze --exclude-editable \
	  | sed -E 's/^(torch==[^+]*)\+.*/\1/' | LC_ALL=C sort -f; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .venv-lock

clean-venv: ## Tooling: remove .venv (the next make setup reinstalls)
	rm -rf $(VENV)

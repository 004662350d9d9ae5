# The two commands a newcomer needs: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV      := .venv
PY        := $(VENV)/bin/python
RASA      := $(PY) -m rasa
UV        := uv==0.13.9
INSTALLED := $(VENV)/.installed
NLP_DIR   := build/nlp/en_safeguarding
NLP       := build/nlp/.built
MODEL     := models/safeguarding.tar.gz
TRAINING  := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null)
PACKS     := $(wildcard bot/procedures/packs/*.yml)
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false

.PHONY: help setup lock nlp train serve run chat test unit validate stories nlu-eval clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(PY):
	@python=$$(scripts/find-python310) || exit 1; \
	 echo "Creating $(VENV) with $$python"; \
	 "$$python" -m venv $(VENV)

# Re-installs only when the lock changes (or the venv is new).
$(INSTALLED): requirements.lock | $(PY)
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null || { \
	  echo "$(VENV) is not Python 3.10: remove it (rm -rf $(VENV)) and run make again." >&2; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check $(UV)
	$(VENV)/bin/uv pip sync --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) $(UV)
	@touch $@

setup: $(INSTALLED)  ## create .venv and install the locked requirements

lock:  ## re-resolve requirements.in into requirements.lock (needs the package registry)
	$(VENV)/bin/uv pip compile --quiet --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
	  --override requirements-overrides.txt requirements.in -o requirements.lock

# The spaCy pipeline is rebuilt when its inputs change; its directory is only replaced when the
# result differs, so an unchanged pipeline does not force a retrain.
$(NLP): $(INSTALLED) bot/nlp/patterns.yml bot/nlp/pipeline.py $(PACKS)
	$(PY) -m bot nlp build --out $(NLP_DIR)
	@touch $@

nlp: $(NLP)  ## build the project's spaCy pipeline

$(MODEL): $(NLP) $(NLP_DIR)/meta.json $(TRAINING)
	$(RASA) train --fixed-model-name safeguarding --out models \
	  $(if $(filter $(NLP_DIR)/meta.json,$?),--force,)
	@touch $@

train: $(MODEL)  ## train the model if its inputs changed (shows progress)

serve: $(MODEL)  ## run Rasa (:5005), the action server (:5055), nudges and the web app (:8000: chat and dashboard) until Ctrl+C
	$(PY) -m bot serve

run: $(MODEL)  ## set up, train if needed, serve, and chat in this terminal
	$(PY) -m bot run

chat: $(INSTALLED)  ## chat with an assistant that is already serving
	$(PY) -m bot chat

test: unit validate stories nlu-eval  ## everything CI runs

unit: $(MODEL)  ## pytest: packs, timescales, pipeline, actions, and conversations with the server
	$(PY) -m pytest

validate: $(INSTALLED)  ## rasa data validate
	$(RASA) data validate --max-history 5

stories: $(MODEL)  ## rasa test on the test stories (fails on any wrong prediction)
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml \
	  --out build/results/stories --fail-on-prediction-errors

nlu-eval: $(NLP)  ## train on 80% of the NLU examples, test on the rest: macro-F1 >= 0.90
	$(PY) -m bot.evaluation --out build/results/nlu --min-macro-f1 0.90

clean:  ## remove build outputs and models (keeps .venv and var/)
	rm -rf build models .rasa results

# The verbs a user needs. `make synth` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
STAGE ?= dev
STACK ?= MlInference-Lambda
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CHECKOV_VENV := .venv-checkov
CDK := npx --no-install cdk
# PyTorch's CPU wheels: never the multi-GB CUDA build for a CPU-only service and its tests.
TORCH_INDEX := https://download.pytorch.org/whl/cpu
TORCH_VERSION := $(shell sed -n 's/^torch==//p' inference/requirements.txt)

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export BC_SKIP_MAPPING := TRUE

.PHONY: help setup synth test diff deploy destroy serve lint-templates checkov clean train-smoke train cost recommend cost-plot loadtest bench

help:
	@echo "make synth [STAGE=dev|staging|prod]   set up, then synthesize every stack of STAGE into cdk.out"
	@echo "make test                             set up, then run the whole test suite"
	@echo "make diff [STAGE=...]                 cdk diff against the deployed stacks (needs AWS credentials)"
	@echo "make deploy STACK=MlInference-Lambda  deploy one stack (needs AWS credentials, a bootstrapped account, Docker)"
	@echo "make serve [MODEL_DIR=...]            run the inference service locally on port 8080"
	@echo "make bench                            serving benchmark (PyTorch vs ONNX + batching), writes bench/results.json"
	@echo "make train-smoke | make train TRAIN_ARGS=...   fine-tune (training/README.md)"
	@echo "make cost|recommend COST_ARGS=...     cost and capacity model (docs/cost-model.md)"
	@echo "make loadtest URL=... | STACK=... STAGE=...    Locust load test of a deployed stack"
	@echo "make image                            build the image's targets as cdk deploy would (buildah, or Docker), random models"
	@echo "make image-run [PORT=8080] [TARGET=server]     run a built image on loopback as Fargate/EKS run it"
	@echo "make image-test                       build if needed, run and check every image, write build/image-report.json"

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt inference/requirements.txt inference/requirements-lambda.txt training/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel
	$(PIP) install --quiet --retries 0 --extra-index-url $(TORCH_INDEX) "torch==$(TORCH_VERSION)"
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins versions that clash with the CDK's: it gets a venv of its own.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

synth: setup
	$(CDK) synth --quiet -c stage=$(STAGE)
	@echo "synthesized stage $(STAGE) into cdk.out"

test: setup $(CHECKOV_VENV)/.installed
	$(PY) -m pytest

diff: setup
	$(CDK) diff -c stage=$(STAGE)

deploy: setup
	$(CDK) deploy $(STACK) -c stage=$(STAGE)

destroy: setup
	$(CDK) destroy $(STACK) -c stage=$(STAGE)

serve: $(VENV)/.installed
	$(PY) -m inference.app.local

lint-templates: synth
	$(VENV)/bin/cfn-lint cdk.out/*.template.json

checkov: synth $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -d cdk.out

clean:
	rm -rf cdk.out .pytest_cache build dist *.egg-info

# Fine-tuning (training/README.md). train-smoke: a tiny random model on generated data, offline,
# then one prediction from it through the inference service; about 5-20 s on 2 CPUs.
train-smoke: $(VENV)/.installed
	$(PY) -m training.smoke

# make train TRAIN_ARGS="--train-file reviews.csv --output-dir model/" (IMDb by default; needs internet)
TRAIN_ARGS ?= --output-dir model-trained
train: $(VENV)/.installed
	$(PY) training/train.py $(TRAIN_ARGS)

# Decision support (docs/cost-model.md, docs/load-testing.md).
# make cost COST_ARGS="--requests-per-day 50000 --shape business-hours"; uses bench/results.json when it exists.
BENCH_FILE ?= bench/results.json
COST_ARGS ?=
COST_BENCH = $(if $(wildcard $(BENCH_FILE)),--bench $(BENCH_FILE),)
cost: $(VENV)/.installed
	$(PY) -m ml_inference_cdk.decision cost $(COST_BENCH) $(COST_ARGS)

recommend: $(VENV)/.installed
	$(PY) -m ml_inference_cdk.decision recommend $(COST_BENCH) $(COST_ARGS)

# Redraw the charts in docs/img (README "Choosing a target").
cost-plot: $(VENV)/.installed
	$(PY) -m ml_inference_cdk.decision cost $(COST_BENCH) --plot docs/img/cost-vs-traffic.png $(COST_ARGS)
	$(PY) -m ml_inference_cdk.decision cost --published --targets lambda,fargate,eks,sagemaker-realtime,sagemaker-serverless \
	  --plot docs/img/cost-vs-traffic-published.png

# make loadtest URL=http://... USERS=10 DURATION=5m, or STACK=MlInference-Fargate STAGE=prod (reads the stack's Url output).
USERS ?= 10
SPAWN_RATE ?= 2
DURATION ?= 5m
LOADTEST_OUT ?= loadtest/results
LOADTEST_ARGS ?=
loadtest: $(VENV)/.installed
	$(PY) loadtest/run.py $(if $(URL),--host $(URL),--stack $(STACK) --stage $(STAGE)) --users $(USERS) \
	  --spawn-rate $(SPAWN_RATE) --duration $(DURATION) --out $(LOADTEST_OUT) $(if $(LOADTEST_ARGS),-- $(LOADTEST_ARGS),)

# Serving benchmark (docs/benchmarks.md): full-size random-weight DistilBERT built offline, the
# real server on loopback, per-request PyTorch vs ONNX Runtime + dynamic batching; ~5 min on 2
# CPUs. Writes bench/results.json (the cost model reads it). BENCH_ARGS="--duration 60 ..."
BENCH_ARGS ?=
bench: $(VENV)/.installed
	$(PY) -m bench.serve_bench --out $(or $(BENCH_FILE),bench/results.json) $(BENCH_ARGS)

# The image (README "Building and trying the image locally"): inference/Dockerfile built as
# `cdk deploy` builds it (args and contexts read from ModelImage's asset manifest), with the tiny
# and the full-size random models. No Docker engine needed: buildah and stand-in base images made
# offline (image/stand_in_bases.sh); IMAGE_ENGINE=docker builds with Buildx from the real bases.
IMAGE_ENGINE ?=
IMAGE_ENGINE_ARG = $(if $(IMAGE_ENGINE),--engine $(IMAGE_ENGINE),)
.PHONY: image image-run image-test image-clean
image: $(VENV)/.installed
	$(PY) -m image.build $(IMAGE_ENGINE_ARG)

# make image-run [PORT=8080] [TARGET=server|lambda|server-pytorch|server-gpu] [MODEL=full|tiny]; Ctrl-C stops it.
image-run: $(VENV)/.installed
	$(PY) -m image.run $(IMAGE_ENGINE_ARG) --target $(or $(TARGET),server) --port $(or $(PORT),8080) \
	  $(if $(MODEL),--model $(MODEL),)

image-test: $(VENV)/.installed
	$(PY) -m image.suite $(IMAGE_ENGINE_ARG)

# Removes the images make image built (and the build cache they leave), not the stand-in bases.
image-clean: $(VENV)/.installed
	$(PY) -m image.build $(IMAGE_ENGINE_ARG) --clean

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

.PHONY: help setup synth synth-pipeline smoke test diff deploy destroy serve lint-templates checkov clean train-smoke train cost recommend cost-plot loadtest bench image image-run image-test image-clean lock pin-base-image

help:
	@echo "Set up and check (no AWS account needed):"
	@echo "  make setup                            create .venv (the project installed, ml-inference on its PATH) and the pinned CDK CLI"
	@echo "  make synth [STAGE=dev|staging|prod]   set up, then synthesize every stack of STAGE into cdk.out"
	@echo "  make synth-pipeline                   synthesize MlInference-Pipeline (dev, staging, prod) into cdk.out.pipeline"
	@echo "  make test                             set up, then run the whole test suite"
	@echo "  make lint-templates | make checkov    cfn-lint / checkov on cdk.out"
	@echo "  make serve [MODEL_DIR=...]            run the inference service locally on port 8080"
	@echo "  make clean                            remove cdk.out, build/ and other outputs"
	@echo "In an AWS account (docs/deploying.md):"
	@echo "  make diff [STAGE=...]                 cdk diff against the deployed stacks"
	@echo "  make deploy STACK=MlInference-Lambda [STAGE=...]   deploy one stack (a bootstrapped account, Docker)"
	@echo "  make deploy STACK=... MODEL_PACKAGE=arn:...        the same, with an approved Model Registry package baked in"
	@echo "  make destroy STACK=... [STAGE=...]    delete one stack (retained resources stay: docs/deploying.md)"
	@echo "  make loadtest URL=... | STACK=... STAGE=...        Locust load test of a deployed stack"
	@echo "  make smoke URL=... | STACK=... STAGE=...           smoke test a running service or a deployed stack (exit 1 on failure)"
	@echo "Models and numbers:"
	@echo "  make train-smoke | make train TRAIN_ARGS=...       fine-tune (training/README.md)"
	@echo "  make cost|recommend COST_ARGS=... [BENCH_FILE=...] cost and capacity model (docs/cost-model.md)"
	@echo "  make cost-plot [REFRESH=1]            draw the cost charts into build/img (REFRESH=1: docs/img)"
	@echo "  make bench [REFRESH=1]                serving benchmark into build/bench (REFRESH=1: bench/results.json)"
	@echo "The image, without Docker (README: Building and trying the image locally):"
	@echo "  make image                            build every target as cdk deploy would (buildah, or IMAGE_ENGINE=docker), random models"
	@echo "  make image-run [PORT=8080] [TARGET=server]        run a built image on loopback as Fargate/EKS run it"
	@echo "  make image-test                       build if needed, run and check every image, write build/image-report.json"
	@echo "  make image-clean                      remove the images make image built (not the stand-in bases)"

	@echo "  make lock [LOCKS=requirements-serve.lock]         regenerate the image's hashed dependency locks (inference/*.lock)"
	@echo "  make pin-base-image                   pin the Dockerfiles' base images to the digest their tags name today"

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt inference/requirements.txt inference/requirements-lambda.txt training/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c 'import sys; sys.exit("error: Python 3.11+ is needed, this is " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PIP) install --quiet --upgrade pip setuptools wheel
	$(PIP) install --quiet --retries 0 --extra-index-url $(TORCH_INDEX) "torch==$(TORCH_VERSION)"
	$(PIP) install --quiet -r requirements-dev.txt
	# The project itself, editable: `ml-inference` on the venv's PATH, the library importable anywhere.
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
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
	@$(PY) -m ml_inference_cdk.costs --stage $(STAGE)

# The delivery pipeline and, inside it, every stage's stacks (README "Delivery pipeline"); no credentials.
PIPELINE_OUT := cdk.out.pipeline
synth-pipeline: setup
	$(CDK) synth --quiet -c pipeline=true --output $(PIPELINE_OUT)
	@echo "synthesized MlInference-Pipeline into $(PIPELINE_OUT)"

test: setup $(CHECKOV_VENV)/.installed
	$(PY) -m pytest

diff: setup
	$(CDK) diff -c stage=$(STAGE)

# make deploy STACK=... MODEL_PACKAGE=arn:aws:sagemaker:...:model-package/GROUP/N bakes an approved
# Model Registry package into the images (docs/model-lifecycle.md).
MODEL_PACKAGE ?=
MODEL_PACKAGE_DIR := .model-package
deploy: setup
ifneq ($(MODEL_PACKAGE),)
	rm -rf $(MODEL_PACKAGE_DIR)
	$(PY) -m ml_inference_cli.model_package $(MODEL_PACKAGE) --out $(MODEL_PACKAGE_DIR)
endif
	$(CDK) deploy $(STACK) -c stage=$(STAGE) $(if $(MODEL_PACKAGE),-c model_directory=$(MODEL_PACKAGE_DIR),)

destroy: setup
	$(CDK) destroy $(STACK) -c stage=$(STAGE)

serve: $(VENV)/.installed
	$(PY) -m inference.app.local

lint-templates: synth
	$(VENV)/bin/cfn-lint cdk.out/*.template.json

checkov: synth $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -d cdk.out

clean:
	rm -rf cdk.out cdk.out.pipeline .pytest_cache build dist *.egg-info

# Fine-tuning (training/README.md). train-smoke: a tiny random model on generated data, offline,
# then one prediction from it through the inference service; about 5-20 s on 2 CPUs.
train-smoke: $(VENV)/.installed
	$(PY) -m training.smoke

# make train TRAIN_ARGS="--train-file reviews.csv --output-dir model/" (IMDb by default; needs internet)
TRAIN_ARGS ?= --output-dir model-trained
train: $(VENV)/.installed
	$(PY) training/train.py $(TRAIN_ARGS)

# Decision support (docs/cost-model.md, docs/load-testing.md).
# make cost COST_ARGS="--requests-per-day 50000 --shape business-hours" [BENCH_FILE=bench/results.json]:
# the model's default timings unless BENCH_FILE names `make bench` measurements (the output says which).
BENCH_FILE ?=
COST_ARGS ?=
COST_BENCH = $(if $(BENCH_FILE),--bench $(BENCH_FILE),)
cost: $(VENV)/.installed
	$(VENV)/bin/ml-inference cost $(COST_BENCH) $(COST_ARGS)

recommend: $(VENV)/.installed
	$(VENV)/bin/ml-inference recommend $(COST_BENCH) $(COST_ARGS)

# Draw the charts into build/img; REFRESH=1 redraws the committed ones in docs/img (README
# "Choosing a target": drawn with the model's default timings, like the README's figures).
PLOT_DIR = $(if $(REFRESH),docs/img,build/img)
cost-plot: $(VENV)/.installed
	mkdir -p $(PLOT_DIR)
	$(VENV)/bin/ml-inference cost $(if $(REFRESH),,$(COST_BENCH)) --plot $(PLOT_DIR)/cost-vs-traffic.png $(if $(REFRESH),,$(COST_ARGS))
	$(VENV)/bin/ml-inference cost --published --targets lambda,fargate,eks,sagemaker-realtime,sagemaker-serverless \
	  --plot $(PLOT_DIR)/cost-vs-traffic-published.png

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
# CPUs. Writes build/bench/results.json (REFRESH=1: the committed bench/results.json, which the
# README's figures come from); pass it to `make cost BENCH_FILE=...`. BENCH_ARGS="--duration 60 ..."
BENCH_ARGS ?=
BENCH_OUT = $(if $(REFRESH),bench/results.json,build/bench/results.json)
bench: $(VENV)/.installed
	mkdir -p $(dir $(BENCH_OUT))
	$(PY) -m bench.serve_bench --out $(BENCH_OUT) $(BENCH_ARGS)

# make smoke URL=http://127.0.0.1:8080, or STACK=MlInference-Fargate STAGE=dev: what the pipeline runs after each deploy.
SMOKE_ARGS ?=
smoke: $(VENV)/.installed
	$(VENV)/bin/ml-inference smoke $(if $(URL),--url $(URL),--stack $(STACK) --stage $(STAGE)) $(SMOKE_ARGS)

# The image (README "Building and trying the image locally"): inference/Dockerfile built as
# `cdk deploy` builds it (args and contexts read from ModelImage's asset manifest), with the tiny
# and the full-size random models. No Docker engine needed: buildah and stand-in base images made
# offline (image/stand_in_bases.sh); IMAGE_ENGINE=docker builds with Buildx from the real bases.
IMAGE_ENGINE ?=
IMAGE_ENGINE_ARG = $(if $(IMAGE_ENGINE),--engine $(IMAGE_ENGINE),)
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

# The supply chain (inference/README.md "Pinned dependencies"). make lock: the image's Python
# dependencies locked with hashes (pip-tools in a venv of its own, resolving against PyPI); make
# pin-base-image: the Dockerfiles' base images moved to the digest their tags name today.
LOCK_VENV := build/lock-venv
LOCK_TOOLS := pip==25.3 pip-tools==7.6.2
$(LOCK_VENV)/.installed:
	test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet $(LOCK_TOOLS)
	touch $@

lock: $(LOCK_VENV)/.installed
	$(LOCK_VENV)/bin/python -m image.lock $(if $(LOCKS),--only $(LOCKS),)

pin-base-image:
	image/pin_base_image.sh

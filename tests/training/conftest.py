"""Fixtures for training/: the one real (tiny, offline) training run the tests share."""

from __future__ import annotations

import pytest

from tests.training.support import SMOKE_STEPS
from training.train import main as train_main


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """``make train-smoke`` in a temporary folder: the trained model directory, its metrics and
    the service's answer to ``training.smoke.SMOKE_TEXT``; the base model stays in ``base-model``."""
    from training.smoke import run_smoke

    return run_smoke(tmp_path_factory.mktemp("train-smoke"), max_steps=SMOKE_STEPS)


@pytest.fixture
def run_train(tmp_path, monkeypatch):
    """train.py's ``main`` with no SageMaker environment, whose model must never load.

    For the bad-input tests: everything they check happens before the base model loads, so
    loading it means the check came too late.
    """
    import training.train as train_module

    def must_not_load(args):
        raise AssertionError("the base model was loaded: the input should have been rejected before")

    monkeypatch.setattr(train_module, "_load_base", must_not_load)

    def run(argv: list[str], environ: dict[str, str] | None = None):
        return train_main(argv, environ=environ or {}, hyperparameters_file=tmp_path / "absent-hyperparameters.json")

    return run


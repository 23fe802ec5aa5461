"""Fixtures for the decision tools: the shipped price sheet and a `make bench` file of the right shape."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from ml_inference_cli.prices import Prices, load_prices, shipped_price_file  # noqa: E402

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def prices() -> Prices:
    return load_prices()


@pytest.fixture(scope="session")
def bench_file() -> Path:
    return HERE / "bench_results.json"


@pytest.fixture
def price_data() -> dict:
    """The shipped sheet as a dict, to break in a test."""
    return json.loads(shipped_price_file().read_text())


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    from ml_inference_cli.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse's --help and errors
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run

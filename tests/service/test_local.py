"""`python -m inference.app.local` (make serve) and the tiny model it falls back to."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from inference.app import local, server
from inference.app.dev_model import UNTRAINED_VERSION, build_tiny_model


@pytest.fixture
def captured_run(monkeypatch) -> dict:
    """Replaces uvicorn.run: keeps what local.main would have served."""
    seen: dict = {}

    def fake_run(app, **options):
        seen["app"], seen["options"] = app, options

    monkeypatch.setattr(server.uvicorn, "run", fake_run)
    return seen


def test_without_model_dir_it_builds_and_serves_the_untrained_model(monkeypatch, tmp_path, captured_run, log_lines):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODEL_DIR", raising=False)
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    local.main()
    assert (tmp_path / ".local-model" / "config.json").is_file()
    options = captured_run["options"]
    assert (options["host"], options["port"], options["access_log"], options["workers"]) == ("127.0.0.1", 8080, False, 1)
    # The image's limits: a connection limit and a deadline for a request's headers.
    assert options["limit_concurrency"] == 256 and options["http"].header_timeout == 10
    warning = next(line for line in log_lines() if line["level"] == "WARNING")
    assert "UNTRAINED" in warning["message"] and ".local-model" in warning["message"]
    with TestClient(captured_run["app"]) as client:
        assert captured_run["app"].state.service.wait_ready(60)
        answer = client.post("/predict", json={"text": "hello"}).json()
    assert answer["model_version"] == UNTRAINED_VERSION == "tiny-random-untrained"


def test_with_model_dir_it_serves_that_model_on_host_and_port(monkeypatch, tiny_model_dir, captured_run):
    monkeypatch.setenv("MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "9001")
    local.main()
    monkeypatch.setenv("MAX_CONNECTIONS", "12")
    monkeypatch.setenv("REQUEST_READ_TIMEOUT_SECONDS", "3")
    local.main()
    options = captured_run["options"]
    assert options["host"] == "0.0.0.0" and options["port"] == 9001
    assert options["limit_concurrency"] == 12 and options["http"].header_timeout == 3
    assert captured_run["app"].state.settings.model_dir == tiny_model_dir


def test_a_model_dir_without_a_model_stops_with_a_clear_message(monkeypatch, tmp_path, captured_run):
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match="no config.json"):
        local.main()
    assert not captured_run


def test_the_tiny_model_is_marked_untrained_and_has_the_given_labels(tmp_path):
    model_dir = build_tiny_model(tmp_path / "m", labels=("bad", "good", "great", "meh"), max_length=32)
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "bad", "1": "good", "2": "great", "3": "meh"}
    assert config["max_position_embeddings"] == 32
    info = json.loads((model_dir / "model_info.json").read_text())
    assert info == {"model_version": UNTRAINED_VERSION, "untrained": True}
    assert (model_dir / "tokenizer.json").is_file() and (model_dir / "model.safetensors").is_file()
    with pytest.raises(ValueError, match="two labels"):
        build_tiny_model(tmp_path / "one", labels=("only",))


def test_model_version_falls_back_to_a_content_hash(tmp_path, tiny_model_dir):
    import shutil

    from inference.app.model_info import read_model_info

    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "model_info.json").unlink()
    hashed = read_model_info(copy)
    assert hashed.model_version.startswith("model-sha256-") and not hashed.untrained
    assert read_model_info(copy, "v7").model_version == "v7"
    other = build_tiny_model(tmp_path / "other", seed=99)
    (other / "model_info.json").unlink()
    assert read_model_info(other).model_version.split("-sha256-")[1] != hashed.model_version.split("-sha256-")[1]

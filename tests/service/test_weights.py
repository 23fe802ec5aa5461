"""Safetensors only: pickled weights (pytorch_model.bin) run code when loaded, so every loader
refuses them unless the user opts in (ALLOW_PICKLED_WEIGHTS, ModelImage(allow_pickled_weights=True))."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inference.app.backends import load_classifier
from inference.app.backends.pytorch import TransformersClassifier
from inference.app.model_info import safetensors_only
from inference.app.settings import Settings


@pytest.fixture(scope="module")
def pickled_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's tiny model, saved again as pickled weights (pytorch_model.bin) only."""
    import torch
    from transformers import AutoModelForSequenceClassification

    out = tmp_path_factory.mktemp("pickled-model")
    for file in tiny_model_dir.iterdir():
        if file.suffix != ".safetensors":
            shutil.copy(file, out / file.name)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    # transformers 5's save_pretrained writes safetensors only: the pickle the way older models ship it.
    torch.save(model.state_dict(), out / "pytorch_model.bin")
    assert (out / "pytorch_model.bin").is_file() and not list(out.glob("*.safetensors"))
    return out


def test_a_save_pretrained_model_is_safetensors(tiny_model_dir):
    assert (tiny_model_dir / "model.safetensors").is_file()
    assert safetensors_only(tiny_model_dir) == {"use_safetensors": True}


def test_fails_when_a_model_has_only_pickled_weights(pickled_model_dir):
    with pytest.raises(ValueError, match=r"no safetensors weights \(it has pytorch_model.bin\).*ALLOW_PICKLED_WEIGHTS=1"):
        safetensors_only(pickled_model_dir)
    with pytest.raises(ValueError, match="no safetensors weights"):
        TransformersClassifier(pickled_model_dir)
    with pytest.raises(ValueError, match="no safetensors weights"):
        load_classifier(Settings(model_dir=pickled_model_dir, backend="pytorch"))


def test_pickled_weights_load_when_opted_in(pickled_model_dir, classifier, monkeypatch):
    assert safetensors_only(pickled_model_dir, allow_pickled_weights=True) == {}
    monkeypatch.setenv("ALLOW_PICKLED_WEIGHTS", "1")  # what the PyTorch images set from the build arg
    settings = Settings(model_dir=pickled_model_dir, backend="pytorch")
    assert settings.allow_pickled_weights
    pickled = load_classifier(settings)
    text = ["a lovely pickled day"]
    assert pickled.predict(text)[0].confidence == pytest.approx(classifier.predict(text)[0].confidence, abs=1e-5)


def test_the_export_refuses_pickled_weights_unless_opted_in(pickled_model_dir, tmp_path, monkeypatch):
    from inference import export

    monkeypatch.delenv("ALLOW_PICKLED_WEIGHTS", raising=False)
    with pytest.raises(SystemExit, match="no safetensors weights"):
        export.export(pickled_model_dir, tmp_path / "onnx")
    assert not export.parse_args([str(pickled_model_dir), str(tmp_path)]).allow_pickled_weights
    monkeypatch.setenv("ALLOW_PICKLED_WEIGHTS", "1")  # the export stage's build arg
    assert export.parse_args([str(pickled_model_dir), str(tmp_path)]).allow_pickled_weights

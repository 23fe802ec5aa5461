"""Where a model directory says what it is: ``model_info.json`` (written by the image build,
``training/`` and ``dev_model``), e.g. ``{"model_version": "distilbert-...@714eb0f", "untrained": false}``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

MODEL_INFO_FILE = "model_info.json"


@dataclass(frozen=True)
class ModelInfo:
    model_version: str
    untrained: bool = False


def read_model_info(model_dir: Path, override_version: str | None = None) -> ModelInfo:
    """The model's version and whether it is untrained.

    Version order: ``override_version`` (the MODEL_VERSION setting), then ``model_info.json``,
    then a content hash of the weights so two different models never share a version.
    """
    info: dict = {}
    path = model_dir / MODEL_INFO_FILE
    if path.is_file():
        info = json.loads(path.read_text())
    version = override_version or info.get("model_version") or _content_version(model_dir)
    return ModelInfo(model_version=str(version), untrained=bool(info.get("untrained", False)))


def _content_version(model_dir: Path) -> str:
    digest = hashlib.sha256()
    weights = [*sorted(model_dir.glob("*.safetensors")), *sorted(model_dir.glob("*.bin")), *sorted(model_dir.glob("*.onnx"))]
    for file in [*weights, model_dir / "config.json"]:
        if file.is_file():
            with file.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
    return f"{model_dir.name or 'model'}-sha256-{digest.hexdigest()[:12]}"


#: The opt-in to pickled weights (pytorch_model.bin): the image's build arg and the service's setting.
ALLOW_PICKLED_WEIGHTS = "ALLOW_PICKLED_WEIGHTS"


def safetensors_only(model_dir: Path, allow_pickled_weights: bool = False) -> dict:
    """``from_pretrained`` keyword arguments that load ``model_dir`` from safetensors only, unless
    ``allow_pickled_weights``; ValueError with what to do when it has no safetensors weights.

    Pickled weights (pytorch_model.bin) run code when they are unpickled: a model from an untrusted
    source must not get to do that, so loading them is an explicit choice."""
    if allow_pickled_weights:
        return {}
    if not any(model_dir.glob("*.safetensors")):
        pickled = sorted(p.name for p in model_dir.glob("*.bin"))
        found = f" (it has {', '.join(pickled)})" if pickled else ""
        raise ValueError(
            f"{model_dir} has no safetensors weights{found}: save the model with save_pretrained(dir) "
            f"(safetensors is its default), or opt in to pickled weights, which can run code when loaded: "
            f"{ALLOW_PICKLED_WEIGHTS}=1, ModelImage(allow_pickled_weights=True) or --allow-pickled-weights")
    return {"use_safetensors": True}

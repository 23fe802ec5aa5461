"""Build-time download of a Hugging Face model into /model (the Dockerfile's `fetch` stage).

Resolves MODEL_REVISION (a branch, tag or commit) to a commit and downloads exactly that, only
what serving needs: config, tokenizer files and the safetensors weights. Pickled weights
(pytorch_model.bin, which older revisions of many models only have) can run code when loaded:
they are fetched only with --allow-pickled-weights (ALLOW_PICKLED_WEIGHTS=1, the build arg), and
only where the revision has no safetensors. Writes model_info.json with model_version
"<model id>@<short commit>".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from huggingface_hub import HfApi, snapshot_download

SERVING_FILES = [
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--revision", default="main")
    parser.add_argument("--out", type=Path, default=Path("/model"))
    parser.add_argument("--allow-pickled-weights", action="store_true",
                        default=os.environ.get("ALLOW_PICKLED_WEIGHTS") == "1",
                        help="fetch pytorch_model*.bin where the revision has no safetensors")
    args = parser.parse_args()

    info = HfApi().model_info(args.model_id, revision=args.revision)
    commit = info.sha
    files = {sibling.rfilename for sibling in info.siblings or []}
    if any(name.endswith(".safetensors") for name in files):
        weights = ["*.safetensors", "model.safetensors.index.json"]
    elif any(name.startswith("pytorch_model") and name.endswith(".bin") for name in files):
        if not args.allow_pickled_weights:
            raise SystemExit(
                f"{args.model_id}@{commit} has no safetensors weights, only pickled pytorch_model*.bin, which can "
                "run code when loaded: pick a revision with model.safetensors, or opt in with "
                "ModelImage(allow_pickled_weights=True) (--build-arg ALLOW_PICKLED_WEIGHTS=1)")
        print(f"warning: {args.model_id}@{commit} has no safetensors weights; using pytorch_model*.bin (opted in)")
        weights = ["pytorch_model*.bin", "pytorch_model.bin.index.json"]
    else:
        raise SystemExit(f"{args.model_id}@{commit} has no PyTorch weights (safetensors or pytorch_model.bin)")
    snapshot_download(args.model_id, revision=commit, local_dir=args.out, allow_patterns=SERVING_FILES + weights)
    shutil.rmtree(args.out / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    info = {"model_version": f"{args.model_id}@{commit[:12]}", "model_id": args.model_id, "revision": commit}
    (args.out / "model_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"fetched {info['model_version']}: {sorted(p.name for p in args.out.iterdir())}")


if __name__ == "__main__":
    main()

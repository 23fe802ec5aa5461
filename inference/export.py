"""Export a Hugging Face sequence classifier to an optimized ONNX model directory.

    python -m inference.export MODEL_DIR OUT_DIR [--int8]

MODEL_DIR is a ``save_pretrained`` directory (config, weights, tokenizer). OUT_DIR gets what the
ONNX Runtime backend serves, and nothing that needs torch or transformers to read:

    model.onnx          the graph: exported with torch.onnx, attention/LayerNorm/GELU fused by
                        onnxruntime.transformers' optimizer; with --int8 also dynamically
                        quantized (int8 weights, activations quantized per run)
    tokenizer.json      the fast tokenizer (plus tokenizer_config.json)
    config.json         the model config: labels (id2label) and the maximum length
    model_info.json     the source's version; "+int8" appended for an int8 model
    onnx_export.json    how it was made and how far it is from PyTorch on sample inputs

The export then runs sample inputs (varied lengths, padded batches) through PyTorch and through
the exported model as the service runs it, prints the largest logit difference and the argmax
agreement, and fails when fp32 drifts more than --max-diff (int8 is reported, not failed, unless
--min-agreement is given). Needs torch, transformers, onnx and onnxruntime: the image runs it in
a build stage, and the serving stages install none but onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# The service's own modules: the check runs the export exactly as the server will.
from inference.app.model_info import ALLOW_PICKLED_WEIGHTS, MODEL_INFO_FILE, read_model_info, safetensors_only
from inference.app.backends.onnx import EXPORT_INFO_FILE, ONNX_MODEL_FILE

#: Model types whose attention the onnxruntime.transformers "bert" optimizer fuses.
BERT_LIKE = {"bert", "distilbert", "roberta", "xlm-roberta", "camembert", "electra", "mpnet", "deberta-v2"}
OPSET = 17

SAMPLE_TEXTS = [
    "I loved this movie, the acting was wonderful and the story moving.",
    "What a terrible film: boring, too long and badly written.",
    "It is okay.",
    "The product broke after two days; I want my money back and an apology from the manager.",
    "Absolutely fantastic experience, I would recommend it to everyone!",
    "Never again.",
    "The service was fine, nothing special but not bad either, and the prices were what you would expect "
    "for a place like this in the middle of town on a busy Saturday evening with live music.",
    "Best purchase of the year 😀",
    "Ce film était magnifique, je le recommande.",
    "meh",
] * 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m inference.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path, help="Hugging Face model directory (save_pretrained output)")
    parser.add_argument("out_dir", type=Path, help="where to write the ONNX model directory")
    parser.add_argument("--int8", action="store_true", help="dynamic int8 quantization: about 2.3x the throughput "
                        "on CPU, "
                        "slightly different probabilities (see the argmax agreement it reports)")
    parser.add_argument("--precision", choices=("fp32", "int8"), default=None,
                        help="fp32 (default) or int8; --precision int8 is --int8 (the Dockerfile's PRECISION build arg)")
    parser.add_argument("--no-optimize", action="store_true", help="skip the transformer graph fusions")
    parser.add_argument("--max-diff", type=float, default=1e-3,
                        help="fail when an fp32 logit differs from PyTorch by more (default 1e-3)")
    parser.add_argument("--min-agreement", type=float, default=0.0,
                        help="fail when int8 argmax agrees with PyTorch on fewer sample inputs (0..1; default 0)")
    parser.add_argument("--samples", type=int, default=64, help="random-token sample sequences on top of the texts")
    parser.add_argument("--allow-pickled-weights", action="store_true",
                        default=os.environ.get(ALLOW_PICKLED_WEIGHTS) == "1",
                        help="also load pickled weights (pytorch_model.bin), which can run code when loaded; "
                        f"default: safetensors only, unless {ALLOW_PICKLED_WEIGHTS}=1 (the image's build arg)")
    return parser.parse_args(argv)


def export(model_dir: Path, out_dir: Path, *, int8: bool = False, optimize: bool = True, samples: int = 64,
           max_diff: float = 1e-3, min_agreement: float = 0.0, allow_pickled_weights: bool = False, log=print) -> dict:
    """Export ``model_dir`` to ``out_dir`` and return the report written to onnx_export.json."""
    import onnxruntime
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if not (model_dir / "config.json").is_file():
        raise SystemExit(f"{model_dir} has no config.json: pass a save_pretrained directory")
    if out_dir.resolve() == model_dir.resolve():
        raise SystemExit("OUT_DIR must differ from MODEL_DIR")
    try:
        weights = safetensors_only(model_dir, allow_pickled_weights)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)  # nosec B615  # a local directory, not the Hub
    # Eager attention exports as plain MatMul/Softmax, the pattern ORT fuses into its Attention op
    # (SDPA exports a shape the fusion does not recognise).
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32,  # nosec B615  # local
                                                               attn_implementation="eager", **weights).eval()
    config = model.config
    import inspect

    takes_token_types = "token_type_ids" in inspect.signature(model.forward).parameters
    input_names = ["input_ids", "attention_mask"] + (["token_type_ids"] if takes_token_types else [])

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (ONNX_MODEL_FILE, EXPORT_INFO_FILE):
        (out_dir / stale).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as work:
        raw = Path(work) / "raw.onnx"
        example = tokenizer(["a short example", "a slightly longer example text"], padding=True, return_tensors="pt")
        args = tuple(example[name] if name in example else torch.zeros_like(example["input_ids"]) for name in input_names)
        dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
        dynamic_axes["logits"] = {0: "batch"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
            # The TorchScript exporter (dynamo=False): one small graph with dynamic batch and length,
            # and no onnxscript dependency.
            torch.onnx.export(model, args, str(raw), input_names=input_names, output_names=["logits"],
                              dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
        log(f"exported {raw.stat().st_size / 2**20:.0f} MiB graph (opset {OPSET})")
        fused: dict[str, int] = {}
        optimized = raw
        if optimize:
            optimized, fused = _optimize(raw, Path(work) / "optimized.onnx", config)
            log("fused operators: " + (", ".join(f"{k} {v}" for k, v in fused.items() if v) or "none"))
        target = out_dir / ONNX_MODEL_FILE
        if int8:
            _quantize(optimized, target)
            log(f"quantized to dynamic int8: {target.stat().st_size / 2**20:.0f} MiB")
        else:
            shutil.copyfile(optimized, target)

    config.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    if not (out_dir / "tokenizer.json").is_file():
        raise SystemExit(f"{model_dir}'s tokenizer has no fast (tokenizer.json) version: the ONNX backend needs one")
    source = read_model_info(model_dir)
    precision = "int8" if int8 else "fp32"
    info = {"model_version": source.model_version + ("+int8" if int8 else ""), "untrained": source.untrained,
            "source_model_version": source.model_version}
    (out_dir / MODEL_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")

    check = compare_with_pytorch(model, out_dir, samples=samples)
    report = {
        "format": "onnx", "precision": precision, "opset": OPSET, "optimized": optimize, "fused_operators": fused,
        "inputs": input_names, "source_model_version": source.model_version,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "onnxruntime": onnxruntime.__version__},
        "check": check, "export_seconds": round(time.perf_counter() - started, 1),
    }
    (out_dir / EXPORT_INFO_FILE).write_text(json.dumps(report, indent=2) + "\n")
    log(f"checked {check['inputs']} inputs against PyTorch: max logit difference {check['max_logit_diff']:.2e}, "
        f"max probability difference {check['max_probability_diff']:.2e}, "
        f"argmax agreement {check['argmax_agreement']:.2%}")
    if not int8 and check["max_logit_diff"] > max_diff:
        raise SystemExit(f"the fp32 export differs from PyTorch by {check['max_logit_diff']:.2e} > {max_diff}")
    if check["argmax_agreement"] < min_agreement:
        raise SystemExit(f"argmax agreement {check['argmax_agreement']:.2%} is below {min_agreement:.2%}")
    log(f"wrote {precision} ONNX model to {out_dir} in {report['export_seconds']} s")
    return report


def _optimize(raw: Path, out: Path, config) -> tuple[Path, dict[str, int]]:
    from onnxruntime.transformers.optimizer import optimize_model

    if config.model_type not in BERT_LIKE:
        # Unknown architecture: ORT's generic offline optimizations only (no transformer fusions).
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(out)
        ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])
        return out, {}
    heads = getattr(config, "n_heads", None) or getattr(config, "num_attention_heads", 0)
    hidden = getattr(config, "dim", None) or getattr(config, "hidden_size", 0)
    optimized = optimize_model(str(raw), model_type="bert", num_heads=heads, hidden_size=hidden)
    optimized.save_model_to_file(str(out))
    fused = {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}
    return out, fused


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-tensor int8 weights (per-channel was slower here for no accuracy gain). The fused
    # Attention op has no ONNX shape inference: its outputs are float, said explicitly.
    import logging

    # It logs a generic "consider pre-processing" hint at WARNING on every run.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=False,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def compare_with_pytorch(model, out_dir: Path, *, samples: int = 64, seed: int = 0) -> dict:
    """Run sample texts and random-token sequences of many lengths, in padded batches, through
    PyTorch and through the exported model as the service loads it; compare the logits."""
    import torch

    from inference.app.backends.base import softmax
    from inference.app.backends.onnx import OnnxClassifier

    served = OnnxClassifier(out_dir, num_threads=0)
    encoder = served.encoder
    sequences = [e.ids for e in encoder.encode(SAMPLE_TEXTS)]
    rng = np.random.default_rng(seed)
    vocab = int(getattr(model.config, "vocab_size", 1000))
    special = set(sequences[0][:1] + sequences[0][-1:])
    for _ in range(samples):
        length = int(rng.integers(3, served.max_length + 1))
        body = rng.integers(min(1000, vocab // 2), vocab, size=max(1, length - 2)).tolist()
        sequences.append(sequences[0][:1] + body + sequences[0][-1:] if special else body)
    sequences = [ids[: served.max_length] for ids in sequences]
    takes_token_types = "token_type_ids" in served._input_names
    max_logit, max_probability, agree = 0.0, 0.0, 0
    for start in range(0, len(sequences), 8):  # batches of mixed lengths: padding and masks matter
        batch = sequences[start: start + 8]
        input_ids, attention_mask = encoder.pad(batch)
        inputs = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}
        if takes_token_types:
            inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
        with torch.inference_mode():
            reference = model(**inputs).logits.float().numpy()
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if takes_token_types:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        (logits,) = served._session.run(["logits"], {name: feed[name] for name in served._input_names})
        max_logit = max(max_logit, float(np.abs(logits - reference).max()))
        max_probability = max(max_probability, float(np.abs(softmax(logits) - softmax(reference)).max()))
        agree += int((logits.argmax(-1) == reference.argmax(-1)).sum())
    return {"inputs": len(sequences), "max_logit_diff": max_logit, "max_probability_diff": max_probability,
            "argmax_agreement": agree / len(sequences)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.precision == "fp32" and args.int8:
        raise SystemExit("--int8 and --precision fp32 contradict each other")
    export(args.model_dir, args.out_dir, int8=args.int8 or args.precision == "int8", optimize=not args.no_optimize, samples=args.samples,
           max_diff=args.max_diff, min_agreement=args.min_agreement, allow_pickled_weights=args.allow_pickled_weights)
    return 0


if __name__ == "__main__":
    sys.exit(main())

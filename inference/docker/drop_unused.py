"""Build-time: uninstall distributions the service never imports, and what only they pulled in.

    python drop_unused.py /venv huggingface-hub --roots requirements-serve.txt

tokenizers declares huggingface_hub (for ``Tokenizer.from_pretrained`` downloads), which brings
hf-xet, fsspec, httpx2, pyyaml, tqdm, ...; the service reads tokenizer.json from the image and
never imports any of them. A dependency stays if anything that stays still requires it. Runs with
the base image's Python (and its pip), not the venv's, which has no pip.

What the service needs (the roots) is `--roots FILE`'s requirement names; without it, what pip
was asked for (its REQUESTED markers). A hashed lock installed with --no-deps names every
distribution, so with one the roots must come from the file the lock was compiled from.
"""

from __future__ import annotations

import argparse
import re
import subprocess  # nosec B404  # runs this machine's pip, with arguments this script builds
import sys
from importlib import metadata
from pathlib import Path


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requires: list[str] | None) -> set[str]:
    """Names of the unconditional requirements and those with environment markers (kept: the
    markers hold for the image that installed them); requirements of extras do not count."""
    names = set()
    for requirement in requires or ():
        if re.search(r"\bextra\s*==", requirement):
            continue
        names.add(normalize(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)))
    return names


def unused(distributions: dict[str, metadata.Distribution], drop: set[str], roots: set[str] | None = None) -> list[str]:
    """``drop`` and every distribution that only the dropped ones require, sorted.

    The roots are `roots`, or what pip was asked for (a ``REQUESTED`` marker); a dropped root is
    dropped anyway.
    """
    graph = {name: requirement_names(dist.requires) for name, dist in distributions.items()}
    if roots is None:
        roots = {name for name, dist in distributions.items() if dist.read_text("REQUESTED") is not None}
    roots = roots - drop
    keep, stack = set(), list(roots)
    while stack:
        name = stack.pop()
        if name in keep or name in drop or name not in graph:
            continue
        keep.add(name)
        stack.extend(graph[name])
    return sorted(set(graph) - keep)


def requirement_file_names(path: Path) -> set[str]:
    """The distribution names a requirements file lists (comments and options left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {normalize(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line).group(0))
            for line in lines if line and not line.startswith("-")}


def site_packages(venv: Path) -> Path:
    [path] = venv.glob("lib/python*/site-packages")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("venv", type=Path)
    parser.add_argument("drop", nargs="+", help="distribution names")
    parser.add_argument("--roots", type=Path, help="a requirements file: the distributions the service needs")
    args = parser.parse_args(argv)
    site = site_packages(args.venv)
    distributions = {normalize(d.metadata["Name"]): d for d in metadata.distributions(path=[str(site)])}
    missing = {normalize(name) for name in args.drop} - set(distributions)
    if missing:
        raise SystemExit(f"not installed in {args.venv}: {', '.join(sorted(missing))}")
    roots = requirement_file_names(args.roots) if args.roots else None
    if roots is not None and roots - set(distributions):
        raise SystemExit(f"--roots names what is not installed in {args.venv}: {', '.join(sorted(roots - set(distributions)))}")
    names = unused(distributions, {normalize(name) for name in args.drop}, roots)
    print(f"dropping from {args.venv}: {' '.join(names)}")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(args.venv / "bin" / "python"),  # nosec B603  # no shell
                    "uninstall", "--yes", "--quiet", *names], check=True)


if __name__ == "__main__":
    main()

"""``make lock``: the image's Python dependencies, locked with hashes (pip-tools).

Each ``inference/requirements*.txt`` the Dockerfile installs is compiled by ``pip-compile
--generate-hashes`` into a ``.lock`` beside it: every package, transitive ones included, pinned
with the sha256 of each of its files on PyPI. The Dockerfile installs the locks with
``--require-hashes --no-deps``, so a build gets exactly these files or fails.

torch's CPU build does not come from PyPI but from PyTorch's CPU index: ``requirements.lock``
leaves torch out, and ``requirements-torch-cpu.lock`` holds the hashes the index lists for the
pinned version's CPython wheels for Linux (x86_64 and aarch64).

Locks resolve against PyPI alone, whatever pip.conf says (a local mirror could differ), for the
Python of the image's base (3.11) on Linux; run with that Python (``make lock`` does).

    python -m image.lock [--only requirements-serve.lock ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INFERENCE = REPO / "inference"
PYPI = "https://pypi.org/simple"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_LOCK = "requirements-torch-cpu.lock"
#: lock -> the requirements it compiles (all in inference/).
LOCKS = {
    "requirements-fetch.lock": "requirements-fetch.txt",
    "requirements.lock": "requirements.txt",
    "requirements-serve.lock": "requirements-serve.txt",
    "requirements-lambda.lock": "requirements-lambda.txt",
    "requirements-gpu.lock": "requirements-gpu.txt",
}
#: Locks whose torch is the CPU build of requirements-torch-cpu.lock.
WITHOUT_TORCH = {"requirements.lock"}
#: The wheels of the CPU torch the image can install: CPython 3.11, Linux, the two platforms ModelImage builds.
_TORCH_WHEEL = r"torch-{version}%2Bcpu-cp311-cp311-manylinux_[0-9_]+_(x86_64|aarch64)\.whl"


def image_python(dockerfile: Path = INFERENCE / "Dockerfile") -> tuple[int, int]:
    """The Python of the image's base (python:3.11-slim-bookworm@... -> (3, 11))."""
    match = re.search(r"^ARG PYTHON_IMAGE=python:(\d+)\.(\d+)-", dockerfile.read_text(), re.M)
    if not match:
        raise SystemExit(f"no ARG PYTHON_IMAGE=python:X.Y-... in {dockerfile}")
    return int(match.group(1)), int(match.group(2))


def pinned_version(requirements: Path, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)$", requirements.read_text(), re.M)
    if not match:
        raise SystemExit(f"{requirements} pins no {name}")
    return match.group(1)


def pypi_only_env() -> dict[str, str]:
    """The environment with pip's configuration files and its index and find-links settings
    switched off (certificates, proxies and timeouts stay)."""
    dropped = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONSTRAINT",
               "PIP_REQUIREMENT", "PIP_CONFIG_FILE"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    # pip-compile writes this command into each lock's header, as the way to regenerate it.
    return {**env, "PIP_CONFIG_FILE": os.devnull, "CUSTOM_COMPILE_COMMAND": "make lock"}


def torch_index_hashes(version: str, index: str = TORCH_CPU_INDEX) -> dict[str, str] | None:
    """{wheel name: sha256} from the index's page for torch, or None where it cannot be reached."""
    try:
        with urllib.request.urlopen(f"{index}/torch/", timeout=30) as response:  # nosec B310  # an https index
            page = response.read().decode()
    except OSError as error:
        print(f"{index} cannot be reached ({error}): keeping {TORCH_LOCK}'s hashes", file=sys.stderr)
        return None
    pattern = re.compile(rf'href="[^"]*/({_TORCH_WHEEL.format(version=re.escape(version))})#sha256=([0-9a-f]{{64}})"')
    return {name.replace("%2B", "+"): digest for name, _, digest in pattern.findall(page)}


def read_torch_lock(path: Path) -> tuple[str | None, list[str]]:
    """(version, hashes) of requirements-torch-cpu.lock; (None, []) if there is none."""
    if not path.is_file():
        return None, []
    text = path.read_text()
    match = re.search(r"^torch==(\S+)", text, re.M)
    return (match.group(1) if match else None), re.findall(r"--hash=sha256:([0-9a-f]{64})", text)


def write_torch_lock(path: Path, version: str, hashes: dict[str, str]) -> None:
    items = sorted(hashes.items())
    lines = [f"# torch's CPU build, from {TORCH_CPU_INDEX} (the Dockerfile's TORCH_INDEX): the sha256 that",
             "# index lists for each CPython 3.11 Linux wheel of this version. Written by `make lock`.",
             *(f"#   {digest[:12]}  {name}" for name, digest in items),
             f"torch=={version}+cpu \\"]
    lines += [f"    --hash=sha256:{digest}" + (" \\" if i < len(items) - 1 else "") for i, (_, digest) in enumerate(items)]
    path.write_text("\n".join(lines) + "\n")


def torch_cpu_wheel(version: str, dest: Path) -> Path:
    """The CPU torch wheel for this machine, fetched with the machine's own pip configuration
    (PyTorch's index, or wherever pip.conf finds it), for pip-compile to read torch's dependencies."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--retries", "0", "--no-deps", "--only-binary=:all:",
                    "--extra-index-url", TORCH_CPU_INDEX, "--dest", str(dest), f"torch=={version}+cpu"], check=True)
    [wheel] = dest.glob(f"torch-{version}+cpu-*.whl")
    return wheel


def lock_torch(requirements: Path, wheel_dir: Path) -> Path:
    """Write requirements-torch-cpu.lock and return the CPU wheel pip-compile resolves against."""
    version = pinned_version(requirements, "torch")
    lock = INFERENCE / TORCH_LOCK
    wheel = torch_cpu_wheel(version, wheel_dir)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    listed = torch_index_hashes(version)
    if listed:
        if digest not in listed.values():
            raise SystemExit(f"{wheel.name} (sha256 {digest}) is not a file {TORCH_CPU_INDEX} lists for torch {version}")
        write_torch_lock(lock, f"{version}", listed)
    else:
        locked_version, hashes = read_torch_lock(lock)
        if locked_version != f"{version}+cpu" or digest not in hashes:
            raise SystemExit(f"{TORCH_LOCK} must be written from {TORCH_CPU_INDEX} for torch {version} "
                             "(the index cannot be reached here): run make lock where it can")
    return wheel


def compile_lock(lock: str, source: str, *, torch_wheel: Path | None, work: Path) -> None:
    command = [sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--strip-extras",
               "--no-emit-index-url", "--no-emit-find-links",
               "--index-url", PYPI, "--output-file", lock, source]
    if torch_wheel is not None and lock in WITHOUT_TORCH:
        # torch resolves from the CPU wheel (its dependencies are the CPU build's) and is left
        # out of the lock, as the one "unsafe" package (pip and setuptools are pinned like any
        # other): requirements-torch-cpu.lock installs it, from PyTorch's index.
        constraint = work / "torch-cpu.txt"
        constraint.write_text(f"torch=={torch_wheel.name.split('-')[1]}\n")
        command += ["--find-links", str(torch_wheel.parent), "--unsafe-package", "torch", "--constraint", str(constraint)]
    else:
        command.append("--allow-unsafe")
    print(f"make lock: {lock} from {source}", flush=True)
    subprocess.run(command, cwd=INFERENCE, env=pypi_only_env(), check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(LOCKS), help="regenerate only these locks")
    args = parser.parse_args(argv)
    if sys.version_info[:2] != image_python():
        raise SystemExit(f"make lock needs Python {'.'.join(map(str, image_python()))}, the image's, "
                         f"to resolve its markers; this is {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="make-lock-") as tmp:
        work = Path(tmp)
        locks = args.only or sorted(LOCKS)
        wheel = lock_torch(INFERENCE / "requirements.txt", work) if WITHOUT_TORCH & set(locks) else None
        for lock in locks:
            compile_lock(lock, LOCKS[lock], torch_wheel=wheel, work=work)


if __name__ == "__main__":
    main()

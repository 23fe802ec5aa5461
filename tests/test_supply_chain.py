"""The supply chain is pinned: base images by digest, the image's Python dependencies by hash,
GitHub Actions by commit with least-privilege tokens (docs/security.md, "Supply chain")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from image.engines import stand_in_build_args
from image.lock import LOCKS, TORCH_LOCK, WITHOUT_TORCH

REPO = Path(__file__).resolve().parent.parent
INFERENCE = REPO / "inference"
DOCKERFILES = [INFERENCE / "Dockerfile", REPO / "training" / "Dockerfile"]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _logical_lines(path: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    return re.sub(r"\\\n\s*", " ", path.read_text()).splitlines()


# ---------------------------------------------------------------- base images


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_registry_image_is_pinned_by_digest_through_an_arg(dockerfile):
    lines = _logical_lines(dockerfile)
    pinned = dict(re.findall(r"^ARG ([A-Z0-9_]+_IMAGE)=(\S+)$", dockerfile.read_text(), re.M))
    assert pinned, "a base image arg, declared before any FROM"
    for name, ref in pinned.items():
        assert DIGEST.search(ref), f"{name}={ref}: pin a digest (make pin-base-image)"
    first_from = next(i for i, line in enumerate(lines) if line.startswith("FROM "))
    assert all(lines.index(f"ARG {name}={ref}") < first_from for name, ref in pinned.items())
    stages = {m.group(1) for m in (re.search(r" AS (\S+)$", line) for line in lines if line.startswith("FROM ")) if m}
    for line in (line for line in lines if line.startswith("FROM ")):
        image = line.split()[1]
        if image in stages or image == "scratch" or image.startswith("model-from-${"):
            continue  # a stage of this Dockerfile, or no image at all
        assert image.strip("${}") in pinned, f"{line!r}: build FROM a pinned *_IMAGE arg, not a tag"
    # The BuildKit frontend is an image too.
    syntax = dockerfile.read_text().splitlines()[0]
    assert syntax.startswith("# syntax=docker/dockerfile:") and DIGEST.search(syntax), syntax


def test_the_offline_build_uses_the_stand_in_of_the_pinned_tag():
    assert stand_in_build_args(INFERENCE / "Dockerfile") == {"PYTHON_IMAGE": "python:3.11-slim-bookworm"}
    script = (REPO / "image" / "stand_in_bases.sh").read_text()
    assert "_IMAGE=" in script and "@sha256" in script, "stand_in_bases.sh reads the base from the pinned arg"


# ---------------------------------------------------------------- Python dependencies


def _lock_entries(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile lock; every requirement must be `name==version`."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        assert match, f"{path.name}: not a pinned, hashed requirement: {line[:120]!r}"
        entries[match.group(1).lower().replace("_", "-")] = (match.group(2), re.findall(r"[0-9a-f]{64}", match.group(3)))
    return entries


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


@pytest.mark.parametrize("lock", [*sorted(LOCKS), TORCH_LOCK])
def test_every_lock_pins_every_package_with_hashes(lock):
    entries = _lock_entries(INFERENCE / lock)
    assert entries and all(hashes for _, hashes in entries.values())


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_each_lock_holds_the_pins_it_was_compiled_from(lock):
    """A pin changed in a requirements file without `make lock` fails here."""
    entries = _lock_entries(INFERENCE / lock)
    pins = _pins(INFERENCE / LOCKS[lock])
    if lock in WITHOUT_TORCH:
        # torch is the CPU build, from its own lock (PyTorch's index).
        assert "torch" not in entries
        assert _lock_entries(INFERENCE / TORCH_LOCK)["torch"][0] == pins.pop("torch") + "+cpu"
    assert {name: entries[name][0] for name in pins if name in entries} == pins
    assert set(pins) <= set(entries)


def test_the_dockerfile_installs_only_locks_and_each_with_require_hashes():
    installs = [line for line in _logical_lines(INFERENCE / "Dockerfile") if line.startswith("RUN ")]
    commands = [part for line in installs for part in line.split("&&") if " install " in part]
    installed = set()
    for command in commands:
        assert "--require-hashes" in command and "--no-deps" in command, command
        requirement_files = re.findall(r"-r /tmp/(\S+)", command)
        assert len(requirement_files) == 1 and requirement_files[0].endswith(".lock"), command
        installed.add(requirement_files[0])
    assert installed == {*LOCKS, TORCH_LOCK}, "every lock is installed, and nothing else"
    # The CPU torch comes from PyTorch's index, the rest from PyPI's.
    [torch] = [c for c in commands if TORCH_LOCK in c]
    assert '--index-url "$TORCH_INDEX"' in torch
    assert all("index-url" not in c for c in commands if c is not torch)


def test_make_lock_is_the_documented_way_to_regenerate():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^lock: ", makefile, re.M) and "-m image.lock" in makefile
    assert re.search(r"^pin-base-image:", makefile, re.M)
    readme = (INFERENCE / "README.md").read_text()
    assert "make lock" in readme and "make pin-base-image" in readme
    for lock in LOCKS:
        assert "make lock" in (INFERENCE / lock).read_text().split("\n", 8)[4]


# ---------------------------------------------------------------- GitHub Actions


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path):
    uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(.+)$", path.read_text(), re.M)
    assert uses and len(uses) == len([s for s in _steps(yaml.safe_load(path.read_text())) if "uses" in s])
    for line in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+){1,2}", line.strip()), (
            f"{path.name}: `uses: {line}`: pin the commit, with its release as a comment (owner/action@<sha> # vX.Y.Z)")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_and_job_grants_the_token_least_privilege(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow.get("permissions") == {"contents": "read"}, f"{path.name}: a workflow-wide read-only token"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions: block"
        assert all(level in ("read", "none") for level in job["permissions"].values()), (
            f"{path.name}: job {name} grants write: say why here and in docs/security.md")
    for step in _steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, "checkout leaves no token behind"

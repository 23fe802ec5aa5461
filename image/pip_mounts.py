"""This machine's pip configuration, for pip inside a buildah build (read-only bind mounts).

A build's pip sees none of the host's pip config files or PIP_* variables, so on a machine whose
packages come from local wheel folders, local indexes or a TLS-intercepting proxy it finds
nothing. ``pip_mounts`` writes the host's effective configuration (``pip config list``: files and
environment, the environment winning) into one pip.conf and mounts it, with every file and folder
it names, under the build's HOME (/root), which every base image has: buildah leaves an empty
mount point in the image for each mount whose target did not exist, and /root exists, so the image
gets nothing. What it mounts is read-only and exists only while a RUN runs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

#: HOME of a build's RUN (root): pip reads $HOME/.config/pip/pip.conf.
CONTAINER_HOME = "/root"
#: Where host paths appear under it: /opt/wheels -> /root/.host/opt/wheels.
HOST_PREFIX = ".host"


def effective_config(listing: str) -> dict[str, str]:
    """``pip config list`` lines (``global.cert='...'``, ``:env:.find-links='...'``) -> {option: value}."""
    options: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        section, _, option = key.rpartition(".")
        if section not in ("global", "install", ":env:"):
            continue
        rank = 1 if section == ":env:" else 0  # PIP_* variables override the files
        if option not in options or rank >= options[option][0]:
            options[option] = (rank, ast.literal_eval(value))
    return {option: value for option, (_, value) in sorted(options.items())}


def _local_path(token: str) -> Path | None:
    path = Path(unquote(urlparse(token).path)) if token.startswith("file://") else Path(token)
    return path if path.is_absolute() and path.exists() else None


def referenced_paths(config: dict[str, str]) -> list[Path]:
    """The local files and folders the configuration names: certificates, constraints, wheel
    folders, file:// indexes (with the folder above a `simple/` index: its pages link `../../files/`)."""
    paths = set()
    for value in config.values():
        for token in value.split():
            path = _local_path(token)
            if path is not None:
                paths.add(path.parent if token.startswith("file://") and path.name == "simple" else path)
    # A folder already mounted carries what lies below it.
    return sorted(p for p in paths if not any(q in p.parents for q in paths))


def in_container(path: Path) -> str:
    return f"{CONTAINER_HOME}/{HOST_PREFIX}{path}"


def rewrite(config: dict[str, str], mounted: list[Path]) -> dict[str, str]:
    """The configuration with each local path replaced by where the build sees it."""
    def moved(token: str) -> str:
        path = _local_path(token)
        if path is None or not any(path == m or m in path.parents for m in mounted):
            return token
        return ("file://" if token.startswith("file://") else "") + in_container(path)

    return {option: " ".join(moved(token) for token in value.split()) for option, value in config.items()}


def pip_mounts(work_dir: Path, listing: str | None = None) -> list[tuple[str, str]]:
    """(host path, container path) pairs, parents first: a home folder holding the merged pip.conf,
    then everything the configuration refers to, mounted below it."""
    if listing is None:
        listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                 check=True).stdout
    config = effective_config(listing)
    mounted = referenced_paths(config)
    home = (work_dir / "build-home").resolve()
    conf = home / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("[global]\n" + "".join(f"{option} = {value}\n" for option, value in rewrite(config, mounted).items()))
    mounts = [(str(home), CONTAINER_HOME)]
    for path in mounted:
        # The mount point, made here in our own folder, so that nothing is made in the image.
        point = home / HOST_PREFIX / path.relative_to("/")
        if path.is_dir():
            point.mkdir(parents=True, exist_ok=True)
        else:
            point.parent.mkdir(parents=True, exist_ok=True)
            point.touch()
        mounts.append((str(path), in_container(path)))
    return mounts

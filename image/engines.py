"""Container engines: build an image, run it the way Fargate and EKS do, measure it.

``BuildahEngine`` (no Docker engine, no registry: this machine) builds with buildah from the
stand-in bases (``image/stand_in_bases.sh``) and runs a container as a process: the image's
entrypoint and command, its user, its environment and working directory, PID 1 of its own PID
namespace, the root filesystem mounted read-only with a tmpfs on /tmp, the host's network (so it
binds loopback: HOST=127.0.0.1). ``DockerEngine`` (the GitHub Actions job) builds with Docker
Buildx from the real bases and runs ``docker run --read-only --tmpfs /tmp``. Both answer the same
calls, so the checks in ``image.checks`` are one script for both.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .pip_mounts import pip_mounts

#: Writable scratch space of a running container, as Fargate's read-only root filesystem leaves it.
TMPFS_SIZE = "512m"


@dataclass
class RunSpec:
    """How to run one container: the image, optionally a command (replacing CMD), env, ports."""

    image: str
    command: Sequence[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: Host port the container port is published on (127.0.0.1 only).
    host_port: int | None = None
    container_port: int = 8080
    #: Share the host's network namespace (the Lambda check: the container reaches a loopback API).
    host_network: bool = False
    #: Replace the image's USER ("uid:gid") or ENTRYPOINT.
    user: str | None = None
    entrypoint: Sequence[str] | None = None


class Container:
    """A started container: signal it, wait for it, read its output."""

    #: time.monotonic() when its process was launched (after any copy of its root filesystem).
    started_at: float = 0.0

    def signal(self, sig: int) -> None:
        raise NotImplementedError

    def wait(self, timeout: float) -> int:
        """The exit status (128 + signal number if a signal ended it); TimeoutError if still running."""
        raise NotImplementedError

    def logs(self) -> str:
        raise NotImplementedError

    def remove(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 25) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds: what ``docker stop`` and ECS do."""
        try:
            self.signal(signal.SIGTERM)
            return self.wait(timeout)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            return self.wait(10)


def _run(command: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), check=True, text=True, **kwargs)


def _build_flags(target: str, tag: str, build_args: Mapping[str, str], build_contexts: Mapping[str, str],
                 labels: Mapping[str, str], platform: str) -> list[str]:
    flags = ["--target", target, "--tag", tag, "--platform", platform]
    for key, value in build_args.items():
        flags += ["--build-arg", f"{key}={value}"]
    for key, value in build_contexts.items():
        flags += ["--build-context", f"{key}={value}"]
    for key, value in labels.items():
        flags += ["--label", f"{key}={value}"]
    return flags


# ---------------------------------------------------------------- buildah


def stand_in_build_args(dockerfile: Path) -> dict[str, str]:
    """The Dockerfile's base-image args (``ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...``)
    with the digest dropped: a stand-in made offline bears the tag, never the registry's digest."""
    pinned = re.findall(r"^ARG ([A-Z0-9_]+_IMAGE)=([^@\s]+)@sha256:[0-9a-f]{64}$", dockerfile.read_text(), re.M)
    return dict(pinned)



class _BuildahContainer(Container):
    def __init__(self, engine: BuildahEngine, name: str, root: str, process: subprocess.Popen, log: Path) -> None:
        self._engine, self.name, self._root, self._process, self._log = engine, name, root, process, log

    def _init_pid(self) -> int | None:
        """The host PID of the container's PID 1 (the child that `unshare --fork` made)."""
        try:
            children = Path(f"/proc/{self._process.pid}/task/{self._process.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def signal(self, sig: int) -> None:
        # Signal the container's PID 1 itself, as `docker kill` does: unshare forwards nothing, and
        # its --kill-child does not reach a child that changed its uid (the kernel drops it). A
        # SIGKILL to PID 1 ends every process of its PID namespace.
        if self._process.poll() is not None:
            return
        pid = self._init_pid()
        os.kill(pid if pid is not None else self._process.pid, sig)

    def wait(self, timeout: float) -> int:
        try:
            status = self._process.wait(timeout)
        except subprocess.TimeoutExpired as error:
            raise TimeoutError(f"container {self.name} still running after {timeout}s") from error
        return 128 - status if status < 0 else status

    def logs(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def remove(self) -> None:
        if self._process.poll() is None:
            self.signal(signal.SIGKILL)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._engine.buildah("umount", self.name, capture_output=True)
        self._engine.buildah("rm", self.name, capture_output=True)


def install_tools(tools: Sequence[str]) -> None:
    """Install missing Debian packages as root with apt-get (like `make setup` installs npm
    packages); elsewhere say what to install."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"make image needs {', '.join(missing)} (Debian: apt-get install {' '.join(missing)}), "
                         "or a Docker engine (IMAGE_ENGINE=docker)")
    print(f"installing {', '.join(missing)} with apt-get", flush=True)
    install = ["apt-get", "install", "-y", "--quiet", *missing]
    if subprocess.run(install, capture_output=True).returncode != 0:
        _run(["apt-get", "update", "--quiet"], capture_output=True)
        _run(install, capture_output=True)


def storage_driver(root: Path = Path("/var/lib/containers/storage")) -> str:
    """BUILDAH_STORAGE_DRIVER, else the driver ``root`` was made with, else overlay where the
    kernel mounts it (no copies: layers are cheap), else vfs (a full copy per layer and container)."""
    if os.environ.get("BUILDAH_STORAGE_DRIVER"):
        return os.environ["BUILDAH_STORAGE_DRIVER"]
    for name in ("overlay", "vfs"):
        if (root / f"{name}-layers").is_dir():
            return name
    probe = subprocess.run(["buildah", "--storage-driver", "overlay", "info"], capture_output=True, text=True)
    return "overlay" if probe.returncode == 0 and '"Native Overlay Diff": "true"' in probe.stdout else "vfs"


class BuildahEngine:
    name = "buildah"

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        install_tools(("buildah", "debootstrap"))
        # Passed on every call: buildah 1.28 does not always honour it from the environment alone.
        self.driver = storage_driver()
        self.BUILDAH = ("buildah", "--storage-driver", self.driver)

    def buildah(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([*self.BUILDAH, *args], text=True, **kwargs)

    def prepare(self, repo: Path) -> None:
        """Make the stand-in base images the Dockerfile's FROM lines name (skips existing ones)."""
        _run([str(repo / "image" / "stand_in_bases.sh")], env={**os.environ, "BUILDAH_STORAGE_DRIVER": self.driver})

    def build(self, context: Path, *, target: str, tag: str, build_args: Mapping[str, str],
              build_contexts: Mapping[str, str], labels: Mapping[str, str], platform: str) -> None:
        volumes = []
        for host, container in pip_mounts(self.work_dir):
            volumes += ["--volume", f"{host}:{container}:ro"]
        # --layers caches each stage for the next target; with vfs not for server-gpu, whose
        # multi-GB layers it would copy once per instruction.
        layers = ["--layers"] if self.driver != "vfs" or target != "server-gpu" else []
        # The stand-ins (stand_in_bases.sh) in place of the pinned digests they cannot match.
        build_args = {**build_args, **stand_in_build_args(context / "Dockerfile")}
        before = self._containers()
        try:
            _run([*self.BUILDAH, "bud", "--isolation", "chroot", "--network", "host", "--pull=never",
                  "--format", "docker", *layers, *volumes,
                  *_build_flags(target, tag, build_args, build_contexts, labels, platform),
                  "--file", str(context / "Dockerfile"), str(context)])
        finally:
            # buildah 1.28 leaves the working container of a FROM-only stage (`model`) behind.
            for leftover in self._containers() - before:
                self.buildah("rm", leftover, capture_output=True)

    def _containers(self) -> set[str]:
        return set(self.buildah("containers", "--quiet", capture_output=True, check=True).stdout.split())

    def _inspect(self, image: str) -> dict | None:
        result = self.buildah("inspect", "--type", "image", image, capture_output=True)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def labels(self, image: str) -> dict[str, str] | None:
        """The image's labels, or None if there is no such image."""
        info = self._inspect(image)
        return None if info is None else (info["OCIv1"]["config"].get("Labels") or {})

    def size(self, image: str) -> int:
        """Uncompressed bytes: the sum of the layer tars (what `docker image inspect` calls Size)."""
        manifest = json.loads(self._inspect(image)["Manifest"])
        return sum(layer["size"] for layer in manifest["layers"])

    def layers(self, image: str) -> list[str]:
        """The digests of the image's layers, base first."""
        return [layer["digest"] for layer in json.loads(self._inspect(image)["Manifest"])["layers"]]

    def config(self, image: str) -> dict:
        """Entrypoint, Cmd, Env, User, WorkingDir, ExposedPorts, Healthcheck (Docker's names)."""
        info = self._inspect(image)
        return {**info["Docker"]["config"], "Healthcheck": info["Docker"]["config"].get("Healthcheck")}

    def remove_image(self, image: str) -> None:
        self.buildah("rmi", "--force", image, capture_output=True)

    def prune(self) -> None:
        """Remove the untagged images --layers left: the build cache."""
        self.buildah("rmi", "--prune", capture_output=True)

    @contextmanager
    def files(self, image: str) -> Iterator[Iterator[tuple[str, int]]]:
        """(path, bytes) of every regular file in the image's root filesystem."""
        name = self.buildah("from", "--pull=never", image, capture_output=True, check=True).stdout.strip()
        try:
            root = self.buildah("mount", name, capture_output=True, check=True).stdout.strip()
            yield _walk(Path(root))
        finally:
            self.buildah("umount", name, capture_output=True)
            self.buildah("rm", name, capture_output=True)

    def start(self, spec: RunSpec, stdout=None) -> Container:
        """Start ``spec``; its output goes to ``stdout`` (a file) if given, else to a log file."""
        config = self.config(spec.image)
        name = f"ml-inference-{uuid.uuid4().hex[:8]}"
        self.buildah("from", "--pull=never", "--name", name, spec.image, capture_output=True, check=True)
        root = self.buildah("mount", name, capture_output=True, check=True).stdout.strip()
        if not Path(root, "usr").is_dir():
            raise RuntimeError(f"unexpected mount of {spec.image}: {root!r}")
        env = dict(item.split("=", 1) for item in config.get("Env") or [])
        # The container shares the host's network: it listens on loopback, and on the published
        # port itself (there is no port mapping).
        env["HOST"] = "127.0.0.1"
        if spec.host_port is not None and spec.host_port != spec.container_port:
            env["PORT"] = str(spec.host_port)
        env.update(spec.env)
        entrypoint = spec.entrypoint if spec.entrypoint is not None else config.get("Entrypoint") or []
        argv = [*entrypoint, *(spec.command if spec.command is not None else config.get("Cmd") or [])]
        user = spec.user or config.get("User") or "0:0"
        uid, _, gid = user.partition(":")
        if not (uid.isdigit() and (gid or "0").isdigit()):
            raise RuntimeError(f"image user {user!r}: the runner needs a numeric uid:gid")
        q = shlex.quote
        setup = " && ".join([
            f"mount --bind {q(root)} {q(root)}", f"mount -o remount,bind,ro {q(root)}",
            f"mount -t tmpfs -o mode=1777,size={TMPFS_SIZE} tmpfs {q(root)}/tmp",
            f"mount -t proc proc {q(root)}/proc", f"mount --rbind /dev {q(root)}/dev",
            f"mount --rbind /sys {q(root)}/sys", f"mount -o remount,bind,ro {q(root)}/sys",
            f"exec unshare --root={q(root)} --wd={q(config.get('WorkingDir') or '/')} "
            f"--setuid {uid} --setgid {gid or 0} -- " + " ".join(q(a) for a in argv),
        ])
        log = self.work_dir / f"{name}.log"
        started_at = time.monotonic()
        process = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
             "/bin/sh", "-c", setup],
            env=env, stdout=stdout or log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        container = _BuildahContainer(self, name, root, process, log)
        container.started_at = started_at
        return container


def _walk(root: Path) -> Iterator[tuple[str, int]]:
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield "/" + path.relative_to(root).as_posix(), path.stat().st_size


# ---------------------------------------------------------------- docker


class _DockerContainer(Container):
    def __init__(self, name: str) -> None:
        self.name = name

    def signal(self, sig: int) -> None:
        subprocess.run(["docker", "kill", "--signal", str(int(sig)), self.name], capture_output=True)

    def wait(self, timeout: float) -> int:
        try:
            result = subprocess.run(["docker", "wait", self.name], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise TimeoutError(f"container {self.name} still running after {timeout}s") from error
        return int(result.stdout.strip() or 255)

    def logs(self) -> str:
        result = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True)
        return result.stdout + result.stderr

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "--force", self.name], capture_output=True)


class DockerEngine:
    name = "docker"

    def __init__(self, work_dir: Path, cpus: str | None = None) -> None:
        self.work_dir = work_dir
        # The goals are for 2 vCPUs: cap the container there on bigger runners.
        self.cpus = cpus or os.environ.get("IMAGE_CPUS", "2")

    def prepare(self, repo: Path) -> None:
        """Nothing to make: Buildx pulls the real base images."""

    def build(self, context: Path, *, target: str, tag: str, build_args: Mapping[str, str],
              build_contexts: Mapping[str, str], labels: Mapping[str, str], platform: str) -> None:
        # --load gives a single-platform image; no provenance: Lambda rejects image indexes.
        _run(["docker", "buildx", "build", "--load", "--provenance=false", "--sbom=false",
              *_build_flags(target, tag, build_args, build_contexts, labels, platform), str(context)],
             env={**os.environ, "BUILDX_NO_DEFAULT_ATTESTATIONS": "1"})

    def _inspect(self, image: str) -> dict | None:
        result = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
        return json.loads(result.stdout)[0] if result.returncode == 0 else None

    def labels(self, image: str) -> dict[str, str] | None:
        info = self._inspect(image)
        return None if info is None else (info["Config"].get("Labels") or {})

    def size(self, image: str) -> int:
        return int(self._inspect(image)["Size"])

    def layers(self, image: str) -> list[str]:
        return list(self._inspect(image)["RootFS"]["Layers"])

    def config(self, image: str) -> dict:
        return self._inspect(image)["Config"]

    def remove_image(self, image: str) -> None:
        subprocess.run(["docker", "rmi", "--force", image], capture_output=True)

    def prune(self) -> None:
        """Nothing: Docker's build cache is shared with everything else on the machine."""

    @contextmanager
    def files(self, image: str) -> Iterator[Iterator[tuple[str, int]]]:
        name = subprocess.run(["docker", "create", image], capture_output=True, text=True, check=True).stdout.strip()
        export = subprocess.Popen(["docker", "export", name], stdout=subprocess.PIPE)
        try:
            archive = tarfile.open(fileobj=export.stdout, mode="r|")
            yield (("/" + member.name.lstrip("./"), member.size) for member in archive if member.isfile())
        finally:
            export.kill()
            export.wait()
            subprocess.run(["docker", "rm", "--force", name], capture_output=True)

    def start(self, spec: RunSpec, stdout=None) -> Container:
        name = f"ml-inference-{uuid.uuid4().hex[:8]}"
        command = ["docker", "run", "--detach", "--name", name, "--read-only",
                   "--tmpfs", f"/tmp:rw,mode=1777,size={TMPFS_SIZE}", "--cpus", self.cpus]
        if spec.host_network:
            command += ["--network", "host"]
        elif spec.host_port is not None:
            command += ["--publish", f"127.0.0.1:{spec.host_port}:{spec.container_port}"]
        if spec.user:
            command += ["--user", spec.user]
        if spec.entrypoint is not None:
            command += ["--entrypoint", spec.entrypoint[0]]
        for key, value in spec.env.items():
            command += ["--env", f"{key}={value}"]
        arguments = [*(spec.entrypoint or [])[1:], *(spec.command or [])]
        started_at = time.monotonic()
        _run([*command, spec.image, *arguments], capture_output=True)
        container = _DockerContainer(name)
        container.started_at = started_at
        if stdout is not None:
            subprocess.Popen(["docker", "logs", "--follow", name], stdout=stdout, stderr=subprocess.STDOUT)
        return container


def engine_for(name: str | None, work_dir: Path):
    """IMAGE_ENGINE=buildah|docker; by default Docker where a Docker engine answers, else buildah."""
    name = name or os.environ.get("IMAGE_ENGINE")
    if name is None:
        has_docker = shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
        name = "docker" if has_docker else "buildah"
    if name == "docker":
        return DockerEngine(work_dir)
    if name == "buildah":
        return BuildahEngine(work_dir)
    raise SystemExit(f"IMAGE_ENGINE={name!r}: use buildah or docker")


def wait_for(predicate, timeout: float, interval: float = 0.02) -> float:
    """Poll ``predicate`` until true; the seconds it took. TimeoutError after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not ready after {timeout}s")
        time.sleep(interval)
    return time.monotonic() - start

"""The distribution ships every package of the source tree, and the Python floor is the one tested."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _source_packages() -> set[str]:
    """Every folder with an __init__.py under the shipped trees, by the name the wheel gives it."""
    roots = {"ml_inference_cdk": REPO / "ml_inference_cdk", "ml_inference_cli": REPO / "ml_inference_cli",
             "ml_inference_cdk._inference": REPO / "inference", "ml_inference_cdk._training": REPO / "training"}
    found = set()
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root)
            if any(part.startswith(".") or part in ("__pycache__", "tests") for part in relative.parts):
                continue
            found.add(".".join([name, *relative.parts]))
    return found


def test_every_package_is_listed_in_pyproject():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    missing = _source_packages() - listed
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    assert not listed - _source_packages(), "pyproject.toml lists packages that no longer exist"


def test_python_floor_matches_ci():
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    workflow = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    assert '"3.11"' in workflow

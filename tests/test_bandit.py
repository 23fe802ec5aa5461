"""Bandit on the code that ships or runs against a deployment: inference/ (the image), training/
(the training image) and loadtest/. A finding is fixed, or skipped on its line with the check's
id and the reason it does not apply: ``# nosec B615  # a local directory``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TREES = ("inference", "training", "loadtest")
# "# nosec B123" or "# nosec B123,B456", then the reason as a comment of its own (bandit reads
# every word after "nosec" up to the next "#" as a check id).
SKIP = re.compile(r"# nosec B\d{3}(,B\d{3})*  # \S")


def test_bandit_finds_nothing(tmp_path):
    report = tmp_path / "bandit.json"
    result = subprocess.run([sys.executable, "-m", "bandit", "--quiet", "--recursive", *TREES, "--format", "json",
                             "--output", str(report)], cwd=REPO, capture_output=True, text=True, timeout=120)
    findings = json.loads(report.read_text())
    problems = [f"{r['filename']}:{r['line_number']}: {r['test_id']} {r['issue_text']}" for r in findings["results"]]
    assert not problems and result.returncode == 0, "\n".join(problems) or result.stderr
    assert not findings["errors"], findings["errors"]
    scanned = {Path(name).as_posix() for name in findings["metrics"] if name != "_totals"}
    assert {p.relative_to(REPO).as_posix() for tree in TREES for p in (REPO / tree).rglob("*.py")} <= scanned
    assert "is not a test name or id" not in result.stderr, "write the reason after a second '#': " + result.stderr


def test_every_skip_names_its_check_and_says_why():
    for tree in TREES:
        for path in sorted((REPO / tree).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if "nosec" in line:
                    assert SKIP.search(line), f"{path.relative_to(REPO)}:{number}: `# nosec BXXX  # why` ({line.strip()})"

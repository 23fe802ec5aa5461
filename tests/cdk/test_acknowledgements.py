"""docs/security.md lists every acknowledgement a synth of any stage records, with its reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import REPO, STAGES

DOC = REPO / "docs" / "security.md"
_ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
#: What differs between stages and regions in a finding's id, and how the list writes it.
_VARIABLE = (
    (re.compile(r":(us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d:"), ":<region>:"),
    (re.compile(r"(transform-job/|log-stream:)[a-z0-9-]*-[0-9a-f]{8}-\*"), r"\1<job-name-prefix>-*"),
)
_ROW = re.compile(r"^\| `(?P<stack>[^`]+)` \| `(?P<construct>[^`]+)` \| `(?P<finding>[^`]+)` \| (?P<reason>.+) \|$")

Key = tuple[str, str, str]


def normalize(finding: str) -> str:
    finding = finding.removeprefix("Annotation::")
    for pattern, replacement in _VARIABLE:
        finding = pattern.sub(replacement, finding)
    return finding


def recorded(outdir: Path) -> dict[Key, str]:
    """(stack, construct path in the stack, finding) -> reason, from the cloud assembly's metadata."""
    found: dict[Key, str] = {}
    for metadata in outdir.glob("*.metadata.json"):
        stack = metadata.name.split(".")[0]
        for path, entries in json.loads(metadata.read_text()).items():
            construct = path.removeprefix(f"/{stack}").removeprefix("/") or "(stack)"
            for entry in entries:
                if entry.get("type") == _ACKNOWLEDGED:
                    for finding, reason in entry["data"].items():
                        found[(stack, construct, normalize(finding))] = reason
    return found


def listed() -> dict[Key, str]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            rows[(match["stack"], match["construct"], match["finding"])] = match["reason"]
    return rows


def _row(key: Key, reason: str) -> str:
    return f"| `{key[0]}` | `{key[1]}` | `{key[2]}` | {reason} |"


def test_every_acknowledgement_is_listed_with_its_reason(synthesized):
    acknowledged: dict[Key, str] = {}
    for stage in STAGES:
        acknowledged.update(recorded(synthesized(stage).outdir))
    documented = listed()
    missing = sorted(set(acknowledged) - set(documented))
    assert not missing, "add to docs/security.md:\n" + "\n".join(_row(key, acknowledged[key]) for key in missing)
    stale = sorted(set(documented) - set(acknowledged))
    assert not stale, "docs/security.md lists acknowledgements no stage records:\n" + "\n".join(map(str, stale))
    changed = [key for key in acknowledged if " ".join(acknowledged[key].split()) != " ".join(documented[key].split())]
    assert not changed, "reasons differ from the code's:\n" + "\n".join(_row(key, acknowledged[key]) for key in changed)


def test_the_list_is_read(synthesized):
    # The control: the parser finds the rows, and a made-up acknowledgement would be missing.
    documented = listed()
    assert len(documented) > 30
    assert ("MlInference-Fargate", "Service/TaskDefinition", "AwsSolutions-ECS2") in documented
    assert ("MlInference-Fargate", "Service/TaskDefinition", "AwsSolutions-EC23") not in documented


def _kinds(outdir: Path) -> dict[str, str]:
    """Construct path (from the stack) -> construct class, from tree.json."""
    kinds: dict[str, str] = {}

    def walk(node: dict, path: str) -> None:
        kinds[path] = node.get("constructInfo", {}).get("fqn", "")
        for child in node.get("children", {}).values():
            walk(child, f"{path}/{child['id']}" if path else child["id"])

    for stack in json.loads((outdir / "tree.json").read_text())["tree"]["children"].values():
        walk(stack, stack["id"])
    return kinds


def test_grant_acknowledgements_sit_on_the_policy_that_grants(synthesized):
    # An IAM5 acknowledgement on a role would excuse the same finding in any later grant to it.
    for stage in STAGES:
        outdir = synthesized(stage).outdir
        kinds = _kinds(outdir)
        for stack, construct, finding in recorded(outdir):
            if finding.startswith("AwsSolutions-IAM5"):
                assert kinds[f"{stack}/{construct}"] == "aws-cdk-lib.aws_iam.Policy", (stack, construct, finding)

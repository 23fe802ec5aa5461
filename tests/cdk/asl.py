"""State machine definitions from synthesized templates: the DefinitionString's Fn::Join rendered
to ASL JSON, with CloudFormation tokens as readable placeholders ("<LogicalId>", "<LogicalId.Arn>")."""

from __future__ import annotations

import json
from typing import Any


def render(value: Any) -> str:
    """A CloudFormation string value with its intrinsics as placeholders (JSON-safe: no quotes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(render(part) for part in parts)
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{'.'.join(argument)}>"
        if function == "Fn::ImportValue":
            return f"<import:{render(argument)}>"
        if function == "Fn::Sub":
            return render(argument if isinstance(argument, str) else argument[0])
        return f"<{function}>"
    raise ValueError(f"cannot render {value!r}")


def definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state machine of `template` by logical id: its ASL definition as a dict."""
    return {
        logical_id: json.loads(render(resource["Properties"]["DefinitionString"]))
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    }


def definition(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The one state machine whose logical id starts with `prefix`."""
    [found] = [d for logical_id, d in definitions(template).items() if logical_id.startswith(prefix)]
    return found


def all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state by name, the branches of Parallel states included."""
    states: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        states[name] = state
        for branch in state.get("Branches", []):
            states.update(all_states(branch))
    return states


def transitions(definition: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (from, to) edge: Next, Choice rules and Default, Catch."""
    edges = set()
    for name, state in all_states(definition).items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        edges |= {(name, target) for target in targets if target}
    return edges

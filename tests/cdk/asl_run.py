"""A small interpreter of Amazon States Language, for running our synthesized state machines'
logic locally (no Step Functions Local here): Pass, Task (answered by a Python handler), Choice,
Wait (recorded, not slept), Parallel, Succeed, Fail; Parameters, ResultSelector, ResultPath,
Catch; JSONPath of the `$.a.b[0]` kind and `$$.Execution.*`; the intrinsics our definitions use
(States.Format, StringToJson, JsonToString, ArrayGetItem, StringSplit, Hash).

It follows the ASL specification where our definitions depend on it (a missing path in a Choice
comparison or a Parameters reference is States.Runtime; ResultPath null discards; Catch in order).
It is a check of the logic we wrote, not of AWS: service behaviour comes from the handler.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

MISSING = object()


class StatesError(Exception):
    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


@dataclasses.dataclass
class Trace:
    states: list[str] = dataclasses.field(default_factory=list)
    calls: list[tuple[str, str, Any]] = dataclasses.field(default_factory=list)
    waits: int = 0


Handler = Callable[[str, str, Any], Any]

_SEGMENT = re.compile(r"\.([A-Za-z0-9_@-]+)|\[(\d+)\]")


def get_path(path: str, data: Any, context: dict[str, Any]) -> Any:
    """The value at a reference path (`$`, `$.a.b`, `$.a[0]`, `$$.Execution.Name`), or MISSING."""
    if path.startswith("$$"):
        value, rest = context, path[2:]
    elif path.startswith("$"):
        value, rest = data, path[1:]
    else:
        raise StatesError("States.Runtime", f"not a path: {path}")
    position = 0
    while position < len(rest):
        match = _SEGMENT.match(rest, position)
        if not match:
            raise StatesError("States.Runtime", f"unsupported path {path}")
        key, index = match.groups()
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return MISSING
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return MISSING
            value = value[int(index)]
        position = match.end()
    return value


def _required(path: str, data: Any, context: dict[str, Any]) -> Any:
    value = get_path(path, data, context)
    if value is MISSING:
        raise StatesError("States.Runtime", f"the JSONPath {path} could not be found in the input")
    return value


def set_result(data: Any, result_path: Any, result: Any) -> Any:
    if result_path is None:
        return data
    if result_path == "$":
        return result
    data = copy.deepcopy(data) if isinstance(data, dict) else {}
    target = data
    keys = [m.group(1) for m in _SEGMENT.finditer(result_path[1:])]
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = result
    return data


# ---------------------------------------------------------------- intrinsic functions

_TOKEN = re.compile(r"\s*(?:(?P<fn>States\.[A-Za-z]+)\(|(?P<str>'(?:\\.|[^'\\])*')|(?P<path>\$\$?[^,)\s]*)|"
                    r"(?P<num>-?\d+(?:\.\d+)?)|(?P<close>\))|(?P<comma>,))")


def evaluate(expression: str, data: Any, context: dict[str, Any]) -> Any:
    value, end = _parse(expression, 0, data, context)
    if expression[end:].strip():
        raise StatesError("States.Runtime", f"trailing text in {expression!r}")
    return value


def _parse(text: str, position: int, data: Any, context: dict[str, Any]) -> tuple[Any, int]:
    match = _TOKEN.match(text, position)
    if not match:
        raise StatesError("States.Runtime", f"cannot parse {text[position:]!r}")
    if match.group("str") is not None:
        return re.sub(r"\\(.)", r"\1", match.group("str")[1:-1]), match.end()
    if match.group("path") is not None:
        return _required(match.group("path"), data, context), match.end()
    if match.group("num") is not None:
        number = match.group("num")
        return (float(number) if "." in number else int(number)), match.end()
    if match.group("fn") is None:
        raise StatesError("States.Runtime", f"unexpected {match.group(0)!r}")
    name, args, position = match.group("fn"), [], match.end()
    while True:
        closing = _TOKEN.match(text, position)
        if closing and closing.group("close"):
            position = closing.end()
            break
        value, position = _parse(text, position, data, context)
        args.append(value)
        separator = _TOKEN.match(text, position)
        if separator and separator.group("comma"):
            position = separator.end()
    return _call(name, args), position


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _call(name: str, args: list[Any]) -> Any:
    if name == "States.Format":
        template, values = args[0], iter(args[1:])
        return re.sub(r"\{\}", lambda _: _text(next(values)), template)
    if name == "States.StringToJson":
        return json.loads(args[0])
    if name == "States.JsonToString":
        return json.dumps(args[0], separators=(",", ":"))
    if name == "States.ArrayGetItem":
        return args[0][args[1]]
    if name == "States.StringSplit":
        return [part for part in re.split("|".join(map(re.escape, args[1])), args[0]) if part]
    if name == "States.Hash":
        algorithm = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}[args[1]]
        return hashlib.new(algorithm, args[0].encode()).hexdigest()
    raise StatesError("States.Runtime", f"intrinsic {name} is not supported here")


def resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """A Parameters / ResultSelector template over `data`."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = (evaluate(value, data, context) if value.startswith("States.")
                                 else _required(value, data, context))
            else:
                out[key] = resolve(value, data, context)
        return out
    if isinstance(template, list):
        return [resolve(item, data, context) for item in template]
    return template


# ---------------------------------------------------------------- choice rules

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "NumericEquals": lambda a, b: _number(a) and a == b,
    "NumericGreaterThan": lambda a, b: _number(a) and a > b,
    "NumericGreaterThanEquals": lambda a, b: _number(a) and a >= b,
    "NumericLessThan": lambda a, b: _number(a) and a < b,
    "NumericLessThanEquals": lambda a, b: _number(a) and a <= b,
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a == b,
}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def matches(rule: dict[str, Any], data: Any, context: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(matches(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data, context)
    value = get_path(rule["Variable"], data, context)
    if "IsPresent" in rule:
        return (value is not MISSING) == rule["IsPresent"]
    if value is MISSING:
        raise StatesError("States.Runtime", f"Invalid path {rule['Variable']}: the choice state's condition path references an invalid value")
    for operator, compare in _COMPARISONS.items():
        if operator in rule:
            return compare(value, rule[operator])
        if operator + "Path" in rule:
            return compare(value, _required(rule[operator + "Path"], data, context))
    raise StatesError("States.Runtime", f"unsupported rule {rule}")


# ---------------------------------------------------------------- running


def run(definition: dict[str, Any], data: Any, handler: Handler, *, execution_name: str = "exec-1",
        trace: Trace | None = None, max_steps: int = 500) -> tuple[Any, Trace]:
    """Run `definition` on `data`; Task states are answered by `handler(state, resource, parameters)`
    (return the result, or raise StatesError). Returns the output; a failed run raises StatesError."""
    trace = trace or Trace()
    context = {"Execution": {"Name": execution_name, "Id": f"arn:aws:states:us-east-1:123456789012:execution:sm:{execution_name}"}}
    return _run_states(definition, data, handler, context, trace, max_steps), trace


def _run_states(definition: dict[str, Any], data: Any, handler: Handler, context: dict[str, Any], trace: Trace,
                max_steps: int) -> Any:
    name = definition["StartAt"]
    for _ in range(max_steps):
        state = definition["States"][name]
        trace.states.append(name)
        kind = state["Type"]
        if kind == "Succeed":
            return data
        if kind == "Fail":
            raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""))
        if kind == "Choice":
            name = next((rule["Next"] for rule in state["Choices"] if matches(rule, data, context)), None) or state.get("Default")
            if name is None:
                raise StatesError("States.NoChoiceMatched", "no rule matched and there is no Default")
            continue
        try:
            if kind == "Pass":
                result = (resolve(state["Parameters"], data, context) if "Parameters" in state
                          else state.get("Result", data))
            elif kind == "Wait":
                trace.waits += 1
                result = data
            elif kind == "Task":
                parameters = resolve(state.get("Parameters", {}), data, context)
                trace.calls.append((name, state["Resource"], parameters))
                result = handler(name, state["Resource"], parameters)
                if "ResultSelector" in state:
                    result = resolve(state["ResultSelector"], result, context)
            elif kind == "Parallel":
                result = [_run_states(branch, data, handler, context, trace, max_steps) for branch in state["Branches"]]
            else:
                raise StatesError("States.Runtime", f"state type {kind} is not supported here")
            data = data if kind == "Wait" else set_result(data, state.get("ResultPath", "$"), result)
        except StatesError as error:
            catch = next((c for c in state.get("Catch", [])
                          if "States.ALL" in c["ErrorEquals"] or error.error in c["ErrorEquals"]), None)
            if catch is None:
                raise
            data = set_result(data, catch.get("ResultPath", "$"), {"Error": error.error, "Cause": error.cause})
            name = catch["Next"]
            continue
        if state.get("End"):
            return data
        name = state["Next"]
    raise StatesError("States.Runtime", f"more than {max_steps} transitions: a loop that never ends")

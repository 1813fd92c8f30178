"""SAM templates: load, validate and resolve them into a `model.Stack`.

Public API (other commands use these):
- `load_stack(path, context, parameter_overrides=None, check_code=False) -> model.Stack`
- `validate_template(path, context=None, parameter_overrides=None) -> list[Problem]`
- `find_template(path) -> Path` and `parse_parameter_overrides(values) -> dict[str, str]`

Heavy modules are imported on first use so that importing this package stays cheap.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from samlite.errors import UsageError

if TYPE_CHECKING:
    from samlite.template.model import Context, Stack
    from samlite.template.problems import Problem

TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")


def find_template(path: str | Path | None = None) -> Path:
    """The template to use: the given file, or template.yaml/.yml/.json in the given folder/cwd."""
    candidate = Path(path) if path else Path.cwd()
    if candidate.is_dir():
        for name in TEMPLATE_NAMES:
            if (candidate / name).is_file():
                return candidate / name
        raise UsageError(f"no template found in {candidate}: expected one of "
                         f"{', '.join(TEMPLATE_NAMES)}", "Pass the template with -t/--template FILE.")
    if not candidate.exists():
        raise UsageError(f"template not found: {candidate}")
    return candidate


_SAM_FORM = re.compile(r"ParameterKey=([^,]+),ParameterValue=(.*)", re.S)


def parse_parameter_overrides(values: Iterable[str] | str | None) -> dict[str, str]:
    """`K=V` pairs (also SAM's `Key="Value"` string and `ParameterKey=K,ParameterValue=V`)."""
    if values is None:
        return {}
    if isinstance(values, str):
        values = [values]
    out: dict[str, str] = {}
    for value in values:
        try:
            tokens = shlex.split(value) if (" " in value or '"' in value or "'" in value) else [value]
        except ValueError as exc:
            raise UsageError(f"bad --parameter-overrides value {value!r}: {exc}") from None
        for token in tokens:
            match = _SAM_FORM.fullmatch(token)
            if match:
                key, val = match.group(1), match.group(2)
            elif "=" in token:
                key, _, val = token.partition("=")
            else:
                raise UsageError(f"bad parameter override {token!r}: expected Key=Value or "
                                 "ParameterKey=Key,ParameterValue=Value")
            key = key.strip()
            if not re.fullmatch(r"[A-Za-z0-9]+", key):
                raise UsageError(f"bad parameter name {key!r} in --parameter-overrides: names are "
                                 "alphanumeric")
            out[key] = val
    return out


def load_stack(path: str | Path, context: "Context",
               parameter_overrides: Mapping[str, str] | None = None,
               check_code: bool = False) -> "Stack":
    from samlite.template.pipeline import load_stack as _load

    return _load(path, context, parameter_overrides, check_code)


def validate_template(path: str | Path, context: "Context | None" = None,
                      parameter_overrides: Mapping[str, str] | None = None) -> list["Problem"]:
    from samlite.template.pipeline import validate_template as _validate

    return _validate(path, context, parameter_overrides)


def stack_to_dict(stack: "Stack", relative_to: str | Path | None = None) -> dict[str, Any]:
    from samlite.template.serialize import stack_to_dict as _to_dict

    return _to_dict(stack, relative_to)

"""The template pipeline's two entry points: load a Stack, or list every problem.

load YAML ► schema ► intrinsics (resolve.Builder) ► checks and model assembly (assemble.Assembler).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from samlite.errors import TemplateError
from samlite.template import model
from samlite.template.assemble import Assembler
from samlite.template.problems import Problem
from samlite.template.resolve import Builder


def _assemble(builder: Builder) -> model.Stack | None:
    return Assembler(builder).run()


def load_stack(path: str | Path, context: model.Context,
               parameter_overrides: Mapping[str, str] | None = None,
               check_code: bool = False) -> model.Stack:
    """Load, validate and resolve a template; raise TemplateError listing every error."""
    builder = Builder(path, context, parameter_overrides, check_code=check_code, mode="load", assemble=_assemble)
    stack = builder.build()
    errors = sorted(builder.problems.errors, key=lambda p: p.line or 0)
    if errors or stack is None:
        if not errors:
            raise TemplateError(f"{path}: the template has no resources")
        lines = [str(e) for e in errors[:20]]
        if len(errors) > 20:
            lines.append(f"... and {len(errors) - 20} more problem(s)")
        header = f"{path}: {len(errors)} error(s) in the template:\n" if len(errors) > 1 else ""
        raise TemplateError(header + "\n".join(lines), errors,
                            "Run `samlite validate` to see warnings too." if len(errors) > 1 else None)
    return stack


def validate_template(path: str | Path, context: Any = None,
                      parameter_overrides: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem in a template (errors and warnings), in template order; never raises for
    template content (unreadable or unparsable files become a single problem)."""
    try:
        builder = Builder(path, context or model.Context(), parameter_overrides, check_code=False,
                          mode="validate", assemble=_assemble)
        builder.build()
    except TemplateError as exc:
        if exc.problems:
            return list(exc.problems)
        return [Problem(str(path), None, "", "", exc.message)]
    # Template order reads best; problems without a line (whole-file) come first.
    return sorted(builder.problems.items, key=lambda p: p.line or 0)

"""Options and helpers shared by several commands."""

from __future__ import annotations

from typing import Any, Callable

import click

F = Callable[..., Any]


def output_option(fn: F) -> F:
    return click.option("--output", "-o", "output", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="Output format.")(fn)


def stack_option(fn: F) -> F:
    return click.option("--stack-name", "stack_name", default=None, help="The deployed stack to use.")(fn)


def template_option(fn: F) -> F:
    return click.option("--template", "-t", "--template-file", "template", default=None,
                        help="The SAM template (default: template.yaml, .yml or .json in the current folder).")(fn)


def parameter_overrides_option(fn: F) -> F:
    return click.option("--parameter-overrides", "parameter_overrides", multiple=True,
                        help="Key=Value pairs (SAM's ParameterKey=K,ParameterValue=V also works).")(fn)


def source_paths(rows: list[dict[str, Any]]) -> dict[str, str]:
    """code dir -> project folder, from `lambdas functions` rows: the unpacked copy a function runs
    from is a content-addressed folder under $SAMLITE_HOME/code; editors want the CodeUri folder."""
    from pathlib import Path

    out = {}
    for row in rows:
        code_dir, source = row.get("code_dir"), row.get("source")
        if code_dir and source and Path(source).is_dir():
            out[code_dir.rstrip("/") + "/"] = source.rstrip("/") + "/"
    return out


def to_source(text: str, paths: dict[str, str]) -> str:
    """`text` (a traceback, a log line, an error payload) with code dirs replaced by project folders."""
    for code_dir, source in paths.items():
        text = text.replace(code_dir, source)
    return text

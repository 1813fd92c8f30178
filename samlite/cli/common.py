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

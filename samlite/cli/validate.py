"""`samlite validate`: check a template offline and list every problem.

Problems go to stderr one per line (`file:line: LogicalId.Path: message`, warnings prefixed
`warning:`); on success stdout gets `<path> is a valid SAM template`. `--output json` prints
`{"valid", "errors", "warnings"}` to stdout instead. Exit code 3 when there is any error.
"""

from __future__ import annotations

import json

import click

from samlite.cli.common import output_option, template_option
from samlite.errors import ExitCode, SamliteError


class _Invalid(SamliteError):
    """Raised after the problems are printed, only to set the exit code."""

    exit_code = ExitCode.INVALID_TEMPLATE


@click.command("validate")
@template_option
@click.option("--parameter-overrides", "overrides", multiple=True,
              help="Parameter values: K=V (repeatable), 'K1=V1 K2=V2', or "
                   "ParameterKey=K,ParameterValue=V.")
@click.option("--stack-name", default="sam-app", show_default=True,
              help="Stack name used for generated names.")
@click.option("--lint", is_flag=True, help="Also run cfn-lint (AWS's CloudFormation linter) when it is installed.")
@output_option
def validate(template: str | None, overrides: tuple[str, ...], stack_name: str, lint: bool, output: str) -> None:
    """Validate a SAM template offline and print every problem as file:line: LogicalId.Path: message."""
    from samlite.template import find_template, parse_parameter_overrides, validate_template
    from samlite.template.model import Context

    path = find_template(template)
    params = parse_parameter_overrides(overrides)
    problems = validate_template(path, Context(stack_name=stack_name), params)
    if lint:
        problems += _cfn_lint(path)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    if output == "json":
        click.echo(json.dumps({"valid": not errors, "template": str(path),
                               "errors": [_public(p) for p in errors],
                               "warnings": [_public(p) for p in warnings]}, indent=2))
    else:
        for problem in errors:
            click.echo(str(problem), err=True)
        for problem in warnings:
            click.echo(f"warning: {problem}", err=True)
        if not errors:
            click.echo(f"{path} is a valid SAM template")
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        raise _Invalid(f"{path}: {len(errors)} {noun} found" if output == "text" else
                       f"{path} is not a valid SAM template")


def _cfn_lint(path: object) -> list:
    """cfn-lint's findings as problems: E rules are errors, W and I rules warnings.

    samlite's own checks (schema, limits, references, runtimes) always run; `--lint` adds
    AWS's rule set when `cfn-lint` is on PATH, and says so when it is not.
    """
    import shutil
    import subprocess

    from samlite.template.problems import Problem

    exe = shutil.which("cfn-lint")
    if exe is None:
        click.echo("note: cfn-lint is not installed, so --lint ran samlite's own checks only "
                   "(pip install cfn-lint adds AWS's rules)", err=True)
        return []
    try:
        run = subprocess.run([exe, "--format", "parseable", "--", str(path)], capture_output=True, text=True,
                             timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        click.echo(f"note: cfn-lint did not run: {exc}", err=True)
        return []
    found = []
    for line in run.stdout.splitlines():
        # file:line:column:end-line:end-column:RULE:message
        parts = line.split(":", 6)
        if len(parts) != 7 or not parts[1].isdigit():
            continue
        rule, message = parts[5], parts[6]
        found.append(Problem(str(path), int(parts[1]), "", "", f"cfn-lint {rule}: {message}",
                             "error" if rule.startswith("E") else "warning"))
    return found


def _public(problem: object) -> dict[str, object]:
    data = problem.to_dict()  # type: ignore[attr-defined]
    data.pop("severity", None)
    return data

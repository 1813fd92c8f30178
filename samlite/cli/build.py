"""`samlite build`: load the template, build every function and layer, print the artifacts.

The artifact table (or a JSON list with `--output json`) goes to stdout; progress and skip
warnings go to stderr. rich is imported only when there is progress to draw.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from samlite.cli.common import output_option, template_option


@click.command("build")
@template_option
@click.option("--parameter-overrides", "parameter_overrides", multiple=True,
              help="Parameter values: 'Key=Value Key2=Value2' (repeatable).")
@click.option("--build-dir", type=click.Path(file_okay=False), default=None,
              help="Where to write zips (default: <project>/.samlite/build).")
@click.option("--cached/--no-cached", default=True, help="Accepted for SAM compatibility: samlite always builds "
              "incrementally (unchanged functions are not rebuilt).")
@click.option("--parallel", is_flag=True, help="Accepted for SAM compatibility: the build is already quick.")
@click.option("--use-container", "-u", is_flag=True,
              help="Accepted for SAM compatibility: no containers are used; dependencies are installed for the "
                   "function's Runtime with the matching local interpreter.")
@output_option
def build(template: str | None, parameter_overrides: tuple[str, ...], build_dir: str | None,
          cached: bool, parallel: bool, use_container: bool, output: str) -> None:
    """Build deterministic zip artifacts: one per function and layer, rebuilt only on change."""
    from pathlib import Path

    from samlite.config import load_settings
    from samlite.package.builder import build_stack
    from samlite.template import find_template, load_stack, parse_parameter_overrides
    from samlite.template.model import Context

    settings = load_settings()
    path = find_template(Path(template) if template else None)
    overrides = parse_parameter_overrides(parameter_overrides) if parameter_overrides else None
    context = Context(region=settings.region, account_id=settings.account_id)
    stack = load_stack(path, context, parameter_overrides=overrides, check_code=False)

    total = len(stack.functions) + len(stack.layers)
    if total > 1 and sys.stderr.isatty():
        artifacts = _build_with_progress(stack, build_dir, total, build_stack)
    else:
        artifacts = build_stack(stack, Path(build_dir) if build_dir else None)
    for warning in getattr(artifacts, "warnings", []):
        click.echo(f"Warning: {warning.logical_id}: {warning.message}", err=True)

    if output == "json":
        click.echo(json.dumps([a.to_dict() for a in artifacts], indent=2))
    else:
        click.echo(_table(artifacts, Path.cwd()))


def _build_with_progress(stack: Any, build_dir: str | None, total: int, build_stack: Any) -> Any:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("Building"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=total)

        def on_progress(logical_id: str, status: str) -> None:
            if status == "building":
                bar.update(task, description=logical_id)
            else:
                bar.advance(task)

        from samlite.package import deps

        deps.status_line = False  # the bar names the function being built; two live lines would fight
        return build_stack(stack, Path(build_dir) if build_dir else None, on_progress=on_progress)


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _table(artifacts: list[Any], cwd: Any) -> str:
    """A plain aligned table: cheap to render and easy to grep."""
    import os

    header = ("LOGICAL ID", "KIND", "SIZE", "SHA256", "STATUS", "PATH")
    rows = [header]
    for a in artifacts:
        try:
            shown = os.path.relpath(a.path, cwd)
            shown = shown if not shown.startswith("..") else str(a.path)
        except ValueError:
            shown = str(a.path)
        rows.append((a.logical_id, a.kind, _human(a.zipped_size), a.sha256[:12],
                     "rebuilt" if a.rebuilt else "cached", shown))
    if len(rows) == 1:
        return "No functions or layers to build."
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows)

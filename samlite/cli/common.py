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


class TerminalPrompts:
    """The deploy pipeline's `Prompts` on the terminal: rich on stderr, questions on stdin."""

    def plan(self, plan: dict[str, Any]) -> None:
        from samlite import ui

        changes = plan["changes"]
        if not changes:
            ui.info(f"No changes to stack {plan['stack']}: it is up to date.")
            return
        colors = {"Add": "green", "Modify": "yellow", "Remove": "red"}
        rows = [(f"[{colors[c['action']]}]{c['action']}[/]", c["logical_id"], c["type"],
                 "True" if c["replacement"] else "False" if c["action"] == "Modify" else "N/A",
                 "" if c["emulated"] else "not emulated") for c in changes]
        ui.print_rows(["Operation", "LogicalResourceId", "ResourceType", "Replacement", "Note"], rows,
                      title=f"Changeset for stack {plan['stack']}", to_stderr=True)

    def info(self, message: str) -> None:
        from samlite import ui

        ui.info(message)

    def warn(self, message: str) -> None:
        from samlite import ui

        ui.warn(message)

    def success(self, message: str) -> None:
        from samlite import ui

        ui.success(message)

    def interactive(self) -> bool:
        import sys

        return sys.stdin.isatty()

    def confirm(self, question: str) -> bool:
        return click.confirm(question, default=False, err=True)


def render_deploy_result(result: dict[str, Any], output: str) -> None:
    from samlite import ui

    if output == "json":
        ui.print_json(result)
        return
    if result["outputs"]:
        ui.print_rows(["Key", "Value", "Description"],
                      [(o["key"], o["value"], o.get("description", "")) for o in result["outputs"]], title="Outputs")
    for ep in result.get("endpoints", []):
        ui.info(f"{ep['kind']} {ep['resource']}: {ep['url']}")


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


def warn_python_version(logical_id: str, runtime: str | None) -> None:
    """Say so when a python3.X runtime has no such interpreter here and runs on another version."""
    from samlite import ui
    from samlite.pythons import mismatch_warning

    message = mismatch_warning(runtime)
    if message:
        ui.warn(f"{logical_id}: {message}")

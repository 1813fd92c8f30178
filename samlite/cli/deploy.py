"""`samlite deploy` and `samlite delete`.

deploy: read samconfig (flags win), optionally ask the guided questions and save the answers in
SAM's format, start the engine if needed, load + validate the template against the engine's
account, region and exports, build, show the change set, confirm, apply, print Outputs.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from samlite.cli.common import (
    output_option,
    parameter_overrides_option,
    template_option,
)


@click.command()
@template_option
@click.option("--guided", "-g", is_flag=True, help="Ask for stack name, region and parameters; save them to samconfig.toml.")
@click.option("--stack-name", "stack_name", default=None, help="The stack to create or update.")
@parameter_overrides_option
@click.option("--confirm-changeset/--no-confirm-changeset", "confirm", default=None,
              help="Ask before applying the change set (default: ask when run in a terminal).")
@click.option("--config-file", default=None, help="SAM configuration file (default: samconfig.toml next to the template).")
@click.option("--config-env", default="default", show_default=True, help="Environment within the configuration file.")
@click.option("--region", default=None, help="Accepted for SAM compatibility; the engine's region is used.")
@click.option("--capabilities", multiple=True, help="Accepted for SAM compatibility (IAM is not enforced locally).")
@output_option
def deploy(template: str | None, guided: bool, stack_name: str | None, parameter_overrides: tuple[str, ...],
           confirm: bool | None, config_file: str | None, config_env: str, region: str | None,
           capabilities: tuple[str, ...], output: str) -> None:
    """Deploy a stack onto the local engine (it is started when not running)."""
    from samlite import samconfig, ui
    from samlite.client import start_engine
    from samlite.errors import UsageError
    from samlite.template import find_template, parse_parameter_overrides

    template_path = find_template(template)
    project_dir = template_path.parent
    config_path = samconfig.find_config(project_dir, config_file)
    saved = samconfig.read(config_path, config_env, "deploy")
    overrides = samconfig.parse_overrides(saved["parameter_overrides"]) if saved.get("parameter_overrides") else {}
    overrides.update(parse_parameter_overrides(parameter_overrides))
    stack_name = stack_name or saved.get("stack_name")
    region = region or saved.get("region")
    if confirm is None and "confirm_changeset" in saved:
        confirm = bool(saved["confirm_changeset"])

    if guided:
        answers = _guided(template_path, stack_name, region, overrides, confirm, config_path, config_env)
        stack_name, region, overrides, confirm = answers["stack_name"], answers["region"], answers["overrides"], answers["confirm"]
    if not stack_name:
        raise UsageError("no stack name: pass --stack-name, use --guided, or set stack_name in samconfig.toml")
    _check_stack_name(stack_name)

    client, started = start_engine()
    info = client.info()
    if started:
        ui.info(f"engine started: gateway {info['gateway_url']}, AWS endpoint {info['aws_url']}, "
                f"console {info.get('console_url', '')}")
    if region and region != info["region"]:
        ui.warn(f"the engine runs region {info['region']}; deploying there instead of {region}")
    result = deploy_stack(client, template_path, stack_name, overrides, confirm, info)
    if result is None:
        return
    _render_result(result, output)


def deploy_stack(client: Any, template_path: Path, stack_name: str, overrides: dict[str, str],
                 confirm: bool | None, info: dict[str, Any]) -> dict[str, Any] | None:
    """Load, build, plan, confirm and apply; shared with `samlite dev`. None when the user declines."""
    from samlite import ui
    from samlite.package import build_stack
    from samlite.template import load_stack
    from samlite.template.model import Context, to_dict

    context = Context(stack_name=stack_name, region=info["region"], account_id=info["account_id"],
                      aws_url=info["aws_url"], exports=client.call("deployer", "exports"))
    stack = load_stack(template_path, context, overrides, check_code=True)
    artifacts = build_stack(stack)
    stack = _with_code_digests(stack, artifacts)
    model = to_dict(stack)
    plan = client.call("deployer", "plan", model=model)
    _render_plan(plan)
    if confirm is None:
        confirm = sys.stdin.isatty()
    if confirm and plan["changes"] and not click.confirm("Deploy this change set?", default=False, err=True):
        ui.info("Deployment cancelled; nothing changed.")
        return None
    payload = [{"logical_id": a.logical_id, "path": str(a.path), "sha256": a.sha256} for a in artifacts]
    result = client.call("deployer", "apply", model=model, artifacts=payload, timeout=600)
    for w in result.get("warnings", []):
        ui.warn(f"{w['logical_id']}: {w['message']}")
    warned = {w["logical_id"] for w in result.get("warnings", [])}
    for s in result.get("skipped", []):
        if s["logical_id"] not in warned:
            ui.warn(f"{s['logical_id']} ({s['type']}) is not emulated: skipped")
    ui.success(f"Successfully deployed stack {stack_name}")
    return result


def _with_code_digests(stack: Any, artifacts: list[Any]) -> Any:
    """Put each artifact's digest into its resource's properties so code-only changes show as Modify."""
    digests = {a.logical_id: a.sha256 for a in artifacts}
    resources = {}
    for lid, res in stack.resources.items():
        if lid in digests:
            res = dataclasses.replace(res, properties={**res.properties, "CodeSha256": digests[lid]})
        resources[lid] = res
    return dataclasses.replace(stack, resources=resources)


def _render_plan(plan: dict[str, Any]) -> None:
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


def _render_result(result: dict[str, Any], output: str) -> None:
    from samlite import ui

    if output == "json":
        ui.print_json(result)
        return
    if result["outputs"]:
        ui.print_rows(["Key", "Value", "Description"],
                      [(o["key"], o["value"], o.get("description", "")) for o in result["outputs"]], title="Outputs")
    for ep in result.get("endpoints", []):
        ui.info(f"{ep['kind']} {ep['resource']}: {ep['url']}")


def _check_stack_name(name: str) -> None:
    import re

    from samlite.errors import UsageError

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", name):
        raise UsageError(f"invalid stack name {name!r}: 1-128 characters, letters, digits and '-', starting with a letter")


def _guided(template_path: Path, stack_name: str | None, region: str | None, overrides: dict[str, str],
            confirm: bool | None, config_path: Path, config_env: str) -> dict[str, Any]:
    """SAM's guided questions, answered from stdin; Enter accepts every default."""
    from samlite import samconfig, ui
    from samlite.config import DEFAULT_REGION
    from samlite.template.loader import load_template

    ui.info("\nConfiguring SAM deploy\n======================")
    stack_name = click.prompt("Stack Name", default=stack_name or "sam-app", err=True)
    _check_stack_name(stack_name)
    region = click.prompt("AWS Region", default=region or DEFAULT_REGION, err=True)
    values = dict(overrides)
    parameters = load_template(template_path).get("Parameters") or {}
    for name, spec in parameters.items():
        default = values.get(name, spec.get("Default"))
        allowed = spec.get("AllowedValues")
        label = f"Parameter {name}" + (f" (one of {', '.join(map(str, allowed))})" if allowed else "")
        kwargs: dict[str, Any] = {"err": True, "hide_input": bool(spec.get("NoEcho"))}
        if allowed:
            kwargs["type"] = click.Choice([str(a) for a in allowed])
        answer = click.prompt(label, default=None if default is None else str(default), **kwargs)
        values[name] = str(answer)
    confirm = click.confirm("Confirm changes before deploy", default=bool(confirm), err=True)
    save = click.confirm("Save arguments to configuration file", default=True, err=True)
    if save:
        file_name = click.prompt("SAM configuration file", default=config_path.name, err=True)
        env = click.prompt("SAM configuration environment", default=config_env, err=True)
        path = Path(file_name) if Path(file_name).is_absolute() else config_path.parent / file_name
        samconfig.write_deploy(path, env, {
            "stack_name": stack_name,
            "resolve_s3": True,
            "s3_prefix": stack_name,
            "region": region,
            "confirm_changeset": confirm,
            "capabilities": "CAPABILITY_IAM",
            "parameter_overrides": samconfig.format_overrides(values) if values else None,
            "image_repositories": [],
        })
        ui.info(f"Saved arguments to {path} [{env}]")
    return {"stack_name": stack_name, "region": region, "overrides": values, "confirm": confirm}


@click.command()
@click.option("--stack-name", "stack_name", default=None, help="The stack to delete (default: from samconfig.toml).")
@click.option("--no-prompts", is_flag=True, help="Do not ask for confirmation.")
@click.option("--config-file", default=None, help="SAM configuration file.")
@click.option("--config-env", default="default", show_default=True, help="Environment within the configuration file.")
def delete(stack_name: str | None, no_prompts: bool, config_file: str | None, config_env: str) -> None:
    """Delete a deployed stack and everything it created (queues with their messages included)."""
    from samlite import samconfig, ui
    from samlite.client import connect
    from samlite.errors import UsageError

    if stack_name is None:
        path = samconfig.find_config(Path.cwd(), config_file)
        saved = {**samconfig.read(path, config_env, "deploy"), **samconfig.read(path, config_env, "delete")}
        stack_name = saved.get("stack_name")
    if not stack_name:
        raise UsageError("no stack name: pass --stack-name or set stack_name in samconfig.toml")
    client = connect()
    if not no_prompts and not click.confirm(f"Are you sure you want to delete the stack {stack_name}?",
                                            default=False, err=True):
        ui.info("Nothing deleted.")
        return
    result = client.call("deployer", "delete", stack=stack_name)
    ui.success(f"Deleted stack {stack_name} ({len(result['removed'])} resources)")

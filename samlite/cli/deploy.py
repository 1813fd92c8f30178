"""`samlite deploy` and `samlite delete`.

deploy: read samconfig (flags win), optionally ask the guided questions and save the answers in
SAM's format, start the engine if needed, load + validate the template against the engine's
account, region and exports, build, show the change set, confirm, apply, print Outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from samlite.cli.common import (
    TerminalPrompts,
    output_option,
    parameter_overrides_option,
    render_deploy_result,
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
@click.option("--resolve-s3", is_flag=True, help="Accepted for SAM compatibility: no S3 bucket is needed locally.")
@click.option("--s3-bucket", default=None, help="Accepted for SAM compatibility: artifacts go straight to the engine.")
@click.option("--execute-changeset/--no-execute-changeset", "execute", default=True,
              help="--no-execute-changeset shows the change set and stops without applying it.")
@click.option("--fail-on-empty-changeset/--no-fail-on-empty-changeset", "fail_on_empty", default=False,
              help="Exit 1 when there is nothing to deploy (samlite's default: exit 0, as --no-fail-on-empty-changeset).")
@click.option("--force", is_flag=True, help="Deploy even when it replaces a stack deployed from another template, "
              "or deletes a queue that holds messages (asked in a terminal; required in scripts).")
@output_option
def deploy(template: str | None, guided: bool, stack_name: str | None, parameter_overrides: tuple[str, ...],
           confirm: bool | None, config_file: str | None, config_env: str, region: str | None,
           capabilities: tuple[str, ...], resolve_s3: bool, s3_bucket: str | None, execute: bool,
           fail_on_empty: bool, force: bool, output: str) -> None:
    """Deploy a stack onto the local engine (it is started when not running)."""
    from samlite import ui
    from samlite.client import start_engine
    from samlite.deploying import deploy_stack, resolve_project
    from samlite.errors import UsageError

    project = resolve_project(template, stack_name, parameter_overrides, config_file, config_env,
                              region=region, confirm=confirm)
    stack_name, region, overrides, confirm = project.stack_name, project.region, project.overrides, project.confirm
    if guided:
        answers = _guided(project.template_path, stack_name, region, overrides, confirm, project.config_path,
                          config_env)
        stack_name, region, overrides, confirm = answers["stack_name"], answers["region"], answers["overrides"], answers["confirm"]
    if not stack_name:
        raise UsageError("no stack name: pass --stack-name, use --guided, or set stack_name in samconfig.toml")

    client, started = start_engine()
    info = client.info()
    if started:
        ui.info(f"engine started: gateway {info['gateway_url']}, AWS endpoint {info['aws_url']}, "
                f"console {info.get('console_url', '')}")
    if region and region != info["region"]:
        ui.warn(f"the engine runs region {info['region']}; deploying there instead of {region}")
    result = deploy_stack(client, project.template_path, stack_name, overrides, confirm, TerminalPrompts(),
                          execute=execute, fail_on_empty=fail_on_empty, force=force)
    if result is not None:
        render_deploy_result(result, output)

def _guided(template_path: Path, stack_name: str | None, region: str | None, overrides: dict[str, str],
            confirm: bool | None, config_path: Path, config_env: str) -> dict[str, Any]:
    """SAM's guided questions, answered from stdin; Enter accepts every default."""
    from samlite import samconfig, ui
    from samlite.config import DEFAULT_REGION
    from samlite.deploying import check_stack_name, default_stack_name
    from samlite.template.loader import load_template

    ui.info("\nConfiguring SAM deploy\n======================")
    # Proposed from the project folder, so two projects do not both default to SAM's `sam-app`.
    proposed = stack_name or default_stack_name(template_path.resolve())
    stack_name = click.prompt("Stack Name", default=proposed, err=True)
    check_stack_name(stack_name)
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
    result = client.deployer.delete(stack_name)
    ui.success(f"Deleted stack {stack_name} ({len(result['removed'])} resources)")

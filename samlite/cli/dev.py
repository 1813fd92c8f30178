"""`samlite dev`: deploy, then watch the code folders and the template; redeploy on save.

The loop itself is `samlite.devloop.DevLoop`; this command resolves the template, stack name and
parameters (flags > samconfig.toml, as `samlite deploy` does), starts the engine when needed,
and turns Ctrl-C (or SIGTERM) into a clean exit 0 that leaves the stack deployed.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from samlite.cli.common import TerminalPrompts, parameter_overrides_option, render_deploy_result, template_option


@click.command()
@template_option
@click.option("--stack-name", "stack_name", default=None,
              help="The stack to deploy (default: samconfig.toml's stack_name, else the project folder's name).")
@parameter_overrides_option
@click.option("--config-file", default=None, help="SAM configuration file (default: samconfig.toml next to the template).")
@click.option("--config-env", default="default", show_default=True, help="Environment within the configuration file.")
@click.option("--force", is_flag=True, help="Deploy even when it replaces a stack deployed from another template, "
              "or deletes a queue that holds messages (asked in a terminal; required in scripts).")
def dev(template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...],
        config_file: str | None, config_env: str, force: bool) -> None:
    """Deploy, then watch sources and the template: each save rebuilds and hot-swaps what changed.

    Logs of every function stream here. Syntax and template errors are shown and the loop keeps
    running. Ctrl-C stops watching and leaves the stack deployed (`samlite delete` removes it).
    """
    watch(template, stack_name, parameter_overrides, config_file, config_env, force=force)


def watch(template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...],
          config_file: str | None, config_env: str, remove_on_exit: bool = False,
          on_first_deploy: Any = None, force: bool = False) -> None:
    """The dev loop, shared by `dev`, `sync --watch` and `local start-api` (which removes its stack
    and stops the engine it started when it ends, as `sam local start-api` leaves nothing behind)."""
    from samlite import ui
    from samlite.client import start_engine, stop_engine
    from samlite.deploying import deploy_stack
    from samlite.devloop import DevLoop

    template_path, stack_name, overrides = resolve(template, stack_name, parameter_overrides, config_file, config_env)
    client, started = start_engine()
    if started:
        info = client.info()
        ui.info(f"engine started: gateway {info['gateway_url']}, AWS endpoint {info['aws_url']}, "
                f"console {info.get('console_url', '')}")

    shown: list[Any] = []
    ready: list[bool] = []

    def deploy(current: Any) -> dict[str, Any] | None:
        result = deploy_stack(current, template_path, stack_name, overrides, False, TerminalPrompts(), force=force)
        endpoints = (result or {}).get("endpoints") or []
        if endpoints != shown:  # the URLs to call, again only when they change
            for ep in endpoints:
                ui.info(f"{ep['kind']} {ep['resource']}: {ep['url']}")
                for route in ep.get("routes") or []:
                    method, _, path = route.partition(" ")
                    ui.info(f"  {method:7} {ep['url'].rstrip('/')}{path}")
            shown[:] = endpoints
        if result is not None and on_first_deploy is not None and not ready:
            on_first_deploy(current, stack_name)
            ready.append(True)
        return result

    loop = DevLoop(client=client, template_path=template_path, stack_name=stack_name, deploy=deploy,
                   console=ui.err, overrides=overrides)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        loop.run()
    except KeyboardInterrupt:
        loop.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not remove_on_exit:
        ui.info(f"\nStopped watching. Stack {stack_name} stays deployed; remove it with "
                f"`samlite delete --stack-name {stack_name}`.")
        return
    from samlite.errors import SamliteError

    try:
        client.deployer.delete(stack_name)
        ui.info(f"\nStopped. Stack {stack_name} removed.")
    except SamliteError as exc:
        ui.warn(f"stack {stack_name} was not removed: {exc.message}")
    if started:
        stop_engine()
        ui.info("engine stopped")


@click.command()
@template_option
@click.option("--stack-name", "stack_name", default=None,
              help="The stack to sync (default: samconfig.toml's stack_name, else the project folder's name).")
@parameter_overrides_option
@click.option("--watch/--no-watch", "watching", default=False, help="Keep watching and hot-swap on every save (as `samlite dev`).")
@click.option("--code", is_flag=True, help="Accepted for SAM compatibility: samlite always swaps only what changed.")
@click.option("--resource-id", multiple=True, help="Accepted for SAM compatibility: the whole stack is synced.")
@click.option("--resource", multiple=True, help="Accepted for SAM compatibility: the whole stack is synced.")
@click.option("--skip-deploy-sync/--no-skip-deploy-sync", default=True, help="Accepted for SAM compatibility.")
@click.option("--dependency-layer/--no-dependency-layer", default=False, help="Accepted for SAM compatibility.")
@click.option("--use-container", is_flag=True, help="Accepted for SAM compatibility: samlite builds without containers.")
@click.option("--config-file", default=None, help="SAM configuration file (default: samconfig.toml next to the template).")
@click.option("--config-env", default="default", show_default=True, help="Environment within the configuration file.")
@click.option("--force", is_flag=True, help="Deploy even when it replaces a stack deployed from another template, "
              "or deletes a queue that holds messages (asked in a terminal; required in scripts).")
def sync(template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...], watching: bool,
         config_file: str | None, config_env: str, force: bool, **_sam_only: Any) -> None:
    """SAM's `sam sync`: `--watch` is `samlite dev`; without it, one deploy without a change set prompt."""
    from samlite import ui

    if watching:
        ui.info("sync --watch is samlite dev: deploy, then hot-swap on every save")
        watch(template, stack_name, parameter_overrides, config_file, config_env, force=force)
        return
    from samlite.client import start_engine
    from samlite.deploying import deploy_stack

    template_path, stack_name, overrides = resolve(template, stack_name, parameter_overrides, config_file, config_env)
    client, _ = start_engine()
    result = deploy_stack(client, template_path, stack_name, overrides, False, TerminalPrompts(), force=force)
    if result is not None:
        render_deploy_result(result, "text")


def resolve(template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...],
            config_file: str | None, config_env: str) -> tuple[Path, str, dict[str, str]]:
    """Template path, stack name and parameters: flags > samconfig.toml > the project folder's name."""
    from samlite.deploying import resolve_project

    project = resolve_project(template, stack_name, parameter_overrides, config_file, config_env,
                              name_from_folder=True)
    assert project.stack_name is not None  # name_from_folder always gives one
    return project.template_path, project.stack_name, project.overrides


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt

"""`samlite dev`: deploy, then watch the code folders and the template; redeploy on save.

The loop itself is `samlite.devloop.DevLoop`; this command resolves the template, stack name and
parameters (flags > samconfig.toml, as `samlite deploy` does), starts the engine when needed,
and turns Ctrl-C (or SIGTERM) into a clean exit 0 that leaves the stack deployed.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import click

from samlite.cli.common import parameter_overrides_option, template_option


@click.command()
@template_option
@click.option("--stack-name", "stack_name", default=None,
              help="The stack to deploy (default: samconfig.toml's stack_name, else the project folder's name).")
@parameter_overrides_option
@click.option("--config-file", default=None, help="SAM configuration file (default: samconfig.toml next to the template).")
@click.option("--config-env", default="default", show_default=True, help="Environment within the configuration file.")
def dev(template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...],
        config_file: str | None, config_env: str) -> None:
    """Deploy, then watch sources and the template: each save rebuilds and hot-swaps what changed.

    Logs of every function stream here. Syntax and template errors are shown and the loop keeps
    running. Ctrl-C stops watching and leaves the stack deployed (`samlite delete` removes it).
    """
    from samlite import samconfig, ui
    from samlite.cli.deploy import _check_stack_name, deploy_stack
    from samlite.client import start_engine
    from samlite.devloop import DevLoop
    from samlite.template import find_template, parse_parameter_overrides

    template_path = find_template(template).resolve()
    config_path = samconfig.find_config(template_path.parent, config_file)
    saved = samconfig.read(config_path, config_env, "deploy")
    overrides = samconfig.parse_overrides(saved["parameter_overrides"]) if saved.get("parameter_overrides") else {}
    overrides.update(parse_parameter_overrides(parameter_overrides))
    stack_name = stack_name or saved.get("stack_name") or _default_stack_name(template_path)
    _check_stack_name(stack_name)

    client, started = start_engine()
    if started:
        info = client.info()
        ui.info(f"engine started: gateway {info['gateway_url']}, AWS endpoint {info['aws_url']}, "
                f"console {info.get('console_url', '')}")

    shown: list[Any] = []

    def deploy(current: Any) -> dict[str, Any] | None:
        result = deploy_stack(current, template_path, stack_name, overrides, False, current.info())
        endpoints = (result or {}).get("endpoints") or []
        if endpoints != shown:  # the URLs to call, again only when they change
            for ep in endpoints:
                ui.info(f"{ep['kind']} {ep['resource']}: {ep['url']}")
            shown[:] = endpoints
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
    ui.info(f"\nStopped watching. Stack {stack_name} stays deployed; remove it with "
            f"`samlite delete --stack-name {stack_name}`.")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _default_stack_name(template_path: Path) -> str:
    """The project folder's name as a valid stack name (`my_app 2` -> `my-app-2`)."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", template_path.parent.name).strip("-")
    if not name or not name[0].isalpha():
        name = "sam-app" + (f"-{name}" if name else "")
    return name[:128]

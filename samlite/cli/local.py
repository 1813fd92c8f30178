"""`samlite local invoke|start-api|start-lambda|generate-event`: SAM CLI's `sam local` commands.

- `local invoke` always runs the template's own local code once (no engine, no deployed stack).
- `local start-api` / `local start-lambda` deploy the template onto the engine as a stack of its
  own (`<project>-local`), print the routes or the Lambda endpoint, hot-swap code on save, and on
  Ctrl-C remove that stack (and stop the engine if they started it), leaving nothing behind.
- `local generate-event` is `samlite generate-event`.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import click

from samlite.cli.common import parameter_overrides_option, template_option
from samlite.cli.events import generate_event

# SAM's container options: accepted so that SAM command lines run, with no local meaning.
_CONTAINER_FLAGS = ("--warm-containers", "--skip-pull-image", "--docker-network", "--container-host",
                    "--debug-port", "--layer-cache-basedir", "--force-image-build")


def _container_options(fn: Any) -> Any:
    for flag in _CONTAINER_FLAGS:
        is_flag = flag in ("--skip-pull-image", "--force-image-build")
        fn = click.option(flag, flag.lstrip("-").replace("-", "_"), is_flag=is_flag, default=None, hidden=True,
                          expose_value=False)(fn)
    return fn


@click.group(name="local")
def local_group() -> None:
    """SAM CLI's `sam local` commands: invoke, start-api, start-lambda, generate-event."""


@local_group.command("invoke")
@click.argument("function", required=False)
@template_option
@click.option("-e", "--event", "event", default=None, metavar="FILE|-", help="Event JSON file, or - for stdin.")
@click.option("--payload", default=None, metavar="JSON", help="Event JSON given inline.")
@click.option("--no-event", is_flag=True, help="Invoke with an empty event ({}), as SAM's flag.")
@click.option("-n", "--env-vars", "env_vars", default=None, metavar="FILE",
              help='SAM\'s environment file: {"Parameters": {"VAR": "v"}, "LogicalId": {"VAR": "v"}}.')
@parameter_overrides_option
@_container_options
def local_invoke(function: str | None, template: str | None, event: str | None, payload: str | None,
                 no_event: bool, env_vars: str | None, parameter_overrides: tuple[str, ...]) -> None:
    """Run FUNCTION from the template's local code once (as `samlite invoke FUNCTION -t FILE`).

    FUNCTION may be left out when the template has exactly one function.
    """
    from pathlib import Path

    from samlite.cli.invoke import one_shot, read_event, render
    from samlite.template import find_template

    path = find_template(template)
    if function is None:
        function = _only_function(path)
    data = b"{}" if no_event else read_event(event, payload)
    render(one_shot(function, Path(path), data, "RequestResponse", None, parameter_overrides, env_vars))


def _only_function(path: Any) -> str:
    from samlite.errors import UsageError
    from samlite.template.loader import load_template

    resources = load_template(path).get("Resources") or {}
    functions = [lid for lid, res in resources.items() if isinstance(res, dict) and
                 res.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")]
    if len(functions) != 1:
        raise UsageError("name the function to invoke: the template has "
                         f"{len(functions)} functions ({', '.join(functions) or 'none'})")
    return functions[0]


def _server_options(fn: Any) -> Any:
    decorators: list[Callable[[Any], Any]] = [
        template_option,
        click.option("--stack-name", "stack_name", default=None,
                     help="The stack to run the template as (default: <project folder>-local)."),
        parameter_overrides_option,
        click.option("-p", "--port", type=click.IntRange(0, 65535), default=None,
                     help="Port for a new engine (0: any free port)."),
        click.option("--host", default=None, help="Accepted for SAM compatibility; the engine binds 127.0.0.1."),
        click.option("--config-file", default=None, help="SAM configuration file."),
        click.option("--config-env", default="default", show_default=True, help="Environment in the configuration file."),
        _container_options,
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def _serve(port_variable: str, template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...],
           port: int | None, host: str | None, config_file: str | None, config_env: str, on_ready: Any) -> None:
    from samlite import ui
    from samlite.cli.dev import watch
    from samlite.deploying import default_stack_name
    from samlite.template import find_template

    if host not in (None, "127.0.0.1", "localhost"):
        ui.warn(f"--host {host} is ignored: the engine listens on 127.0.0.1 only")
    if port is not None:
        os.environ[port_variable] = str(port)  # read by a newly started engine
    if stack_name is None:
        stack_name = f"{default_stack_name(find_template(template).resolve())}-local"[:128]
    watch(template, stack_name, parameter_overrides, config_file, config_env, remove_on_exit=True,
          on_first_deploy=on_ready)


def _check_port(info: dict[str, Any], key: str, port: int | None) -> None:
    from samlite import ui

    actual = int(info[key].rsplit(":", 1)[1].split("/")[0])
    if port not in (None, 0, actual):
        ui.warn(f"an engine already runs with this port on {actual}, not {port}; stop it with `samlite engine stop` "
                "to use another port")


@local_group.command("start-api")
@_server_options
def start_api(template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...], port: int | None,
              host: str | None, config_file: str | None, config_env: str) -> None:
    """Serve the template's APIs on the local gateway until Ctrl-C, then remove them.

    Code changes are picked up on save. The port is SAMLITE_GATEWAY_PORT (default 3000) or --port.
    """
    from samlite import ui

    def ready(client: Any, stack: str) -> None:
        _check_port(client.info(), "gateway_url", port)
        ui.info(f"[bold]Serving stack {stack}[/bold]: the routes above answer until Ctrl-C")

    _serve("SAMLITE_GATEWAY_PORT", template, stack_name, parameter_overrides, port, host, config_file, config_env,
           ready)


@local_group.command("start-lambda")
@_server_options
def start_lambda(template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...],
                 port: int | None, host: str | None, config_file: str | None, config_env: str) -> None:
    """Serve the template's functions on the AWS-compatible endpoint until Ctrl-C, then remove them.

    Call them with boto3 or `aws lambda invoke --endpoint-url URL`. The port is SAMLITE_AWS_PORT
    (default 3001) or --port.
    """
    from samlite import ui

    def ready(client: Any, stack: str) -> None:
        info = client.info()
        _check_port(info, "aws_url", port)
        ui.info(f"[bold]Lambda endpoint[/bold] {info['aws_url']}")
        for fn in client.lambdas.functions(stack):
            ui.info(f"  {fn['logical_id']}: {fn['name']}")
        ui.info(f"Try: aws lambda invoke --endpoint-url {info['aws_url']} --function-name NAME out.json")

    _serve("SAMLITE_AWS_PORT", template, stack_name, parameter_overrides, port, host, config_file, config_env, ready)


local_group.add_command(generate_event, "generate-event")

"""`samlite engine start|stop|status`: manage the local engine process."""

from __future__ import annotations

import click

from samlite.cli.common import output_option


@click.group()
def engine() -> None:
    """Start, stop or inspect the local engine (state in $SAMLITE_HOME, default ~/.samlite)."""


@engine.command()
@click.option("--foreground", is_flag=True, help="Run in this terminal until Ctrl-C instead of daemonising.")
@output_option
def start(foreground: bool, output: str) -> None:
    """Start the engine and return when it is ready (or report the one already running)."""
    from samlite import ui
    from samlite.client import EngineClient, check_ports, start_engine
    from samlite.config import load_settings

    settings = load_settings()
    if foreground:
        client = EngineClient(settings)
        if client.is_running():
            _report(client.info(), output, "already running")
            return
        from samlite.engine.server import run

        check_ports(settings)
        ui.info(f"engine starting in the foreground (state in {settings.home}); Ctrl-C stops it")
        run(settings, foreground=True)
        return
    client, started = start_engine(settings)
    _report(client.info(), output, "started" if started else "already running")


@engine.command()
def stop() -> None:
    """Stop the engine gracefully (in-flight work finishes first)."""
    from samlite import ui
    from samlite.client import stop_engine

    pid = stop_engine()
    ui.info("engine was not running" if pid is None else f"engine stopped (pid {pid})")


@engine.command()
@output_option
def status(output: str) -> None:
    """Show the running engine's pid, URLs, region and account (exit 5 when it is not running)."""
    from samlite.client import connect

    _report(connect().info(), output, "running")


def _report(info: dict, output: str, state: str) -> None:
    from samlite import ui

    if output == "json":
        ui.print_json({**info, "state": state})
        return
    ui.info(f"engine {state}")
    ui.print_rows(["key", "value"], [(k, info[k]) for k in
                                     ("pid", "gateway_url", "aws_url", "console_url", "region", "account_id", "home")
                                     if k in info])

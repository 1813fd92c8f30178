"""`samlite console`: print the web console's URL, and open it in a browser from a terminal."""

from __future__ import annotations

import sys

import click

from samlite.cli.common import output_option


@click.command()
@click.option("--no-browser", is_flag=True, help="Only print the URL, even in a terminal.")
@output_option
def console(no_browser: bool, output: str) -> None:
    """Print the local web console's URL (it carries the engine's token: keep it private).

    The console shows stacks, functions (live logs, invocations, charts), queues and async events.
    A browser opens only when stdout is a terminal and one is available (exit 5 when the engine is
    not running).
    """
    from samlite import ui
    from samlite.client import connect

    url = connect().info()["console_url"]
    if output == "json":
        ui.print_json({"url": url})
        return
    click.echo(url)
    if not no_browser and sys.stdout.isatty():
        _open(url)


def _open(url: str) -> None:
    import webbrowser

    from samlite import ui

    try:
        webbrowser.get()
    except webbrowser.Error:
        return  # no browser here (a server, SSH): the printed URL is the answer
    if webbrowser.open(url):
        ui.info("opened in your browser")

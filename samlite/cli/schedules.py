"""`samlite events fire NAME` and `samlite events schedules`: EventBridge rules and schedules.

`fire` runs a schedule rule, an EventBridge Scheduler schedule or a pattern rule's targets now,
for tests and the dev loop; `schedules` lists every schedule with its next firing time.
"""

from __future__ import annotations

import click

from samlite.cli.common import output_option


@click.group(name="events")
def events_group() -> None:
    """Fire EventBridge rules and schedules now; list schedules."""


@events_group.command("fire")
@click.argument("name")
@output_option
def fire(name: str, output: str) -> None:
    """Fire the rule or schedule NAME (its name, ARN, or GROUP/NAME) now.

    \b
    Examples:
      samlite events fire my-stack-NightlyJob-1A2B3C
      samlite events fire default/noon-paris
    """
    from samlite import ui
    from samlite.client import connect

    result = connect().events.fire(name)
    if output == "json":
        ui.print_json(result)
    else:
        click.echo(f"fired {result['fired']} ({result['targets']} target(s))")


@events_group.command("schedules")
@output_option
def schedules(output: str) -> None:
    """List schedule rules and schedules, with their next firing time (UTC)."""
    from samlite import ui
    from samlite.client import connect

    rows = connect().events.schedules()
    columns = ("name", "kind", "expression", "timezone", "state", "next", "fired")
    if output == "json":
        ui.print_json(rows)
    else:
        ui.print_rows(columns, [[row.get(c) for c in columns] for row in rows])

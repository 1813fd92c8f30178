"""`samlite executions [FUNCTION]`, `samlite executions show ARN`, `samlite executions fire ARN`:
the durable executions of functions with DurableConfig.

The listing shows each execution's status, start time and what a running one waits for (a
timer, a callback, an invoke). `show` prints its history (AWS's GetDurableExecutionHistory
events). `fire` completes a running execution's pending waits and step retries now, as if their
time had come, and replays it: how tests get past a long `context.wait`.
"""

from __future__ import annotations

from typing import Any

import click

from samlite.cli.common import output_option

COLUMNS = ("function", "name", "status", "started", "ended", "waiting", "arn")
EVENT_COLUMNS = ("EventId", "EventTimestamp", "EventType", "Name", "Id", "detail")


@click.command(name="executions")
@click.argument("args", nargs=-1, metavar="[FUNCTION] | show ARN | fire ARN")
@output_option
def executions(args: tuple[str, ...], output: str) -> None:
    """List durable executions (of FUNCTION: logical id, name or ARN), show one's history, or fire
    its pending waits now.

    \b
    Examples:
      samlite executions
      samlite executions OrderWorkflow --output json
      samlite executions show 'arn:aws:lambda:...:function:fn:$LATEST/durable-execution/name/id'
      samlite executions fire 'arn:aws:lambda:...:function:fn:$LATEST/durable-execution/name/id'
    """
    from samlite import ui
    from samlite.client import connect

    if args and args[0] in ("show", "fire"):
        if len(args) != 2:
            raise click.UsageError(f"`samlite executions {args[0]}` takes one execution ARN")
        client = connect()
        if args[0] == "fire":
            result = client.durable.fire(args[1])
            if output == "json":
                ui.print_json(result)
            else:
                click.echo(f"fired {result['fired']} pending wait(s) or retries of {result['arn']}")
            return
        shown = client.durable.show(args[1])
        if output == "json":
            ui.print_json(shown)
            return
        for key in ("arn", "function", "name", "status", "started", "ended", "waiting", "input", "result", "error"):
            if shown.get(key) is not None:
                click.echo(f"{key}: {shown[key]}")
        ui.print_rows(EVENT_COLUMNS, [[_cell(event, c) for c in EVENT_COLUMNS] for event in shown["events"]])
        return
    if len(args) > 1:
        raise click.UsageError("give at most one FUNCTION (or `show ARN` / `fire ARN`)")
    client = connect()
    function = args[0] if args else None
    if function is not None and not function.startswith("arn:"):
        try:  # a logical id, as the other commands take
            function = next(f["name"] for f in client.lambdas.functions(None)
                            if function in (f["logical_id"], f["name"]))
        except StopIteration:
            pass
    rows = client.durable.list(function)
    if output == "json":
        ui.print_json(rows)
    else:
        ui.print_rows(COLUMNS, [[row.get(c) for c in COLUMNS] for row in rows])


def _cell(event: dict[str, Any], column: str) -> Any:
    if column != "detail":
        return event.get(column)
    # The one *Details member an event has, shortly: a result, an error, a wait's end.
    details = next((v for k, v in event.items() if k.endswith("Details") and isinstance(v, dict)), None)
    if not details:
        return None
    text = ", ".join(f"{k}={v}" for k, v in details.items())
    return text if len(text) <= 80 else text[:77] + "..."

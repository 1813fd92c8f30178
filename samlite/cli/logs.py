"""`samlite logs`: print, or live-follow, the CloudWatch-style log events of local invocations.

Events come from the engine (`logs.cli_events`) with an id cursor: `--tail` polls every 100 ms
from the last id it saw, so a new line shows within ~200 ms. Ctrl-C ends `--tail` quietly with
exit 0. Lines carry the function name as a prefix when several functions are shown.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any

import click

from samlite.cli.common import output_option, stack_option, to_source

POLL_S = 0.1
PAGE = 5000
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400, "w": 604800, "week": 604800}
_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+?)s?(?:\s+ago)?")


def parse_time(value: str, now: float | None = None) -> int:
    """A time option to epoch milliseconds: ISO 8601, epoch seconds/ms, `now`, or `10m ago` / `5m` / `2 hours`."""
    from samlite.errors import UsageError

    text = value.strip().lower()
    now = time.time() if now is None else now
    if text == "now":
        return int(now * 1000)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        number = float(text)
        # 13 digits are milliseconds (as CloudWatch takes them), fewer are seconds.
        return int(number) if number >= 1e11 else int(number * 1000)
    m = _RELATIVE.fullmatch(text)
    if m and m.group(2) in _UNITS:
        return int((now - float(m.group(1)) * _UNITS[m.group(2)]) * 1000)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"cannot read the time {value!r}",
                         hint="Use ISO 8601 (2024-05-01T12:00:00Z), epoch seconds, or a relative time like "
                              "'10m ago', '2h', '1 day ago'.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # like CloudWatch, naive times are UTC
    return int(parsed.timestamp() * 1000)


@click.command()
@click.option("-n", "--name", "function", default=None, help="Function logical id or name (default: all of the stack).")
@stack_option
@click.option("--tail", is_flag=True, help="Keep following new events until Ctrl-C.")
@click.option("--filter", "filter_", default=None,
              help="CloudWatch filter pattern: terms, \"phrases\", ?any-of, -exclude, or { $.key = value }.")
@click.option("-s", "--start-time", "start", default=None, help="From this time (ISO, epoch, or '10m ago').")
@click.option("-e", "--end-time", "end", default=None, help="Up to this time (ISO, epoch, or '5m ago').")
@output_option
def logs(function: str | None, stack_name: str | None, tail: bool, filter_: str | None, start: str | None,
         end: str | None, output: str) -> None:
    """Print, or with --tail follow, the log events of deployed functions.

    \b
    Examples:
      samlite logs -n HelloWorldFunction -s '10m ago'
      samlite logs --stack-name app --tail --filter ERROR
    """
    from samlite.client import connect
    from samlite.errors import UsageError

    start_ms = parse_time(start) if start else None
    end_ms = parse_time(end) if end else None
    if start_ms is not None and end_ms is not None and end_ms < start_ms:
        raise UsageError("the end time is before the start time")
    client = connect()
    args: dict[str, Any] = {"function": function, "stack": stack_name, "start_ms": start_ms, "end_ms": end_ms,
                            "filter": filter_}
    from samlite.cli.common import source_paths
    from samlite.errors import SamliteError

    try:
        paths = source_paths(client.lambdas.functions(stack_name))
    except SamliteError:
        paths = {}  # an unknown stack: the log query reports it
    printer = _Printer(output, streaming=tail, paths=paths)
    if not tail:
        after = None
        while True:
            page = client.logs.events(**args, after_id=after, limit=PAGE)
            printer.add(page)
            if len(page["events"]) < PAGE:
                break
            after = page["last_id"]
        printer.finish()
        return
    try:
        page = client.logs.events(**args, limit=PAGE, tail_start=True)
        printer.add(page)
        after = page["last_id"]
        while True:
            time.sleep(POLL_S)
            page = client.logs.events(**args, after_id=after, limit=PAGE)
            printer.add(page)
            after = page["last_id"]
    except KeyboardInterrupt:
        # Ctrl-C is how --tail ends: not an error.
        sys.stdout.flush()


class _Printer:
    def __init__(self, output: str, streaming: bool, paths: dict[str, str] | None = None) -> None:
        self.output = output
        self.paths = paths or {}  # code dir -> project folder, for tracebacks in text output
        self.streaming = streaming
        self.collected: list[dict[str, Any]] = []

    def add(self, page: dict[str, Any]) -> None:
        several = len(page.get("functions") or []) > 1
        for event in page["events"]:
            if self.output == "json":
                row = {"function": event["function"], "stream": event["stream"], "timestamp": event["timestamp"],
                       "message": event["message"]}
                if self.streaming:
                    sys.stdout.write(json.dumps(row) + "\n")
                else:
                    self.collected.append(row)
            else:
                prefix = f"{event['function']} " if several else ""
                message = to_source(event["message"], self.paths)
                sys.stdout.write(f"{prefix}{_iso(event['timestamp'])} {message}\n")
        sys.stdout.flush()

    def finish(self) -> None:
        if self.output == "json" and not self.streaming:
            click.echo(json.dumps(self.collected, indent=2))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

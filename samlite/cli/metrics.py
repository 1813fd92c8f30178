"""`samlite metrics` and `samlite tune`: what invocations cost, and which memory size is best.

`metrics` prints per-function figures over a time window (Invocations, Errors, Throttles,
Duration p50/p90/p99, max concurrency, cold starts, Init Duration, GB-seconds and cost at
Lambda's published prices) with a sparkline of invocations, plus per-stack totals.
`tune` runs a function at several memory sizes, each with the CPU share Lambda gives it, and
names the cheapest and the fastest. Both compute in the engine (`services/cloudwatch/service.py`,
`services/lambda_/tuning.py`); this module parses and renders.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any, Sequence

import click

from samlite.cli.common import output_option, stack_option
from samlite.errors import UsageError

DEFAULT_MEMORY = "128,256,512,1024,1769,3008"
MAX_WINDOW_S = 15 * 24 * 3600
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
_BLOCKS = " ▁▂▃▄▅▆▇█"


def parse_since(text: str) -> float:
    """'90s', '15m', '2h', '1d' (or bare seconds) -> seconds; UsageError when malformed or > 15 days."""
    match = _SINCE.match(text.lower())
    if not match or match.group(2) not in ("", *_UNITS):
        raise UsageError(f"--since {text!r} is not a duration", hint="Use e.g. 90s, 15m, 2h or 1d.")
    seconds = float(match.group(1)) * _UNITS.get(match.group(2), 1)
    if not 1 <= seconds <= MAX_WINDOW_S:
        raise UsageError(f"--since {text!r} must be between 1 second and 15 days")
    return seconds


def parse_memory(text: str) -> list[int]:
    """'128,512,1769' -> [128, 512, 1769]; UsageError for non-numbers or sizes outside 128-10,240 MB."""
    from samlite import pricing

    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise UsageError("--memory needs at least one size, e.g. --memory 128,512,1769")
    sizes = []
    for part in parts:
        if not part.isdigit():
            raise UsageError(f"--memory: {part!r} is not a whole number of MB",
                             hint="Give comma-separated sizes, e.g. --memory 128,512,1769")
        size = int(part)
        if not pricing.MIN_MEMORY_MB <= size <= pricing.MAX_MEMORY_MB:
            raise UsageError(f"--memory: {size} MB is outside Lambda's range "
                             f"{pricing.MIN_MEMORY_MB}-{pricing.MAX_MEMORY_MB} MB")
        sizes.append(size)
    return sizes


def sparkline(values: Sequence[int]) -> str:
    """One unicode block per value, scaled to the largest; zero is a blank."""
    top = max(values, default=0)
    if top <= 0:
        return " " * len(values)
    return "".join(_BLOCKS[math.ceil(v / top * 8)] if v > 0 else _BLOCKS[0] for v in values)


def bar(value: float, top: float, width: int = 30) -> str:
    if top <= 0:
        return ""
    cells = value / top * width
    full = int(cells)
    rest = cells - full
    partial = "▏▎▍▌▋▊▉"[int(rest * 7) - 1] if rest >= 1 / 7 else ""
    return "█" * full + partial


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _usd(value: float) -> str:
    return "$0" if value == 0 else f"${value:.8f}".rstrip("0")


def _since_label(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@click.command()
@click.argument("function", required=False)
@stack_option
@click.option("--since", default="15m", show_default=True, metavar="DURATION",
              help="The window to cover: 90s, 15m, 2h, 1d (at most 15 days).")
@output_option
def metrics(function: str | None, stack_name: str | None, since: str, output: str) -> None:
    """Invocations, errors, throttles, durations and cost per function.

    FUNCTION is a logical id or physical name; without it every deployed function (of
    --stack-name, if given) is shown. Costs use Lambda's published us-east-1 prices.

    \b
    Examples:
      samlite metrics
      samlite metrics HelloWorldFunction --since 1h
      samlite metrics --stack-name my-app --output json
    """
    from samlite import ui
    from samlite.client import connect

    window = parse_since(since)
    data = connect().metrics.summary(function, stack_name, window)
    if output == "json":
        ui.print_json(data)
        return
    render_summary(data)


def render_summary(data: dict[str, Any]) -> None:
    from samlite import ui

    columns = ("function", "stack", "invocations", "errors", "throttles", "p50 ms", "p90 ms", "p99 ms",
               "max conc", "cold", "init avg ms", "GB-s", "cost", "activity")
    rows = []
    for f in data["functions"]:
        d = f["duration_ms"]
        rows.append([f["logical_id"] or f["function"], f["stack"], f["invocations"], f["errors"], f["throttles"],
                     _ms(d["p50"]), _ms(d["p90"]), _ms(d["p99"]), f["concurrent_executions_max"], f["cold_starts"],
                     _ms(f["init_ms"]["avg"]), f"{f['gb_seconds']:.4f}", _usd(f["cost_usd"]),
                     sparkline(f["series"])])
    title = (f"Last {_since_label(data['since_s'])} ({data['bucket_s']:g} s per activity column); "
             f"prices {data['prices']['region']} as of {data['prices']['date']}")
    ui.print_rows(columns, rows, title=title)
    if len(data["stacks"]) > 1 or (data["stacks"] and len(data["functions"]) > 1):
        stack_rows = [[s["stack"] or "-", s["functions"], s["invocations"], s["errors"], s["throttles"],
                       f"{s['gb_seconds']:.4f}", _usd(s["cost_usd"]), sparkline(s["series"])]
                      for s in data["stacks"]]
        ui.out.print()
        ui.print_rows(("stack", "functions", "invocations", "errors", "throttles", "GB-s", "cost", "activity"),
                      stack_rows, title="Per stack")


@click.command()
@click.argument("function")
@stack_option
@click.option("-e", "--event", "event", default=None, metavar="FILE|-",
              help="Event JSON file, or - to read it from stdin (default: {}).")
@click.option("--payload", default=None, metavar="JSON", help="Event JSON given inline.")
@click.option("--memory", default=DEFAULT_MEMORY, show_default=True, metavar="MB,MB,...",
              help="Memory sizes to try (128-10240 MB).")
@click.option("--runs", default=5, show_default=True, type=int, help="Invocations per memory size (1-100).")
@output_option
def tune(function: str, stack_name: str | None, event: str | None, payload: str | None, memory: str, runs: int,
         output: str) -> None:
    """Run FUNCTION at several memory sizes and compare speed and cost (Lambda Power Tuning).

    Each size gets the CPU share Lambda gives it (1,769 MB = one vCPU, proportional), enforced
    with a cgroup cpu quota when this machine allows it. The deployed stack is not changed.

    \b
    Examples:
      samlite tune HelloWorldFunction -e events/event.json
      samlite tune Resize --memory 512,1024,1769 --runs 10 --output json
    """
    from samlite import ui
    from samlite.cli.invoke import read_event
    from samlite.client import connect

    sizes = parse_memory(memory)
    if not 1 <= runs <= 100:
        raise UsageError(f"--runs must be between 1 and 100, not {runs}")
    data = read_event(event, payload)
    client = connect()
    if output != "json":
        ui.info(f"Tuning {function}: {len(set(sizes))} memory sizes x {runs} runs ...")
    result = client.lambdas.tune(function, stack_name, base64.b64encode(data).decode(), sizes, runs,
                                 timeout=max(600.0, len(sizes) * runs * 60.0))
    if output == "json":
        ui.print_json(result)
        return
    render_tune(result)


def render_tune(result: dict[str, Any]) -> None:
    from samlite import ui

    cpu = result["cpu_limit"]
    if not cpu["enforced"]:
        ui.warn(f"CPU share not enforced ({cpu['reason']}): every size ran with this machine's full CPU, "
                "so durations do not fall with memory as on Lambda.")
    top = max((r["duration_ms"]["p50"] for r in result["results"]), default=0.0)
    rows = []
    for r in result["results"]:
        mark = []
        if r["memory_size"] == result["cheapest"]:
            mark.append("cheapest")
        if r["memory_size"] == result["fastest"]:
            mark.append("fastest")
        errors = f"{r['errors']}/{r['runs']}" + (f" {','.join(r['error_types'])}" if r["error_types"] else "")
        rows.append([f"{r['memory_size']} MB", f"{r['vcpu']:.2f}", _ms(r["duration_ms"]["p50"]),
                     _ms(r["init_ms_avg"]), errors, _usd(r["cost_per_invocation_usd"]),
                     f"${r['cost_per_million_usd']:.4f}", bar(r["duration_ms"]["p50"], top), " ".join(mark)])
    title = (f"{result['function']} ({result['architecture']}), {result['runs']} runs per size; "
             f"prices {result['prices']['region']} as of {result['prices']['date']}")
    ui.print_rows(("memory", "vCPU", "p50 ms", "init avg ms", "errors", "cost/invocation", "cost/1M",
                   "p50 duration", ""), rows, title=title)
    by_size = {r["memory_size"]: r for r in result["results"]}
    if result["cheapest"] is not None:
        c = by_size[result["cheapest"]]
        f = by_size[result["fastest"]]
        ui.out.print(f"Cheapest: {c['memory_size']} MB (${c['cost_per_million_usd']:.4f} per 1M invocations, "
                     f"p50 {c['duration_ms']['p50']:.2f} ms)")
        ui.out.print(f"Fastest:  {f['memory_size']} MB (p50 {f['duration_ms']['p50']:.2f} ms, "
                     f"${f['cost_per_million_usd']:.4f} per 1M invocations)")
    else:
        ui.warn("every run failed at every size; see `samlite logs` for the errors.")

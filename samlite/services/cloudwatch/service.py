"""Invocation metrics and cost: aggregates over the `metrics` table the invoke service fills.

Every invocation (and every throttle) adds one row (`core/invoke.py`). This module turns the
rows of a time window into what CloudWatch's AWS/Lambda namespace shows (Invocations, Errors,
Throttles, Duration percentiles, ConcurrentExecutions) plus cold starts, Init Duration and the
bill (`samlite.pricing`). Rows written by `samlite tune` (source "tune") are experiments, not
traffic, and are left out. `samlite tune` itself lives in `services/lambda_/tuning.py`.

Percentiles use the nearest-rank method (the smallest value with at least p% of the values at
or below it), so p99 of 10 samples is the maximum, as CloudWatch reports it.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from samlite import pricing
from samlite.errors import UsageError

if TYPE_CHECKING:
    from samlite.core.invoke import InvokeService
    from samlite.core.stacks import StackCatalog
    from samlite.core.store import Store

MAX_WINDOW_S = 15 * 24 * 3600  # CloudWatch keeps 1-minute data points for 15 days
DEFAULT_BUCKETS = 30
PURGE_BATCH = 2_000  # rows deleted per statement by the sweep: a short write on the engine's loop
TUNE_SOURCE = "tune"

_COLUMNS = ("function_name, stack, timestamp_ms, duration_ms, billed_ms, memory_size, init_ms, cold, error,"
            " throttled, concurrency, architecture")


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of `values` (None when empty).

    >>> percentile([1, 2, 3, 4], 50)
    2
    >>> percentile([5.0], 99)
    5.0
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Aggregate:
    """The figures of one function (or a stack, or everything) over one window."""

    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0
    concurrency_max: int = 0
    billed_ms: int = 0
    gb_seconds: float = 0.0
    duration_cost: float = 0.0
    durations: list[float] = field(default_factory=list)
    inits: list[float] = field(default_factory=list)
    series: list[int] = field(default_factory=list)

    def add(self, row: Any, bucket: int | None) -> None:
        if row["throttled"]:
            self.throttles += 1
            return
        self.invocations += 1
        if bucket is not None and 0 <= bucket < len(self.series):
            self.series[bucket] += 1
        if row["error"] is not None:
            self.errors += 1
        if row["cold"]:
            self.cold_starts += 1
            if row["init_ms"] is not None:
                self.inits.append(float(row["init_ms"]))
        self.concurrency_max = max(self.concurrency_max, int(row["concurrency"] or 0))
        self.durations.append(float(row["duration_ms"]))
        billed = int(row["billed_ms"] or 0)
        self.billed_ms += billed
        memory = int(row["memory_size"])
        if pricing.MIN_MEMORY_MB <= memory <= pricing.MAX_MEMORY_MB:
            gbs = pricing.gb_seconds(memory, billed)
            self.gb_seconds += gbs
            arch = row["architecture"] if row["architecture"] in pricing.GB_SECOND_PRICE else "x86_64"
            self.duration_cost += gbs * pricing.GB_SECOND_PRICE[arch]

    def merge(self, other: "Aggregate") -> None:
        self.invocations += other.invocations
        self.errors += other.errors
        self.throttles += other.throttles
        self.cold_starts += other.cold_starts
        self.concurrency_max = max(self.concurrency_max, other.concurrency_max)
        self.billed_ms += other.billed_ms
        self.gb_seconds += other.gb_seconds
        self.duration_cost += other.duration_cost
        self.durations.extend(other.durations)
        self.inits.extend(other.inits)
        if not self.series:
            self.series = [0] * len(other.series)
        self.series = [a + b for a, b in zip(self.series, other.series, strict=False)]

    def to_dict(self) -> dict[str, Any]:
        d = self.durations
        cost = pricing.request_cost(self.invocations) + self.duration_cost
        return {
            "invocations": self.invocations,
            "errors": self.errors,
            "throttles": self.throttles,
            "error_rate": round(self.errors / self.invocations, 6) if self.invocations else 0.0,
            "duration_ms": {
                "p50": _r(percentile(d, 50)), "p90": _r(percentile(d, 90)), "p99": _r(percentile(d, 99)),
                "avg": _r(sum(d) / len(d)) if d else None, "max": _r(max(d)) if d else None,
            },
            "concurrent_executions_max": self.concurrency_max,
            "cold_starts": self.cold_starts,
            "init_ms": {"avg": _r(sum(self.inits) / len(self.inits)) if self.inits else None,
                        "p99": _r(percentile(self.inits, 99))},
            "billed_ms": self.billed_ms,
            "gb_seconds": round(self.gb_seconds, 9),
            "cost_usd": round(cost, 12),
            "series": list(self.series),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def aggregate(rows: Iterable[Any], start_ms: int, end_ms: int,
              buckets: int = DEFAULT_BUCKETS) -> dict[str, Aggregate]:
    """Per-function aggregates of metric rows in [start_ms, end_ms], with an invocation series."""
    span = max(1, end_ms - start_ms)
    out: dict[str, Aggregate] = {}
    for row in rows:
        agg = out.get(row["function_name"])
        if agg is None:
            agg = out[row["function_name"]] = Aggregate(series=[0] * buckets)
        bucket = min(buckets - 1, (int(row["timestamp_ms"]) - start_ms) * buckets // span) if buckets else None
        agg.add(row, bucket)
    return out


def check_window(since_s: Any) -> float:
    """A positive window in seconds, at most 15 days; UsageError otherwise."""
    if isinstance(since_s, bool) or not isinstance(since_s, (int, float)) or not math.isfinite(since_s):
        raise UsageError(f"the time window must be a number of seconds, not {since_s!r}")
    if not 0 < since_s <= MAX_WINDOW_S:
        raise UsageError(f"the time window must be between 1 second and 15 days, not {since_s} s",
                         hint="Use e.g. --since 90s, 15m, 2h or 1d.")
    return float(since_s)


class MetricsService:
    def __init__(self, store: "Store", catalog: "StackCatalog", invoker: "InvokeService") -> None:
        self.store = store
        self.catalog = catalog
        self.invoker = invoker

    # --- reading -----------------------------------------------------------------------------
    def _flush(self) -> None:
        # Rows are buffered for up to ~50 ms; a summary must include the invocations that just
        # returned (read-your-writes for `samlite invoke` followed by `samlite metrics`).
        self.invoker.recorder.flush()

    def _functions(self, function: str | None, stack: str | None) -> list[dict[str, Any]]:
        if function:
            return [self.catalog.function(function, stack)]
        store = self.store
        if stack:
            self.catalog.require(stack)
            rows = store.query("SELECT name, stack, logical_id FROM functions WHERE stack = ? ORDER BY stack, name",
                               (stack,))
        else:
            rows = store.query("SELECT name, stack, logical_id FROM functions ORDER BY stack, name")
        return [{"name": r["name"], "stack": r["stack"], "logical_id": r["logical_id"]} for r in rows]

    def rows(self, names: Sequence[str], start_ms: int, end_ms: int, include_tune: bool = False,
             flush: bool = True) -> list[Any]:
        """Metric rows of these functions in [start_ms, end_ms] (tune experiments left out).
        `flush=False` off the loop: the caller flushed there (the flush writes)."""
        if not names:
            return []
        if flush:
            self._flush()
        marks = ",".join("?" * len(names))
        sql = (f"SELECT {_COLUMNS} FROM metrics WHERE function_name IN ({marks})"
               " AND timestamp_ms >= ? AND timestamp_ms <= ?")
        params: list[Any] = [*names, start_ms, end_ms]
        if not include_tune:
            sql += " AND source != ?"
            params.append(TUNE_SOURCE)
        return self.store.query(sql + " ORDER BY timestamp_ms", params)

    # --- the sweep ---------------------------------------------------------------------------
    async def sweep(self, max_rows: int, now_ms: int | None = None) -> int:
        """Delete rows older than the 15 days anything reads, then the oldest beyond `max_rows`
        (0: no cap), in short batches. Returns how many were deleted."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        cutoff = now_ms - MAX_WINDOW_S * 1000
        top = self.store.scalar("SELECT MAX(id) FROM metrics") or 0
        beyond = top - max_rows if max_rows > 0 else 0  # ids at or below are over the cap
        deleted = 0
        while True:
            # Rows are appended in time order: what goes has the lowest ids, so each batch reads
            # only the oldest rows.
            rows = self.store.query("SELECT id, timestamp_ms FROM metrics ORDER BY id LIMIT ?", (PURGE_BATCH,))
            doomed = [r["id"] for r in rows if r["id"] <= beyond or r["timestamp_ms"] < cutoff]
            if not doomed:
                return deleted
            with self.store.transaction() as db:
                deleted += db.execute("DELETE FROM metrics WHERE id <= ? AND (id <= ? OR timestamp_ms < ?)",
                                      (doomed[-1], beyond, cutoff)).rowcount
            if len(rows) < PURGE_BATCH:
                return deleted
            await asyncio.sleep(0)

    # --- control surface ---------------------------------------------------------------------
    async def cli_summary(self, function: str | None = None, stack: str | None = None, since_s: float = 900,
                          buckets: int = DEFAULT_BUCKETS) -> dict[str, Any]:
        """Per-function and per-stack figures over the last `since_s` seconds (`samlite metrics`).
        The rows are read and aggregated off the loop, on a read-only connection."""
        window = check_window(since_s)
        if isinstance(buckets, bool) or not isinstance(buckets, int) or not 1 <= buckets <= 120:
            raise UsageError("buckets must be an integer between 1 and 120")
        end_ms = int(time.time() * 1000)
        start_ms = end_ms - int(window * 1000)
        functions = self._functions(function, stack)
        confs = {f["name"]: self._config(f["name"]) for f in functions}
        self._flush()
        names = [f["name"] for f in functions]
        aggs = await asyncio.to_thread(
            lambda: aggregate(self.rows(names, start_ms, end_ms, flush=False), start_ms, end_ms, buckets))
        return self._summary(window, start_ms, end_ms, buckets, functions, confs, aggs)

    def _summary(self, window: float, start_ms: int, end_ms: int, buckets: int, functions: list[dict[str, Any]],
                 confs: dict[str, dict[str, Any]], aggs: dict[str, Aggregate]) -> dict[str, Any]:
        per_function = []
        per_stack: dict[str, Aggregate] = {}
        total = Aggregate(series=[0] * buckets)
        for f in functions:
            agg = aggs.get(f["name"]) or Aggregate(series=[0] * buckets)
            per_function.append({"function": f["name"], "stack": f["stack"], "logical_id": f["logical_id"],
                                 **confs[f["name"]], **agg.to_dict()})
            per_stack.setdefault(f["stack"] or "", Aggregate(series=[0] * buckets)).merge(agg)
            total.merge(agg)
        return {
            "since_s": window,
            "start_ms": start_ms,
            "end_ms": end_ms,
            "bucket_s": round(window / buckets, 3),
            "prices": {"date": pricing.PRICES_DATE, "region": pricing.PRICES_REGION,
                       "request_per_million_usd": pricing.REQUEST_PRICE_PER_MILLION,
                       "gb_second_usd": dict(pricing.GB_SECOND_PRICE)},
            "functions": per_function,
            "stacks": [{"stack": name or None, "functions": sum(1 for f in functions if (f["stack"] or "") == name),
                        **agg.to_dict()} for name, agg in per_stack.items()],
            "total": total.to_dict(),
        }

    def _config(self, name: str) -> dict[str, Any]:
        spec = self.invoker.functions.get(name)
        if spec is None:
            return {"memory_size": None, "architecture": None}
        return {"memory_size": spec.memory_size, "architecture": spec.architecture,
                "reserved_concurrency": spec.reserved_concurrency}


# --- CloudWatch AWS/Lambda view (services/cloudwatch/api.py) ---------------------------------------

# metric name -> (unit, value of one row or None when the row does not count)
LAMBDA_METRICS: dict[str, str] = {
    "Invocations": "Count", "Errors": "Count", "Throttles": "Count", "Duration": "Milliseconds",
    "ConcurrentExecutions": "Count",
}


def _metric_value(metric: str, row: Any) -> float | None:
    throttled = bool(row["throttled"])
    if metric == "Throttles":
        return 1.0 if throttled else None
    if throttled:
        return None
    if metric == "Invocations":
        return 1.0
    if metric == "Errors":
        return 1.0 if row["error"] is not None else None
    if metric == "Duration":
        return float(row["duration_ms"])
    if metric == "ConcurrentExecutions":
        return float(row["concurrency"] or 0)
    return None


def samples(service: MetricsService, metric: str, function_name: str | None, start_ms: int, end_ms: int,
            period_s: int) -> dict[int, list[float]]:
    """Values of one AWS/Lambda metric grouped by period start (epoch seconds), [start, end)."""
    if metric not in LAMBDA_METRICS:
        return {}
    if function_name:
        names = [function_name]
    else:
        names = [r["function_name"] for r in service.store.query(
            "SELECT DISTINCT function_name FROM metrics WHERE timestamp_ms >= ? AND timestamp_ms < ?",
            (start_ms, end_ms))]
    out: dict[int, list[float]] = {}
    period_ms = period_s * 1000
    for row in service.rows(names, start_ms, max(start_ms, end_ms - 1)):
        value = _metric_value(metric, row)
        if value is None:
            continue
        bucket = start_ms + (int(row["timestamp_ms"]) - start_ms) // period_ms * period_ms
        out.setdefault(bucket // 1000, []).append(value)
    return out

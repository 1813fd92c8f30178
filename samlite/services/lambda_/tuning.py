"""`samlite tune`: the Lambda Power Tuning idea, run locally against a deployed function.

For each memory size the deployed FunctionSpec is copied with that MemorySize and a distinct
code_sha (so its environments never mix with the real ones), and invoked `runs` times through
the one invocation path (`InvokeService.run`, source "tune"). Lambda gives a function CPU in
proportion to its memory (1,769 MB = one vCPU), so each new tune environment is moved into a
cgroup v1 cpu group with `cpu.cfs_quota_us = period x memory / 1769` as soon as its pid is known
(`Workers.spawn_hooks`). Without a writable cpu controller the runs still happen, at the
machine's full speed, and the result says so.

The copies' environments are never kept warm (the invoke service keeps only environments of the
function's current code), so each run is a cold start: Duration excludes Init, and the cost
uses the warm bill (ceil(Duration)); Init Duration is reported on its own. A new environment
for the copy also retires the function's idle warm ones (same pool), so the next real
invocation after a tune starts cold.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samlite import pricing
from samlite.errors import SamliteError, UsageError
from samlite.services.cloudwatch.service import percentile

if TYPE_CHECKING:
    from samlite.core.invoke import InvokeService, TooManyRequests
    from samlite.core.runtime.workers import Environment
    from samlite.core.stacks import StackCatalog

log = logging.getLogger("samlite.engine")

CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")
# 20 ms, not the kernel's default 100 ms: with a long period a handler shorter than its quota
# runs unthrottled (a 30 ms handler at 1,024 MB would not slow down at all). A 20 ms period is
# what measurements of Lambda's own throttling show (emulator choice).
CFS_PERIOD_US = 20_000
MIN_QUOTA_US = 1_000
DEFAULT_SIZES = (128, 256, 512, 1024, 1769, 3008)
MAX_SIZES = 16
MAX_RUNS = 100


def quota_us(memory_mb: int, period_us: int = CFS_PERIOD_US) -> int:
    """CFS quota giving `memory_mb` its Lambda CPU share: period x memory / 1769, at least 1 ms."""
    return max(MIN_QUOTA_US, round(period_us * memory_mb / pricing.MB_PER_VCPU))


class CpuGroups:
    """cgroup v1 cpu groups under <cpu>/samlite/, one per memory size of a tune run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[Path] = []

    @classmethod
    def probe(cls, base: Path = CGROUP_V1_CPU) -> tuple["CpuGroups | None", str]:
        """(groups, "") when we may create cpu groups with a CFS quota, else (None, why not)."""
        if not (base / "cpu.cfs_quota_us").exists():
            return None, f"no cgroup v1 cpu controller at {base}"
        root = base / "samlite"
        probe = root / f"probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            root.mkdir(exist_ok=True)
            probe.mkdir()
            try:
                (probe / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
                (probe / "cpu.cfs_quota_us").write_text(str(MIN_QUOTA_US))
            finally:
                probe.rmdir()
        except OSError as exc:
            return None, f"cannot create cpu cgroups under {root}: {exc.strerror or exc}"
        return cls(root), ""

    def create(self, memory_mb: int) -> Path:
        group = self.root / f"tune-{os.getpid()}-{uuid.uuid4().hex[:8]}-{memory_mb}"
        group.mkdir()
        self.made.append(group)
        (group / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota_us(memory_mb)))
        return group

    async def remove_all(self, wait_s: float = 3.0) -> None:
        """rmdir each group once its (killed) workers have left it."""
        deadline = time.monotonic() + wait_s
        for group in self.made:
            while True:
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        log.warning("could not remove cpu cgroup %s (workers still in it)", group)
                        break
                    await asyncio.sleep(0.02)
        self.made.clear()


def check_sizes(memory_sizes: Any) -> list[int]:
    """Distinct memory sizes, ascending; each an integer in 128-10,240 MB."""
    if memory_sizes is None:
        return list(DEFAULT_SIZES)
    if not isinstance(memory_sizes, (list, tuple)) or not memory_sizes:
        raise UsageError("give at least one memory size, e.g. --memory 128,512,1769")
    sizes: list[int] = []
    for value in memory_sizes:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"memory size {value!r} is not a whole number of MB")
        if not pricing.MIN_MEMORY_MB <= value <= pricing.MAX_MEMORY_MB:
            raise UsageError(f"memory size {value} MB is outside Lambda's range "
                             f"{pricing.MIN_MEMORY_MB}-{pricing.MAX_MEMORY_MB} MB")
        sizes.append(value)
    sizes = sorted(set(sizes))
    if len(sizes) > MAX_SIZES:
        raise UsageError(f"at most {MAX_SIZES} memory sizes per tune run, not {len(sizes)}")
    return sizes


def check_runs(runs: Any) -> int:
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise UsageError(f"--runs must be a whole number between 1 and {MAX_RUNS}, not {runs!r}")
    return runs


def _payload(payload_b64: str) -> bytes:
    try:
        payload = base64.b64decode(payload_b64 or "", validate=True)
    except binascii.Error:
        raise UsageError("the event must be base64 (internal: samlite tune sent a bad request)") from None
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload)
    except ValueError as exc:
        raise UsageError(f"the event is not valid JSON: {exc}") from None
    return payload


async def tune(catalog: "StackCatalog", invoker: "InvokeService", function: str, stack: str | None, payload_b64: str, memory_sizes: Any,
               runs: Any) -> dict[str, Any]:
    """Invoke `function` `runs` times at each memory size; durations, costs, cheapest and fastest."""
    from samlite.core.invoke import TooManyRequests

    sizes = check_sizes(memory_sizes)
    runs = check_runs(runs)
    payload = _payload(payload_b64)
    name = catalog.function(function, stack)["name"]
    spec = invoker.functions.get(name)
    if spec is None:
        raise SamliteError(f"function {name} is deployed but not loaded in the engine",
                           hint="Redeploy the stack.")
    groups, why_not = CpuGroups.probe()
    by_sha: dict[str, Path] = {}

    def place(env: "Environment") -> None:
        # Runs right after the worker exists, before its init is awaited: init is throttled too.
        group = by_sha.get(env.spec.code_sha)
        if group is not None and env.pid is not None:
            (group / "cgroup.procs").write_text(str(env.pid))

    workers = invoker.workers
    workers.spawn_hooks.append(place)
    results: list[dict[str, Any]] = []
    try:
        for memory in sizes:
            copy = dataclasses.replace(spec, memory_size=memory, code_sha=f"{spec.code_sha}-tune{memory}")
            if groups is not None:
                by_sha[copy.code_sha] = groups.create(memory)
            results.append(await _measure(invoker, copy, payload, runs, TooManyRequests))
    finally:
        workers.spawn_hooks.remove(place)
        # The copies' environments are killed after each run; this sweeps any straggler without
        # touching the real ones (it keeps environments of the current code_sha).
        current = invoker.functions.get(name)
        workers.retire(name, current.code_sha if current else spec.code_sha)
        if groups is not None:
            await groups.remove_all()
    ok = [r for r in results if r["errors"] < r["runs"]]
    cheapest = min(ok, key=lambda r: (r["cost_per_invocation_usd"], r["duration_ms"]["p50"]), default=None)
    fastest = min(ok, key=lambda r: (r["duration_ms"]["p50"], r["cost_per_invocation_usd"]), default=None)
    return {
        "function": name,
        "stack": spec.stack,
        "architecture": spec.architecture,
        "deployed_memory_size": spec.memory_size,
        "runs": runs,
        "cpu_limit": {
            "enforced": groups is not None,
            "mechanism": "cgroup v1 cpu.cfs_quota_us" if groups is not None else None,
            "period_us": CFS_PERIOD_US,
            "reason": why_not or None,
        },
        "prices": {"date": pricing.PRICES_DATE, "region": pricing.PRICES_REGION},
        "results": results,
        "cheapest": cheapest["memory_size"] if cheapest else None,
        "fastest": fastest["memory_size"] if fastest else None,
    }


async def _measure(invoker: "InvokeService", spec: Any, payload: bytes, runs: int,
                   throttled: type[TooManyRequests]) -> dict[str, Any]:
    durations: list[float] = []
    billed: list[int] = []
    inits: list[float] = []
    errors: dict[str, int] = {}
    max_memory = 0
    for _ in range(runs):
        try:
            result = await invoker.run(spec, payload, str(uuid.uuid4()), source="tune")
        except throttled as exc:
            raise SamliteError(f"function {spec.name} was throttled ({exc.reason}); tune cannot run it",
                               hint="Reserved concurrency 0 throttles every invocation; raise it first.") from None
        if result.error_type:
            errors[result.error_type] = errors.get(result.error_type, 0) + 1
        durations.append(result.duration_ms)
        billed.append(pricing.billed_ms(result.duration_ms))  # the warm bill: Init is reported apart
        if result.init_ms is not None:
            inits.append(result.init_ms)
        max_memory = max(max_memory, result.max_memory_mb)
    avg_billed = sum(billed) / len(billed)
    cost = pricing.request_cost(1) + pricing.gb_seconds(spec.memory_size, 1) * avg_billed * \
        pricing.GB_SECOND_PRICE.get(spec.architecture, pricing.GB_SECOND_PRICE["x86_64"])
    return {
        "memory_size": spec.memory_size,
        "vcpu": round(pricing.vcpu_share(spec.memory_size), 4),
        "cpu_quota_us": quota_us(spec.memory_size),
        "runs": runs,
        "errors": sum(errors.values()),
        "error_types": errors,
        "duration_ms": {"p50": round(percentile(durations, 50) or 0.0, 3),
                        "avg": round(sum(durations) / len(durations), 3),
                        "min": round(min(durations), 3), "max": round(max(durations), 3)},
        "billed_ms_total": sum(billed),
        "billed_ms_avg": round(avg_billed, 3),
        "init_ms_avg": round(sum(inits) / len(inits), 3) if inits else None,
        "max_memory_mb": max_memory,
        "cost_per_invocation_usd": cost,
        "cost_per_million_usd": round(pricing.per_million(cost), 6),
    }

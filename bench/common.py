"""Shared bits of the benchmark suite: result rows, percentiles, a table printer, a temp engine."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[1]
PYCACHE = Path.home() / ".cache" / "samlite-bench" / "pycache"


def cache_bytecode_like_an_install() -> None:
    """Let every process the bench starts cache its bytecode, as an installed package does.

    This environment sets PYTHONDONTWRITEBYTECODE=1, so each `samlite ...` process would recompile
    samlite's sources (~30-50 ms) while the peers' site-packages already hold .pyc files. The
    bytecode goes to a private prefix, so nothing is written into the repository.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(PYCACHE))


cache_bytecode_like_an_install()  # at import: every bench script imports this module first


@dataclass
class Row:
    figure: str
    result: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    peer: str = ""
    peer_result: float | None = None
    ratio: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: cores, Python, architecture, load average when sampled."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"cores": os.cpu_count(), "python": platform.python_version(), "arch": platform.machine(),
            "system": f"{platform.system()} {platform.release()}", "loadavg": load,
            "bytecode_cache": os.environ.get("PYTHONPYCACHEPREFIX", "default")}


def ms_ok(value: float | None, limit: float) -> bool | None:
    """`met` for a figure with an upper bound (None when nothing was measured)."""
    return None if value is None else value <= limit


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def setup_path() -> None:
    """Make `bench.*` importable when a script is run as `python bench/bench_x.py`."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def print_table(rows: list[Row], title: str = "") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None, title_justify="left", header_style="bold")
    for col in ("figure", "samlite", "target", "met", "peer", "peer result", "ratio", "note"):
        table.add_column(col, overflow="fold")
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "NO")
        table.add_row(r.figure, fmt(r.result, r.unit), r.target, met, r.peer,
                      fmt(r.peer_result, r.unit) if r.peer else "", r.ratio, r.note)
    Console(width=200).print(table)


def temp_engine_env() -> dict[str, str]:
    home = tempfile.mkdtemp(prefix="samlite-bench-")
    return {**os.environ, "SAMLITE_HOME": home, "SAMLITE_GATEWAY_PORT": "0", "SAMLITE_AWS_PORT": "0",
            "AWS_ACCESS_KEY_ID": "samlite", "AWS_SECRET_ACCESS_KEY": "samlite-secret",
            "AWS_DEFAULT_REGION": "us-east-1"}


def samlite_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "samlite", *args]


async def warm_and_cold(svc: Any, functions: dict[str, Any], spec: Any, warm_n: int, cold_n: int,
                        warmup: int) -> tuple[dict[str, float], Any]:
    """Warm p50/p99 of `run()` on one environment, then cold starts (a new code_sha each time).

    Returns the figures in ms (plus the warm worker's RSS in MB) and the last spec used."""
    import json
    import time
    from dataclasses import replace

    first = await svc.invoke(spec.name, b"{}")
    assert first.function_error is None, first.payload
    pid = json.loads(first.payload)["pid"]
    for _ in range(warmup):
        await svc.run(spec, b"{}", "warmup", source="bench")
    times = []
    for _ in range(warm_n):
        t = time.perf_counter()
        result = await svc.run(spec, b'{"k": 1}', "r", source="bench")
        times.append(time.perf_counter() - t)
    assert result.function_error is None and json.loads(result.payload)["pid"] == pid
    out = {"warm_p50": pct(times, 0.5) * 1000, "warm_p99": pct(times, 0.99) * 1000, "rss": vm_rss_mb(pid)}
    times, init = [], []
    for i in range(cold_n):
        spec = replace(spec, code_sha=str(i + 1))
        functions[spec.name] = spec
        svc.retire(spec.name)
        t = time.perf_counter()
        result = await svc.run(spec, b"{}", "c", source="bench")
        times.append(time.perf_counter() - t)
        assert result.cold and result.function_error is None, result
        init.append(result.init_ms or 0.0)
    out["cold_p50"] = pct(times, 0.5) * 1000
    out["init_p50"] = statistics.median(init)
    return out, spec

"""AWS Lambda's published on-demand prices (us-east-1) and the cost arithmetic built on them.

Pure functions, no I/O: `samlite metrics` and `samlite tune` price what the engine measured
with them. Prices are those of https://aws.amazon.com/lambda/pricing/ as of PRICES_DATE (first
pricing tier; the cheaper tiers above 6 B / 7.5 B GB-s a month and the free tier are left out on
purpose: a per-invocation figure should not depend on a month's volume).

Billing model:
- every request costs REQUEST_PRICE_PER_MILLION / 1,000,000;
- duration is billed in 1 ms steps, rounded up (100 ms before Dec 2020); since 1 Aug 2025 the
  INIT phase of a cold start is billed too, so a cold start bills ceil(init + duration);
- GB-seconds = MemorySize / 1024 x billed seconds, priced per architecture.
"""

from __future__ import annotations

import math

PRICES_DATE = "2025-08-01"
PRICES_REGION = "us-east-1"
REQUEST_PRICE_PER_MILLION = 0.20
# USD per GB-second, first tier (x86: first 6 B GB-s a month; arm64: first 7.5 B).
GB_SECOND_PRICE: dict[str, float] = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10_240
# CPU share proportional to memory: 1,769 MB = one vCPU.
MB_PER_VCPU = 1769


def _check_memory(memory_mb: int) -> None:
    if not MIN_MEMORY_MB <= memory_mb <= MAX_MEMORY_MB:
        raise ValueError(f"memory size {memory_mb} MB is outside {MIN_MEMORY_MB}-{MAX_MEMORY_MB} MB")


def _price(architecture: str) -> float:
    try:
        return GB_SECOND_PRICE[architecture]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r} (x86_64 or arm64)") from None


def billed_ms(duration_ms: float, init_ms: float | None = None) -> int:
    """Billed Duration: ceil(duration + init) in whole ms, at least 1 ms.

    >>> billed_ms(2.01)
    3
    >>> billed_ms(2.75, init_ms=139.18)
    142
    """
    if duration_ms < 0 or (init_ms is not None and init_ms < 0):
        raise ValueError("durations cannot be negative")
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))


def gb_seconds(memory_mb: int, billed: int) -> float:
    """GB-seconds of one invocation: MemorySize/1024 x billed milliseconds/1000.

    >>> gb_seconds(1024, 1000)
    1.0
    >>> gb_seconds(128, 100)
    0.0125
    """
    _check_memory(memory_mb)
    if billed < 0:
        raise ValueError("billed milliseconds cannot be negative")
    return memory_mb / 1024 * billed / 1000


def duration_cost(memory_mb: int, billed: int, architecture: str = "x86_64") -> float:
    """USD for the compute time of one invocation (no request charge)."""
    return gb_seconds(memory_mb, billed) * _price(architecture)


def request_cost(requests: int = 1) -> float:
    """USD for `requests` requests ($0.20 per million)."""
    if requests < 0:
        raise ValueError("request count cannot be negative")
    return requests * REQUEST_PRICE_PER_MILLION / 1_000_000


def invocation_cost(memory_mb: int, billed: int, architecture: str = "x86_64") -> float:
    """USD for one invocation: its request plus its billed duration."""
    return request_cost(1) + duration_cost(memory_mb, billed, architecture)


def total_cost(requests: int, total_gb_seconds: float, architecture: str = "x86_64") -> float:
    """USD for `requests` invocations that used `total_gb_seconds` between them."""
    if total_gb_seconds < 0:
        raise ValueError("GB-seconds cannot be negative")
    return request_cost(requests) + total_gb_seconds * _price(architecture)


def per_million(cost_per_invocation: float) -> float:
    """The cost of one million invocations that each cost `cost_per_invocation`."""
    return cost_per_invocation * 1_000_000


def vcpu_share(memory_mb: int) -> float:
    """The CPU Lambda allocates to a memory size, in vCPUs (1,769 MB = 1 vCPU, proportional)."""
    _check_memory(memory_mb)
    return memory_mb / MB_PER_VCPU

"""Cost arithmetic against hand-computed values (prices of samlite.pricing, us-east-1)."""

from __future__ import annotations

import pytest

from samlite import pricing


def test_published_prices() -> None:
    assert pricing.REQUEST_PRICE_PER_MILLION == 0.20
    assert pricing.GB_SECOND_PRICE == {"x86_64": 0.0000166667, "arm64": 0.0000133334}
    assert pricing.PRICES_DATE and pricing.PRICES_REGION == "us-east-1"


@pytest.mark.parametrize(("duration", "init", "billed"), [
    (100.0, None, 100),
    (100.0001, None, 101),   # 1 ms granularity: any fraction rounds up
    (2.01, None, 3),
    (0.2, None, 1),          # never less than 1 ms
    (0.0, None, 1),
    (2.75, 139.18, 142),     # a cold start bills init + duration (since Aug 2025): ceil(141.93)
    (1.0, 1.0, 2),
])
def test_billed_ms_rounds_up_to_1ms(duration: float, init: float | None, billed: int) -> None:
    assert pricing.billed_ms(duration, init) == billed


def test_gb_seconds() -> None:
    assert pricing.gb_seconds(1024, 1000) == 1.0
    assert pricing.gb_seconds(128, 100) == 0.0125          # 0.125 GB x 0.1 s
    assert pricing.gb_seconds(1769, 60) == pytest.approx(0.10365234375)  # 1769/1024 x 0.06


def test_x86_invocation_cost_128mb_100ms() -> None:
    # 0.0125 GB-s x $0.0000166667 = $0.000000208333750; + $0.0000002 request
    assert pricing.duration_cost(128, 100) == pytest.approx(2.0833375e-7, rel=1e-12)
    assert pricing.invocation_cost(128, 100) == pytest.approx(4.0833375e-7, rel=1e-12)
    assert pricing.per_million(pricing.invocation_cost(128, 100)) == pytest.approx(0.40833375, rel=1e-12)


def test_arm64_is_cheaper_per_gb_second() -> None:
    # 1 GB-s x $0.0000133334 + $0.0000002
    assert pricing.invocation_cost(1024, 1000, "arm64") == pytest.approx(1.35334e-5, rel=1e-12)
    assert pricing.invocation_cost(1024, 1000, "x86_64") == pytest.approx(1.68667e-5, rel=1e-12)


def test_rounding_changes_the_cost() -> None:
    # 3008 MB for 10.2 ms bills 11 ms: 3008/1024 x 0.011 = 0.0323125 GB-s x $0.0000166667
    billed = pricing.billed_ms(10.2)
    assert billed == 11
    assert pricing.duration_cost(3008, billed) == pytest.approx(0.0323125 * 0.0000166667, rel=1e-12)
    assert pricing.duration_cost(3008, billed) == pytest.approx(5.385427e-7, rel=1e-6)


def test_total_cost() -> None:
    # 1 M requests using 400,000 GB-s on x86: $0.20 + 400000 x $0.0000166667 = $6.86668
    assert pricing.total_cost(1_000_000, 400_000.0) == pytest.approx(6.86668, rel=1e-12)
    assert pricing.request_cost(5) == pytest.approx(1e-6)


def test_vcpu_share() -> None:
    assert pricing.vcpu_share(1769) == 1.0
    assert pricing.vcpu_share(128) == pytest.approx(0.0723572639)


@pytest.mark.parametrize("call", [
    lambda: pricing.gb_seconds(127, 10),
    lambda: pricing.gb_seconds(10_241, 10),
    lambda: pricing.gb_seconds(128, -1),
    lambda: pricing.duration_cost(128, 10, "sparc"),
    lambda: pricing.billed_ms(-1.0),
    lambda: pricing.request_cost(-1),
    lambda: pricing.total_cost(1, -0.5),
])
def test_bad_input_is_rejected(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]

"""AWS schedule expressions with fixed clocks (rate, six-field cron with ?, L, W, #, years, at,
time zones across DST), and EventBridge's Input/InputPath/InputTransformer."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from samlite.core import filters
from samlite.services.events import cron, transform

UTC = timezone.utc


def _next(expression: str, after: datetime, tz: str | None = None, count: int = 3, **kw: bool) -> list[str]:
    schedule = cron.parse(expression, tz, **kw)
    out, when = [], after
    for _ in range(count):
        nxt = schedule.next_after(when, after)
        if nxt is None:
            break
        out.append(nxt.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
        when = nxt
    return out


@pytest.mark.parametrize("expression, expected", [
    ("rate(1 minute)", ["2024-03-01 00:01", "2024-03-01 00:02", "2024-03-01 00:03"]),
    ("rate(2 hours)", ["2024-03-01 02:00", "2024-03-01 04:00", "2024-03-01 06:00"]),
    ("cron(0/15 * * * ? *)", ["2024-03-01 00:15", "2024-03-01 00:30", "2024-03-01 00:45"]),
    ("cron(15 10 ? * MON-FRI *)", ["2024-03-01 10:15", "2024-03-04 10:15", "2024-03-05 10:15"]),
    ("cron(0 8 ? * 2-6 *)", ["2024-03-01 08:00", "2024-03-04 08:00", "2024-03-05 08:00"]),  # 1 = SUN
    ("cron(0 9 ? * 1 *)", ["2024-03-03 09:00", "2024-03-10 09:00", "2024-03-17 09:00"]),  # Sundays
    ("cron(0 10 L * ? *)", ["2024-03-31 10:00", "2024-04-30 10:00", "2024-05-31 10:00"]),
    ("cron(0 10 LW * ? *)", ["2024-03-29 10:00", "2024-04-30 10:00", "2024-05-31 10:00"]),
    ("cron(0 10 15W * ? *)", ["2024-03-15 10:00", "2024-04-15 10:00", "2024-05-15 10:00"]),
    ("cron(0 10 ? * 6L *)", ["2024-03-29 10:00", "2024-04-26 10:00", "2024-05-31 10:00"]),  # last Friday
    ("cron(0 12 ? * 2#1 *)", ["2024-03-04 12:00", "2024-04-01 12:00", "2024-05-06 12:00"]),  # first Monday
    ("cron(0 8 1 JAN,JUL ? 2025-2026)", ["2025-01-01 08:00", "2025-07-01 08:00", "2026-01-01 08:00"]),
    ("cron(0 8 1 1 ? 2024)", []),  # that year's only firing is past
])
def test_next_fire_times_in_utc(expression: str, expected: list[str]) -> None:
    assert _next(expression, datetime(2024, 3, 1, tzinfo=UTC)) == expected


def test_cron_in_a_time_zone_follows_daylight_saving() -> None:
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC after the switch on 2024-03-10.
    assert _next("cron(0 9 * * ? *)", datetime(2024, 3, 8, 15, tzinfo=UTC), "America/New_York") == [
        "2024-03-09 14:00", "2024-03-10 13:00", "2024-03-11 13:00"]
    # 02:30 does not exist on the day of the switch: it runs at the next valid time.
    assert _next("cron(30 2 * * ? *)", datetime(2024, 3, 9, 12, tzinfo=UTC), "America/New_York", 2) == [
        "2024-03-10 07:00", "2024-03-11 06:30"]


def test_at_is_one_shot_in_its_time_zone() -> None:
    assert _next("at(2024-03-05T10:00:00)", datetime(2024, 3, 1, tzinfo=UTC), "Europe/Paris",
                 scheduler=True) == ["2024-03-05 09:00"]
    assert _next("at(2024-02-01T10:00:00)", datetime(2024, 3, 1, tzinfo=UTC), scheduler=True) == []


def test_rate_counts_from_its_anchor() -> None:
    schedule = cron.parse("rate(5 minutes)")
    anchor = datetime(2024, 3, 1, 0, 0, 30, tzinfo=UTC)
    assert schedule.next_after(datetime(2024, 3, 1, 0, 7, tzinfo=UTC), anchor) == datetime(2024, 3, 1, 0, 10, 30,
                                                                                             tzinfo=UTC)


@pytest.mark.parametrize("expression", [
    "cron(0 10 * * * *)",  # day-of-month and day-of-week both set
    "cron(0 10 ? * ? *)",  # both `?`
    "cron(0 10 * *)", "cron(0 25 * * ? *)", "cron(61 1 * * ? *)", "cron(0 1 32 * ? *)",
    "cron(0 1 ? * 8 *)", "cron(0 1 ? * 2#6 *)", "cron(0 1 * 13 ? *)", "cron(0 1 * * ? 1900)",
    "rate(0 minutes)", "rate(1 minutes)", "rate(5 minute)", "rate(5 seconds)", "rate(-1 days)",
    "every 5 minutes", "", "at(2024-03-05T10:00:00)",
])
def test_invalid_expressions_for_rules(expression: str) -> None:
    with pytest.raises(cron.ScheduleError):
        cron.parse(expression)


def test_scheduler_accepts_at_and_either_unit_but_not_a_bad_zone() -> None:
    cron.parse("rate(5 minute)", scheduler=True)
    cron.parse("at(2030-01-01T00:00:00)", "Asia/Tokyo", scheduler=True)
    with pytest.raises(cron.ScheduleError, match="timezone"):
        cron.parse("rate(1 day)", "Mars/Olympus", scheduler=True)
    assert cron.parse("rate(1 day)", "Asia/Tokyo").tz == ZoneInfo("Asia/Tokyo")


EVENT = {"version": "0", "id": "e-1", "detail-type": "Order", "source": "shop", "account": "123456789012",
         "time": "2024-03-01T00:00:00Z", "region": "us-east-1", "resources": [],
         "detail": {"order": {"id": "o-7", "total": 42, "items": [{"sku": "A"}, {"sku": "B"}]}, "note": 'say "hi"'}}


def test_target_input_forms() -> None:
    rule = ("arn:aws:events:us-east-1:123456789012:rule/r", "r")
    assert json.loads(transform.target_input({}, EVENT, *rule)) == EVENT
    assert transform.target_input({"Input": '{"fixed": 1}'}, EVENT, *rule) == '{"fixed": 1}'
    assert json.loads(transform.target_input({"InputPath": "$.detail.order.items[1]"}, EVENT, *rule)) == {"sku": "B"}
    out = transform.target_input({"InputTransformer": {
        "InputPathsMap": {"id": "$.detail.order.id", "total": "$.detail.order.total", "note": "$.detail.note",
                          "items": "$.detail.order.items", "gone": "$.detail.missing"},
        "InputTemplate": '{"id": <id>, "total": <total>, "text": "<id> costs <total>: <note>", "items": <items>,'
                         ' "gone": <gone>, "rule": "<aws.events.rule-name>", "keep": "<not-a-var>"}'}}, EVENT, *rule)
    assert json.loads(out) == {"id": "o-7", "total": 42, "text": 'o-7 costs 42: say "hi"',
                               "items": [{"sku": "A"}, {"sku": "B"}], "gone": None, "rule": "r",
                               "keep": "<not-a-var>"}
    text = transform.target_input({"InputTransformer": {"InputPathsMap": {"id": "$.detail.order.id"},
                                                        "InputTemplate": '"order <id> arrived"'}}, EVENT, *rule)
    assert json.loads(text) == "order o-7 arrived"


@pytest.mark.parametrize("pattern, matched", [
    ({"source": ["shop"]}, True),
    ({"detail": {"order": {"total": [{"numeric": [">", 40, "<=", 42]}]}}}, True),
    ({"detail": {"order": {"items": {"sku": ["B"]}}}}, False),  # a list of objects is not an object
    ({"detail": {"order": {"id": [{"wildcard": "o-*"}]}}}, True),
    ({"detail": {"order": {"id": [{"wildcard": "o?7"}]}}}, False),  # `?` is literal for AWS
    ({"detail": {"note": [{"suffix": {"equals-ignore-case": '"HI"'}}]}}, True),
    ({"detail-type": [{"anything-but": {"prefix": "Ord"}}]}, False),
    ({"detail": {"missing": [{"exists": False}]}}, True),
    ({"$or": [{"source": ["other"]}, {"detail": {"order": {"total": [42]}}}]}, True),
    ({"$or": [{"source": ["other"]}, {"detail-type": ["Nope"]}]}, False),
])
def test_event_patterns(pattern: dict, matched: bool) -> None:  # type: ignore[type-arg]
    filters.check_pattern(pattern)
    assert filters.matches(pattern, EVENT) is matched


@pytest.mark.parametrize("pattern", [
    {"source": "shop"}, {"$or": [{"a": [1]}]}, {"$or": {"a": [1]}}, {"a": [{"wildcard": "a**b"}]},
    {"a": [{"prefix": 1}]}, {"a": [{"numeric": [">"]}]}, {"a": [{"exists": "yes"}]}, [1],
])
def test_bad_event_patterns(pattern: object) -> None:
    with pytest.raises(filters.PatternError):
        filters.check_pattern(pattern)

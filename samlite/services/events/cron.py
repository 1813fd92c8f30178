"""AWS schedule expressions: `rate(...)`, six-field `cron(...)` and `at(...)`, with a timezone.

AWS's cron dialect differs from Unix cron: six fields (minutes hours day-of-month month
day-of-week year), day-of-week 1-7 is SUN-SAT, one of day-of-month and day-of-week must be `?`,
`L` means last (`L` day of month, `5L` last Thursday, `L` alone in day-of-week is Saturday), `W`
the nearest weekday, `LW` the last weekday and `#` the nth weekday of the month. croniter
evaluates the five Unix fields (with `L`, `W` and `#`, and time zones across DST); this module
translates AWS's fields to it and handles what croniter lacks (`LW`, `nL`, the year field).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\(([^()]*)\)$")
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
MAX_YEAR = 2199


class ScheduleError(ValueError):
    """An expression AWS would refuse (ValidationException)."""


@dataclass(frozen=True)
class Schedule:
    expression: str
    kind: str  # rate | cron | at
    tz: ZoneInfo
    rate_s: int = 0
    at: datetime | None = None  # aware, in tz
    unix: str = ""  # cron: the five Unix fields for croniter
    years: frozenset[int] | None = None  # cron: None = every year
    last_weekday: bool = False  # cron: day-of-month `LW`
    last_dow: int | None = None  # cron: `nL`, as croniter's 0-6 (SUN=0)

    def next_after(self, after: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first fire time strictly after `after` (aware); None when there is none."""
        after = after.astimezone(self.tz)
        if self.kind == "at":
            return self.at if self.at is not None and self.at > after else None
        if self.kind == "rate":
            start = (anchor or after).astimezone(timezone.utc)
            steps = int((after.astimezone(timezone.utc) - start).total_seconds() // self.rate_s) + 1
            return start + timedelta(seconds=steps * self.rate_s)
        if self.years is not None and after.year < min(self.years):
            # Jump to the first allowed year instead of stepping through the years before it.
            after = datetime(min(self.years), 1, 1, tzinfo=self.tz) - timedelta(seconds=1)
        for candidate in self._cron_iter(after):
            if candidate.year > MAX_YEAR:
                return None
            if self.years is not None and candidate.year not in self.years:
                if candidate.year > max(self.years):
                    return None
                continue
            if self.last_weekday and candidate.day != _last_weekday(candidate.year, candidate.month):
                continue
            if self.last_dow is not None and not _is_last_dow(candidate, self.last_dow):
                continue
            return candidate
        return None

    def _cron_iter(self, after: datetime) -> Iterator[datetime]:
        from croniter import croniter

        it = croniter(self.unix, after)
        for _ in range(200_000):  # a year filter or `LW` may skip many candidates
            yield it.get_next(datetime)


def parse(expression: str, tz: str | None = None, scheduler: bool = False) -> Schedule:
    """Parse a ScheduleExpression; ScheduleError says what AWS would reject.

    Rules (`scheduler=False`) take rate() with a singular unit for 1 and a plural one otherwise,
    and cron(); EventBridge Scheduler also takes at() and either unit form.
    """
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"Invalid timezone: {tz}") from None
    text = (expression or "").strip()
    m = _RATE.match(text)
    if m:
        value, unit = int(m.group(1)), m.group(2)
        if value <= 0:
            raise ScheduleError("Parameter ScheduleExpression is not valid.")
        if not scheduler and (value == 1) != (not unit.endswith("s")):
            raise ScheduleError("Parameter ScheduleExpression is not valid.")  # rate(1 minutes), rate(5 minute)
        return Schedule(text, "rate", zone, rate_s=value * _UNIT_S[unit.rstrip("s")])
    m = _AT.match(text)
    if m and scheduler:
        return Schedule(text, "at", zone, at=datetime.fromisoformat(m.group(1)).replace(tzinfo=zone))
    m = _CRON.match(text)
    if not m:
        raise ScheduleError("Parameter ScheduleExpression is not valid.")
    return _cron(text, m.group(1), zone)


def _cron(text: str, body: str, zone: ZoneInfo) -> Schedule:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError("Parameter ScheduleExpression is not valid.")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        # AWS: "You can't specify the Day-of-month and Day-of-week fields in the same cron expression."
        raise ScheduleError("Parameter ScheduleExpression is not valid.")
    last_weekday = dom.upper() == "LW"
    last_dow = None
    dow_unix = "*"
    if dow != "?":
        dow_unix, last_dow = _dow(dow)
    dom_unix = "*" if dom == "?" or last_weekday else _dom(dom)
    unix = " ".join([_plain(minute, 0, 59), _plain(hour, 0, 23), dom_unix, _month(month), dow_unix])
    schedule = Schedule(text, "cron", zone, unix=unix, years=_years(year), last_weekday=last_weekday,
                        last_dow=last_dow)
    try:
        from croniter import croniter

        croniter(unix, datetime(2024, 1, 1, tzinfo=zone))
    except Exception:  # noqa: BLE001 - croniter raises several error types
        raise ScheduleError("Parameter ScheduleExpression is not valid.") from None
    return schedule


def _plain(field: str, low: int, high: int) -> str:
    if not re.fullmatch(r"[\d,\-*/]+", field):
        raise ScheduleError("Parameter ScheduleExpression is not valid.")
    for number in re.findall(r"\d+", field.split("/")[0]):
        if not low <= int(number) <= high:
            raise ScheduleError("Parameter ScheduleExpression is not valid.")
    return field


def _dom(field: str) -> str:
    upper = field.upper()
    if upper == "L" or re.fullmatch(r"\d{1,2}W", upper):
        return upper.lower() if upper == "L" else upper
    return _plain(field, 1, 31)


def _month(field: str) -> str:
    upper = field.upper()
    for name, number in _MONTHS.items():
        upper = upper.replace(name, str(number))
    return _plain(upper, 1, 12)


def _dow(field: str) -> tuple[str, int | None]:
    """AWS day-of-week (1-7 = SUN-SAT) -> croniter's (0-6), and `nL` split off."""
    upper = field.upper()
    for name, number in _DAYS.items():
        upper = upper.replace(name, str(number))
    if upper == "L":
        return "6", None  # L alone: the last day of the week, Saturday
    m = re.fullmatch(r"([1-7])L", upper)
    if m:
        return str(int(m.group(1)) - 1), int(m.group(1)) - 1
    m = re.fullmatch(r"([1-7])#([1-5])", upper)
    if m:
        return f"{int(m.group(1)) - 1}#{m.group(2)}", None
    if upper == "*":
        return "*", None
    if not re.fullmatch(r"[\d,\-/]+", upper):
        raise ScheduleError("Parameter ScheduleExpression is not valid.")

    def shift(match: re.Match[str]) -> str:
        number = int(match.group(0))
        if not 1 <= number <= 7:
            raise ScheduleError("Parameter ScheduleExpression is not valid.")
        return str(number - 1)

    head, sep, step = upper.partition("/")
    return re.sub(r"\d+", shift, head) + sep + step, None


def _years(field: str) -> frozenset[int] | None:
    if field == "*":
        return None
    years: set[int] = set()
    for part in field.split(","):
        m = re.fullmatch(r"(\d{4})(?:-(\d{4}))?(?:/(\d+))?", part)
        if not m:
            raise ScheduleError("Parameter ScheduleExpression is not valid.")
        start = int(m.group(1))
        end = int(m.group(2) or (MAX_YEAR if m.group(3) else start))
        if not 1970 <= start <= end <= MAX_YEAR:
            raise ScheduleError("Parameter ScheduleExpression is not valid.")
        years.update(range(start, end + 1, int(m.group(3) or 1)))
    return frozenset(years)


def _last_weekday(year: int, month: int) -> int:
    day = calendar.monthrange(year, month)[1]
    while calendar.weekday(year, month, day) >= 5:
        day -= 1
    return day


def _is_last_dow(when: datetime, dow: int) -> bool:
    """`when` falls on weekday `dow` (0 = SUN) and no later such day is in its month."""
    return (when.isoweekday() % 7) == dow and when.day + 7 > calendar.monthrange(when.year, when.month)[1]

"""Schedules fire on the real clock: EventBridge schedule rules and EventBridge Scheduler schedules.

The schedules themselves live in moto (rules and schedules made by templates or API calls); this
loop reads them whenever they change (the capture notes every PutRule, DeleteRule, Enable/
DisableRule and Create/Update/DeleteSchedule) and sleeps until the next one is due. A rate()
schedule counts from when it was first seen, as AWS counts from creation. Firings missed while the
engine was stopped are not made up, as on AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samlite.services.events import cron, records

if TYPE_CHECKING:
    from samlite.services.events.bridge import Bridge
    from samlite.services.moto_backend.backend import MotoBackend

log = logging.getLogger("samlite.engine")

IDLE_S = 60.0


@dataclass
class Entry:
    item: dict[str, Any]
    schedule: cron.Schedule
    anchor: float
    due: float | None
    fired: int = 0
    last_fired: float | None = None


class Scheduler:
    def __init__(self, bridge: "Bridge", cloud: "MotoBackend", cloud_home: Path) -> None:
        self.bridge = bridge
        self.cloud = cloud
        self.cloud_home = cloud_home
        self.entries: dict[str, Entry] = {}
        self.lateness_ms: list[float] = []  # how late each firing started (for the bench and `list schedules`)
        self._dirty = True
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        bridge.on_schedules_changed = self.changed

    async def start(self) -> None:
        # moto loads on first use; with no cloud state yet there is nothing to schedule until a call makes some.
        self._dirty = any(self.cloud_home.glob("journal.db*")) or (self.cloud_home / "snapshot.pickle").exists()
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def changed(self) -> None:
        self._dirty = True
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            if self._dirty:
                self._dirty = False
                try:
                    await self.reload()
                except Exception:
                    log.exception("scheduler: reading the schedules failed")
            now = time.time()
            for entry in self.entries.values():
                if entry.due is not None and entry.due <= now:
                    due = entry.due
                    entry.due = self._next(entry, due)
                    self.lateness_ms.append((now - due) * 1000)
                    del self.lateness_ms[:-1000]
                    self.bridge._spawn(self.fire(entry, due))
            pending = [e.due for e in self.entries.values() if e.due is not None]
            timeout = min(IDLE_S, max(0.0, min(pending) - time.time())) if pending else IDLE_S
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def reload(self) -> None:
        items = await self.cloud.run(self.bridge.capture.scheduled)
        now = time.time()
        fresh: dict[str, Entry] = {}
        for item in items:
            old = self.entries.get(item["key"])
            try:
                schedule = cron.parse(item["expression"], item.get("timezone"), scheduler=item["kind"] == "schedule")
            except cron.ScheduleError:
                log.warning("scheduler: %s has an invalid expression %r; skipped", item["key"], item["expression"])
                continue
            if old is not None and old.schedule.expression == schedule.expression and \
                    old.schedule.tz == schedule.tz and old.item["enabled"] == item["enabled"]:
                old.item = item
                fresh[item["key"]] = old
                continue
            entry = Entry(item, schedule, anchor=now, due=None)
            entry.due = self._next(entry, now) if item["enabled"] else None
            fresh[item["key"]] = entry
        self.entries = fresh

    def _next(self, entry: Entry, after: float) -> float | None:
        anchor = datetime.fromtimestamp(entry.anchor, timezone.utc)
        nxt = entry.schedule.next_after(datetime.fromtimestamp(after, timezone.utc), anchor)
        end = _timestamp(entry.item.get("end"))
        if nxt is None or (end is not None and nxt.timestamp() > end):
            return None
        return nxt.timestamp()

    async def fire(self, entry: Entry, when: float) -> int:
        """Deliver one firing; returns how many targets it reached."""
        item = entry.item
        entry.fired += 1
        entry.last_fired = time.time()
        start = _timestamp(item.get("start"))
        if start is not None and when < start:
            return 0
        if item["kind"] == "rule":
            notes = await self.cloud.run(lambda: self.bridge.capture.rule_notes(item["name"], item["bus"], when))
        else:
            notes = await self.cloud.run(lambda: self.bridge.capture.schedule_notes(item["group"], item["name"], when))
            for note in notes:
                note["when_iso"] = records.iso_s(when)
        await self.bridge.deliver(notes)
        return sum(len(n.get("targets", [None])) for n in notes)

    # --- control surface ---------------------------------------------------------------------------
    async def cli_fire(self, name: str) -> dict[str, Any]:
        """Fire a rule or schedule now (`samlite events fire NAME`): by name, ARN or `group/name`."""
        if self._dirty or not self.entries:
            await self._reload_now()
        entry = self._find(name)
        if entry is None:
            # A pattern rule (no schedule) may be fired too: its targets get a test event.
            found = await self.cloud.run(lambda: self._pattern_rule(name))
            if found is None:
                from samlite.errors import NotFoundError

                raise NotFoundError(f"no rule or schedule named {name!r}")
            entry = Entry(found, cron.parse("rate(1 day)"), anchor=time.time(), due=None)
        targets = await self.fire(entry, time.time())
        return {"fired": entry.item["arn"], "kind": entry.item["kind"], "targets": targets}

    async def cli_schedules(self) -> list[dict[str, Any]]:
        await self._reload_now()
        return [{"name": e.item["name"], "kind": e.item["kind"], "arn": e.item["arn"],
                 "expression": e.item["expression"], "timezone": e.item.get("timezone") or "UTC",
                 "state": "ENABLED" if e.item["enabled"] else "DISABLED",
                 "next": records.iso_s(e.due) if e.due else None, "fired": e.fired}
                for e in sorted(self.entries.values(), key=lambda e: e.item["key"])]

    async def _reload_now(self) -> None:
        self._dirty = False
        await self.reload()
        self._wake.set()

    def _find(self, name: str) -> Entry | None:
        for entry in self.entries.values():
            item = entry.item
            scoped = f"{item.get('group') or item.get('bus')}/{item['name']}"
            if name in (item["name"], item["arn"], item["key"], scoped):
                return entry
        return None

    def _pattern_rule(self, name: str) -> dict[str, Any] | None:
        import moto.events.models as events_models

        backend = events_models.events_backends[self.bridge.account_id][self.bridge.region]
        for bus_name, bus in backend.event_buses.items():
            for rule in bus.rules.values():
                if name in (rule.name, rule.arn):
                    return {"key": f"rule/{bus_name}/{rule.name}", "kind": "rule", "name": rule.name, "bus": bus_name,
                            "arn": rule.arn, "expression": "", "enabled": rule.state == "ENABLED"}
        return None


def _timestamp(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None

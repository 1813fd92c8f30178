"""The sweep over a real store in tmp_path: retention by event age, the caps, metrics past the
15 days anything reads, the file shrinking after a purge, and Lambda's event-size split."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Iterator

import pytest

from samlite.config import Settings
from samlite.core.invoke import MAX_EVENT_BYTES, split_event
from samlite.core.stacks import StackCatalog
from samlite.core.store import Store
from samlite.engine.sweep import Sweeper
from samlite.services.cloudwatch.service import MetricsService
from samlite.services.logs.service import DAY_MS, LogService

NOW = int(time.time() * 1000)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "state.db", background_checkpoints=True)
    yield store
    store.close()


def _services(store: Store) -> tuple[LogService, MetricsService]:
    catalog = StackCatalog(store)
    return LogService(store, catalog, "us-east-1", "123456789012"), MetricsService(store, catalog, None)  # type: ignore[arg-type]


def _count(store: Store, table: str, where: str = "1", params: tuple = ()) -> int:
    return store.query_one(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}", params)["n"]


def test_retention_deletes_only_events_older_than_the_groups_retention(store: Store) -> None:
    logs, _ = _services(store)
    for group in ("/aws/lambda/a", "/aws/lambda/b"):
        store.append_log_events(group, "old", [(NOW - 10 * DAY_MS + i, f"old {i}") for i in range(5000)])
        store.append_log_events(group, "new", [(NOW - DAY_MS, "recent")])
    logs.set_retention("/aws/lambda/a", 7)
    deleted = asyncio.run(logs.sweep(max_events=0, now_ms=NOW))
    assert deleted == 5000
    assert [e.message for e in logs.events("/aws/lambda/a")] == ["recent"]
    assert [s["name"] for s in logs.streams("/aws/lambda/a")] == ["new"]  # the emptied stream went too
    assert _count(store, "log_events", "log_group = ?", ("/aws/lambda/b",)) == 5001  # no retention: kept


def test_the_cap_keeps_the_newest_events_and_metrics(store: Store) -> None:
    logs, metrics = _services(store)
    store.append_log_events("/aws/lambda/a", "s", [(NOW, f"e{i}") for i in range(10_000)])
    row = ("a", None, NOW, "rid", "api", 1.0, 1, 128, 40, None, 0, None, 0, 1, "x86_64")
    store.append_metrics([(*row[:2], NOW - 16 * DAY_MS, *row[3:])] * 10 + [row] * 5000)
    assert asyncio.run(metrics.sweep(max_rows=0, now_ms=NOW)) == 10  # past the 15 days anything reads
    assert asyncio.run(metrics.sweep(max_rows=4, now_ms=NOW)) == 4996
    assert _count(store, "metrics") == 4


def test_state_db_shrinks_after_a_purge(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")  # no checkpointer thread: the TRUNCATE checkpoints below are never busy
    logs, metrics = _services(store)
    line = "x" * 1000
    for _ in range(30):
        store.append_log_events("/aws/lambda/a", "s", [(NOW, line)] * 1000)  # 30 MB
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = (tmp_path / "state.db").stat().st_size
    sweeper = Sweeper(Settings(home=tmp_path, max_log_events=1000, max_metric_rows=0), store, logs, metrics)
    result = asyncio.run(sweeper.sweep())
    assert result["log_events"] == 29_000 and result["pages_released"] > 0
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = (tmp_path / "state.db").stat().st_size
    store.close()
    assert before > 30_000_000 and after < before / 5, (before, after)


def test_an_older_database_is_converted_to_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA auto_vacuum=NONE")
    db.execute("VACUUM")
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    db.close()
    store = Store(path, background_checkpoints=True)
    try:
        assert store.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
    finally:
        store.close()


@pytest.mark.parametrize("line", ["a" * (MAX_EVENT_BYTES * 2 + 5), "é" * MAX_EVENT_BYTES, "x" + "😀" * 70_000])
def test_long_lines_split_between_characters(line: str) -> None:
    parts = split_event(line)
    assert "".join(parts) == line and len(parts) > 1
    assert all(0 < len(p.encode()) <= MAX_EVENT_BYTES for p in parts)
    assert split_event("short") == ["short"]

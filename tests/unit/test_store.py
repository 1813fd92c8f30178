"""The store's bulk log/metric writes and its background WAL checkpoints."""

from __future__ import annotations

from pathlib import Path

from samlite.core.store import METRIC_COLUMNS, Store
from samlite.testing import wait_for


def test_log_events_are_written_in_order_including_what_orjson_refuses(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    events = [(1_000 + i, f"line {i}") for i in range(500)]
    store.append_log_events("/aws/lambda/fn", "stream-a", events)
    # A lone surrogate can be neither JSON nor SQLite text: it is stored as '?', not dropped.
    store.append_log_events("/aws/lambda/fn", "stream-a", [(2_000, "bad \ud800 text")])
    rows = store.query("SELECT timestamp_ms, message FROM log_events ORDER BY id")
    assert [(r["timestamp_ms"], r["message"]) for r in rows[:500]] == events
    assert rows[500]["message"] == "bad ? text"
    stream = store.query_one("SELECT first_event_ms, last_event_ms FROM log_streams")
    assert (stream["first_event_ms"], stream["last_event_ms"]) == (1_000, 2_000)
    store.close()


def test_metric_rows_keep_their_types(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    row = ("fn", "stack", 1_700_000_000_000, "rid", "gateway", 0.53, 1, 128, 40, None, 0, None, 0, 1, "x86_64")
    store.append_metrics([row, row])
    got = store.query(f"SELECT {', '.join(METRIC_COLUMNS)} FROM metrics")
    assert [tuple(r) for r in got] == [row, row]
    store.close()


def test_background_checkpoints_move_the_wal_into_the_database(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(db, background_checkpoints=True)
    before = db.stat().st_size
    # ~3 MB: far below the 64 MB backstop, so only the checkpointer thread copies it.
    store.append_log_events("/aws/lambda/fn", "s", [(i, "x" * 1000) for i in range(3000)])
    wait_for(lambda: db.stat().st_size > before + 2_000_000, timeout=10, message="a background checkpoint")
    store.close()
    assert not (tmp_path / "state.db-wal").exists() or (tmp_path / "state.db-wal").stat().st_size == 0

"""The periodic sweep that keeps stored logs and metrics bounded.

Every `sweep_interval` seconds: log events past their group's retention, log events and metric
rows beyond the caps (`max_log_events`, `max_metric_rows`), then the database file's free pages
given back in small steps, so state.db shrinks after a purge. Every step is a short write on the
engine's loop (one writer, as the store requires), with the loop serving requests in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.core.store import Store
    from samlite.services.cloudwatch.service import MetricsService
    from samlite.services.logs.service import LogService

log = logging.getLogger("samlite.engine")

RELEASE_STEP_PAGES = 256  # 1 MB of 4 KB pages per step
# Free pages are given back once they are this many and a tenth of the file: normal churn (queue
# messages come and go) reuses free pages itself.
RELEASE_MIN_PAGES = 2048


class Sweeper:
    def __init__(self, settings: "Settings", store: "Store", logs: "LogService", metrics: "MetricsService") -> None:
        self.settings = settings
        self.store = store
        self.logs = logs
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                await self.sweep()
            except sqlite3.Error as exc:  # a full disk or a busy database: the next round retries
                log.warning("log and metric sweep failed: %s", exc)

    async def sweep(self) -> dict[str, Any]:
        events = await self.logs.sweep(self.settings.max_log_events)
        metrics = await self.metrics.sweep(self.settings.max_metric_rows)
        released = await self.release_space()
        if events or metrics or released:
            log.info("sweep: %d log events and %d metric rows deleted, %d pages released", events, metrics, released)
        return {"log_events": events, "metrics": metrics, "pages_released": released}

    async def release_space(self) -> int:
        free, total = self.store.free_pages()
        if free < RELEASE_MIN_PAGES or free * 10 < total:
            return 0
        released = 0
        while free > 0:
            self.store.release_pages(RELEASE_STEP_PAGES)
            now = self.store.free_pages()[0]
            if now >= free:  # nothing moved (not an incremental-vacuum database): stop
                break
            released += free - now
            free = now
            await asyncio.sleep(0)
        return released

    # --- control surface -----------------------------------------------------------------
    async def cli_sweep(self) -> dict[str, Any]:
        """Run a sweep now (`samlite` has no command for it; tests and scripts use the control socket)."""
        return await self.sweep()

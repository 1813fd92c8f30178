"""An InvokeService with a real store and real workers, without an engine process.

Shared by the runtime, invoke-service, Runtime API and Node tests: `async with lab(tmp) as L`,
`L.add(name, code)` deploys a function from source text, `await L.invoke(name, event)` runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import textwrap
import time
from pathlib import Path
from typing import Any, AsyncIterator

from samlite.config import Settings
from samlite.core.invoke import InvokeResult, InvokeService
from samlite.core.runtime import FunctionSpec
from samlite.core.store import Store

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"

ECHO = """
    import os, time
    def handler(event, context):
        if isinstance(event, dict) and event.get("sleep"):
            time.sleep(event["sleep"])
        if isinstance(event, dict) and event.get("big"):
            return "x" * event["big"]
        return {"event": event, "pid": os.getpid()}
"""


class Lab:
    def __init__(self, tmp: Path, **settings: Any) -> None:
        self.tmp = tmp
        self.settings = Settings(home=tmp / "home", **settings)
        self.store = Store(self.settings.db_path)
        self.functions: dict[str, FunctionSpec] = {}
        self.svc = InvokeService(self.settings, self.store, "http://127.0.0.1:1", self.functions)

    def add(self, name: str, code: str | dict[str, str] = ECHO, handler: str = "app.handler", sha: str = "v1",
            runtime: str | None = None, **kw: Any) -> FunctionSpec:
        """Write the function's files (one `app.py`, or a {path: text} map) and register it.

        Without a runtime, a `bootstrap` file means `provided.al2023`, anything else python3.11.
        """
        code_dir = self.tmp / "code" / name / sha
        files = {"app.py": code} if isinstance(code, str) else code
        for rel, text in files.items():
            path = code_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
            if rel == "bootstrap":
                path.chmod(0o755)
        code_dir.mkdir(parents=True, exist_ok=True)
        runtime = runtime or ("provided.al2023" if "bootstrap" in files else "python3.11")
        spec = FunctionSpec(name=name, arn=ARN.format(name), runtime=runtime, handler=handler,
                            code_dir=code_dir, code_sha=sha, **kw)
        self.functions[name] = spec
        return spec

    async def invoke(self, name: str, event: object = None, **kw: Any) -> InvokeResult:
        payload = b"{}" if event is None else json.dumps(event).encode()
        return await self.svc.invoke(name, payload, log_tail=True, **kw)

    async def poll(self, sql: str, params: tuple = (), want: int = 1, deadline_s: float = 5.0) -> list:
        end = time.monotonic() + deadline_s
        while True:
            rows = self.store.query(sql, params)
            if len(rows) >= want or time.monotonic() > end:
                return rows
            await asyncio.sleep(0.02)

    async def poll_logs(self, group: str, needle: str, deadline_s: float = 5.0) -> list[str]:
        end = time.monotonic() + deadline_s
        while True:
            rows = [r["message"] for r in self.store.query(
                "SELECT message FROM log_events WHERE log_group = ? ORDER BY id", (group,))]
            if any(needle in m for m in rows) or time.monotonic() > end:
                return rows
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def lab(tmp: Path, **settings: Any) -> AsyncIterator[Lab]:
    the_lab = Lab(tmp, **settings)
    await the_lab.svc.start()
    try:
        yield the_lab
    finally:
        await the_lab.svc.stop()
        the_lab.store.close()


def run(coro: Any) -> None:
    asyncio.run(coro)

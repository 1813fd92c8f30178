"""The read side of function logs: groups, streams, events, CloudWatch filter patterns.

The invoke service writes log events (`/aws/lambda/<name>`, one stream per execution
environment) through the store; this module only reads them, for the CloudWatch Logs endpoint
(`services/logs/api.py`) and for `samlite logs` (`cli_events`). Events are ordered by their row id,
which is ingestion order; `after_id` is the cursor `samlite logs --tail` polls with.

Filter patterns (the CloudWatch subset samlite supports; matching is case-sensitive, as on AWS):
- `ERROR timeout`: every term must appear;  `"Task timed out"`: a quoted phrase;
- `?ERROR ?WARN`: at least one of the `?` terms;  `ERROR -healthcheck`: exclude a term;
- JSON patterns `{ $.level = "ERROR" }`, `{ $.ms > 100 && $.user != "bot*" }` with `=`, `!=`,
  `<`, `<=`, `>`, `>=`, `&&`, `||`, parentheses, `*` wildcards in strings, `EXISTS`/`NOT EXISTS`.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from samlite.core.stacks import StackCatalog
from samlite.core.store import Store
from samlite.errors import UsageError

MAX_LIMIT = 10_000
_SCAN_CHUNK = 2_000
# Rows deleted per statement by purges: each is a short write on the engine's loop.
PURGE_BATCH = 2_000
# CloudWatch's RetentionInDays values.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
DAY_MS = 86_400_000


class BadFilterPattern(ValueError):
    pass


# --- filter patterns -------------------------------------------------------------------------
Matcher = Callable[[str], bool]


def compile_pattern(pattern: str | None) -> Matcher:
    """Compile a CloudWatch filter pattern into a predicate over a message."""
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        return _compile_json(text)
    if text.startswith("["):
        raise BadFilterPattern("space-delimited [..] filter patterns are not supported by samlite")
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    for token in _terms(text):
        if token.startswith("?") and len(token) > 1:
            optional.append(_unquote(token[1:]))
        elif token.startswith("-") and len(token) > 1:
            excluded.append(_unquote(token[1:]))
        else:
            required.append(_unquote(token))

    def match(message: str) -> bool:
        if any(term in message for term in excluded):
            return False
        if not all(term in message for term in required):
            return False
        return not optional or any(term in message for term in optional)

    return match


def sql_prefilter(pattern: str | None) -> tuple[str, list[Any]] | None:
    """A WHERE clause that keeps what a term pattern can match, so SQLite (not Python, and with
    the GIL released) skips the rest of a scan; None for JSON patterns and no pattern."""
    text = (pattern or "").strip()
    if not text or text.startswith(("{", "[")):
        return None
    clauses: list[str] = []
    params: list[Any] = []
    optional: list[str] = []
    for token in _terms(text):
        if token.startswith("?") and len(token) > 1:
            optional.append(_unquote(token[1:]))
        elif token.startswith("-") and len(token) > 1:
            clauses.append("instr(message, ?) = 0")
            params.append(_unquote(token[1:]))
        else:
            clauses.append("instr(message, ?) > 0")
            params.append(_unquote(token))
    if optional:
        clauses.append("(" + " OR ".join("instr(message, ?) > 0" for _ in optional) + ")")
        params += optional
    return " AND ".join(clauses), params


def _terms(text: str) -> list[str]:
    tokens = re.findall(r'[?-]?"(?:[^"\\]|\\.)*"|\S+', text)
    for token in tokens:
        if token.count('"') % 2:
            raise BadFilterPattern(f"unbalanced quote in filter pattern: {text}")
    return tokens


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1].replace('\\"', '"')
    return token


_JSON_TOKEN = re.compile(r'\s*(\(|\)|&&|\|\||!=|<=|>=|=|<|>|\$(?:\.[\w\-]+|\[\d+\])*|"(?:[^"\\]|\\.)*"|'
                         r'NOT\s+EXISTS|EXISTS|IS\s+(?:TRUE|FALSE|NULL)|-?\d+(?:\.\d+)?|[\w*\-.]+)')


def _compile_json(text: str) -> Matcher:
    if not text.endswith("}"):
        raise BadFilterPattern(f"a JSON filter pattern must end with '}}': {text}")
    body = text[1:-1]
    tokens: list[str] = []
    pos = 0
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        m = _JSON_TOKEN.match(body, pos)
        if not m:
            raise BadFilterPattern(f"cannot parse the filter pattern near {body[pos:pos + 20]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    parser = _JsonParser(tokens)
    predicate = parser.parse()

    def match(message: str) -> bool:
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        return predicate(doc)

    return match


_MISSING = object()


class _JsonParser:
    """expr := term ('||' term)* ; term := atom ('&&' atom)* ; atom := '(' expr ')' | selector op value."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.i = 0

    def _peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self) -> str:
        token = self._peek()
        if token is None:
            raise BadFilterPattern("the filter pattern ends too early")
        self.i += 1
        return token

    def parse(self) -> Callable[[Any], bool]:
        expr = self._expr()
        if self._peek() is not None:
            raise BadFilterPattern(f"unexpected {self._peek()!r} in the filter pattern")
        return expr

    def _expr(self) -> Callable[[Any], bool]:
        parts = [self._term()]
        while self._peek() == "||":
            self._next()
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else (lambda doc: any(p(doc) for p in parts))

    def _term(self) -> Callable[[Any], bool]:
        parts = [self._atom()]
        while self._peek() == "&&":
            self._next()
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else (lambda doc: all(p(doc) for p in parts))

    def _atom(self) -> Callable[[Any], bool]:
        token = self._next()
        if token == "(":
            inner = self._expr()
            if self._next() != ")":
                raise BadFilterPattern("missing ')' in the filter pattern")
            return inner
        if not token.startswith("$"):
            raise BadFilterPattern(f"expected a $.selector, got {token!r}")
        path = re.findall(r"\.([\w\-]+)|\[(\d+)\]", token)
        op = self._next()
        if op.startswith("NOT") or op == "EXISTS":
            want = op == "EXISTS"
            return lambda doc: (_select(doc, path) is not _MISSING) == want
        if op.startswith("IS"):
            word = op.split()[-1]
            expected = {"TRUE": True, "FALSE": False, "NULL": None}[word]
            return lambda doc: _select(doc, path) is expected
        if op not in ("=", "!=", "<", "<=", ">", ">="):
            raise BadFilterPattern(f"unknown operator {op!r} in the filter pattern")
        raw = self._next()
        return _comparison(path, op, raw)


def _select(doc: Any, path: list[tuple[str, str]]) -> Any:
    for key, index in path:
        if key:
            if not isinstance(doc, dict) or key not in doc:
                return _MISSING
            doc = doc[key]
        else:
            if not isinstance(doc, list) or int(index) >= len(doc):
                return _MISSING
            doc = doc[int(index)]
    return doc


def _comparison(path: list[tuple[str, str]], op: str, raw: str) -> Callable[[Any], bool]:
    if re.fullmatch(r"-?\d+(?:\.\d+)?", raw):
        number = float(raw)
        ops: dict[str, Callable[[float, float], bool]] = {
            "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
        compare = ops[op]

        def numeric(doc: Any) -> bool:
            value = _select(doc, path)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            return compare(float(value), number)

        return numeric
    if op not in ("=", "!="):
        raise BadFilterPattern(f"{op} needs a number, got {raw!r}")
    text = _unquote(raw)
    regex = re.compile("^" + ".*".join(re.escape(part) for part in text.split("*")) + "$", re.DOTALL)
    want = op == "="

    def textual(doc: Any) -> bool:
        value = _select(doc, path)
        if value is _MISSING or isinstance(value, (dict, list)):
            return False
        shown = json.dumps(value) if not isinstance(value, str) else value
        return bool(regex.match(shown)) == want

    return textual


def _now_ms() -> int:
    return int(time.time() * 1000)


# --- reading the store -----------------------------------------------------------------------
@dataclass(frozen=True)
class LogEvent:
    id: int
    group: str
    stream: str
    timestamp: int
    ingestion: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "group": self.group, "stream": self.stream, "timestamp": self.timestamp,
                "ingestion": self.ingestion, "message": self.message}


class LogService:
    def __init__(self, store: Store, catalog: StackCatalog, region: str, account_id: str) -> None:
        self.store = store
        self.catalog = catalog
        self.region = region
        self.account_id = account_id

    # --- groups and streams ---------------------------------------------------------------
    def groups(self, prefix: str | None = None) -> list[dict[str, Any]]:
        """Every log group (declared, or with at least one stream): name, creation time, stored
        bytes, retention in days (None: never expire)."""
        rows = self.store.query(
            "SELECT name, MIN(created) AS created, MAX(retention) AS retention,"
            " (SELECT COALESCE(SUM(LENGTH(e.message)), 0) FROM log_events e WHERE e.log_group = name) AS bytes"
            " FROM (SELECT log_group AS name, created_ms AS created, NULL AS retention FROM log_streams"
            "       UNION ALL SELECT name, created_ms, retention_days FROM log_groups)"
            " WHERE name >= ? GROUP BY name ORDER BY name",
            (prefix or "",))
        return [dict(r) for r in rows if prefix is None or r["name"].startswith(prefix)]

    def group_exists(self, group: str) -> bool:
        return (self.store.query_one("SELECT 1 FROM log_streams WHERE log_group = ? LIMIT 1", (group,)) is not None
                or self.store.query_one("SELECT 1 FROM log_groups WHERE name = ?", (group,)) is not None)

    # --- changes (PutRetentionPolicy, DeleteLogGroup, deploy and delete) ---------------------
    def set_retention(self, group: str, days: int | None) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT INTO log_groups (name, created_ms, retention_days) VALUES (?, ?, ?)"
                       " ON CONFLICT (name) DO UPDATE SET retention_days = excluded.retention_days",
                       (group, _now_ms(), days))

    def declare_groups(self, db: sqlite3.Connection, stack: str, groups: Iterable[tuple[str, int | None, bool]]) -> None:
        """Inside a deploy's transaction: the stack's Logs::LogGroup resources are now `groups`
        (name, RetentionInDays, DeletionPolicy Retain)."""
        db.execute("UPDATE log_groups SET stack = NULL, retain = 0, retention_days = NULL WHERE stack = ?", (stack,))
        for name, days, retain in groups:
            db.execute("INSERT INTO log_groups (name, created_ms, retention_days, stack, retain) VALUES (?, ?, ?, ?, ?)"
                       " ON CONFLICT (name) DO UPDATE SET retention_days = excluded.retention_days,"
                       " stack = excluded.stack, retain = excluded.retain",
                       (name, _now_ms(), days, stack, int(retain)))

    def forget_stack(self, db: sqlite3.Connection, stack: str, functions: Iterable[str]) -> list[str]:
        """Inside a stack delete's transaction: the groups to purge (its declared groups and its
        functions' groups, except those declared with DeletionPolicy Retain, which stay)."""
        kept = {r["name"] for r in db.execute("SELECT name FROM log_groups WHERE stack = ? AND retain", (stack,))}
        doomed = {r["name"] for r in db.execute("SELECT name FROM log_groups WHERE stack = ? AND NOT retain", (stack,))}
        doomed |= {f"/aws/lambda/{name}" for name in functions}
        db.execute("UPDATE log_groups SET stack = NULL WHERE stack = ?", (stack,))
        return sorted(doomed - kept)

    async def delete_group(self, group: str) -> None:
        """The group, its streams and (in short batches, the loop serving between them) its events."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM log_groups WHERE name = ?", (group,))
            db.execute("DELETE FROM log_streams WHERE log_group = ?", (group,))
            top = db.execute("SELECT MAX(id) FROM log_events").fetchone()[0] or 0
        await self._purge("log_group = ? AND id <= ?", (group, top))

    async def delete_stream(self, group: str, stream: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM log_streams WHERE log_group = ? AND log_stream = ?", (group, stream))
            top = db.execute("SELECT MAX(id) FROM log_events").fetchone()[0] or 0
        await self._purge("log_group = ? AND log_stream = ? AND id <= ?", (group, stream, top))

    async def _purge(self, where: str, params: tuple[Any, ...]) -> int:
        deleted = 0
        while True:
            with self.store.transaction() as db:
                count = db.execute(f"DELETE FROM log_events WHERE id IN (SELECT id FROM log_events WHERE {where}"
                                   f" ORDER BY id LIMIT {PURGE_BATCH})", params).rowcount
            deleted += count
            if count < PURGE_BATCH:
                return deleted
            await asyncio.sleep(0)

    # --- the sweep: retention and the cap --------------------------------------------------
    async def sweep(self, max_events: int, now_ms: int | None = None) -> int:
        """Delete events past their group's retention, then the oldest beyond `max_events` (0: no
        cap), in short batches. Returns how many were deleted."""
        now_ms = _now_ms() if now_ms is None else now_ms
        deleted = 0
        for row in self.store.query("SELECT name, retention_days FROM log_groups WHERE retention_days IS NOT NULL"):
            cutoff = now_ms - int(row["retention_days"]) * DAY_MS
            deleted += await self._expire(row["name"], cutoff)
            self.store.execute("DELETE FROM log_streams WHERE log_group = ? AND COALESCE(last_event_ms, created_ms) < ?",
                               (row["name"], cutoff))
        if max_events > 0:
            top = self.store.scalar("SELECT MAX(id) FROM log_events") or 0
            # ids grow with ingestion: the newest `max_events` have the top ids (fewer where purges left gaps).
            deleted += await self._purge("id <= ?", (top - max_events,))
            oldest = self.store.query_one("SELECT timestamp_ms FROM log_events ORDER BY id LIMIT 1")
            # Streams whose last event is older than every stored event are empty now.
            self.store.execute("DELETE FROM log_streams WHERE COALESCE(last_event_ms, created_ms) < ?",
                               (oldest["timestamp_ms"] if oldest else now_ms,))
        return deleted

    async def _expire(self, group: str, cutoff_ms: int) -> int:
        """Events of `group` older than `cutoff_ms`: they come first in id order, so each batch
        reads only the group's oldest rows (no scan of what is kept)."""
        deleted = 0
        while True:
            rows = self.store.query("SELECT id, timestamp_ms FROM log_events WHERE log_group = ? ORDER BY id LIMIT ?",
                                    (group, PURGE_BATCH))
            old = [r["id"] for r in rows if r["timestamp_ms"] < cutoff_ms]
            if not old:
                return deleted
            with self.store.transaction() as db:
                deleted += db.execute("DELETE FROM log_events WHERE log_group = ? AND id <= ? AND timestamp_ms < ?",
                                      (group, old[-1], cutoff_ms)).rowcount
            if len(rows) < PURGE_BATCH:
                return deleted
            await asyncio.sleep(0)

    def streams(self, group: str, prefix: str | None = None, order_by: str = "LogStreamName",
                descending: bool = False) -> list[dict[str, Any]]:
        order = "log_stream" if order_by == "LogStreamName" else "COALESCE(last_event_ms, 0)"
        direction = "DESC" if descending else "ASC"
        # lastIngestionTime is the last event's time: reading it from the events scanned the whole
        # group once per stream. Lambda's events are stored within ~50 ms of their timestamp.
        rows = self.store.query(
            "SELECT log_stream AS name, created_ms AS created, first_event_ms AS first, last_event_ms AS last,"
            " last_event_ms AS ingested"
            f" FROM log_streams s WHERE log_group = ? ORDER BY {order} {direction}, log_stream {direction}",
            (group,))
        return [dict(r) for r in rows if prefix is None or r["name"].startswith(prefix)]

    # --- events --------------------------------------------------------------------------
    def events(self, groups: str | Iterable[str], streams: Iterable[str] | str | None = None,
               start_ms: int | None = None, end_ms: int | None = None, filter_pattern: str | None = None,
               after_id: int | None = None, before_id: int | None = None, limit: int = MAX_LIMIT,
               newest_first: bool = False, stream_prefix: str | None = None) -> list[LogEvent]:
        """Events of one or more groups in id (ingestion) order, filtered; at most `limit`.

        `after_id`/`before_id` are exclusive cursors. With `newest_first` the scan runs backwards
        (the result is still returned oldest first), which GetLogEvents needs for its default.
        """
        group_list = [groups] if isinstance(groups, str) else list(groups)
        if not group_list or limit <= 0:
            return []
        stream_list = [streams] if isinstance(streams, str) else (list(streams) if streams is not None else None)
        match = compile_pattern(filter_pattern)
        where = [f"log_group IN ({','.join('?' * len(group_list))})"]
        params: list[Any] = list(group_list)
        if stream_list is not None:
            if not stream_list:
                return []
            where.append(f"log_stream IN ({','.join('?' * len(stream_list))})")
            params += stream_list
        if stream_prefix:
            where.append("substr(log_stream, 1, ?) = ?")
            params += [len(stream_prefix), stream_prefix]
        if start_ms is not None:
            where.append("timestamp_ms >= ?")
            params.append(int(start_ms))
        if end_ms is not None:
            where.append("timestamp_ms <= ?")
            params.append(int(end_ms))
        prefilter = sql_prefilter(filter_pattern)
        if prefilter is not None:
            where.append(prefilter[0])
            params += prefilter[1]
        found: list[LogEvent] = []
        # Unfiltered (or filtered in SQL), every row matches: read no more than asked (the
        # console's tail asks for 100).
        chunk = _SCAN_CHUNK if filter_pattern and prefilter is None else min(_SCAN_CHUNK, limit)
        low = after_id if after_id is not None else 0
        high = before_id
        # Scan in chunks so a selective filter over a big group never loads it all at once.
        while len(found) < limit:
            cursor_sql = ["id > ?"]
            cursor_params: list[Any] = [low]
            if high is not None:
                cursor_sql.append("id < ?")
                cursor_params.append(high)
            order = "DESC" if newest_first else "ASC"
            rows = self.store.query(
                "SELECT id, log_group, log_stream, timestamp_ms, ingestion_ms, message FROM log_events WHERE "
                + " AND ".join(where + cursor_sql) + f" ORDER BY id {order} LIMIT {chunk}",
                params + cursor_params)
            for r in rows:
                if match(r["message"]):
                    found.append(LogEvent(r["id"], r["log_group"], r["log_stream"], r["timestamp_ms"],
                                          r["ingestion_ms"], r["message"]))
                    if len(found) >= limit:
                        break
            if len(rows) < chunk:
                break
            if newest_first:
                high = rows[-1]["id"]
            else:
                low = rows[-1]["id"]
        if newest_first:
            found.reverse()
        return found

    def last_id(self) -> int:
        return int(self.store.scalar("SELECT MAX(id) FROM log_events") or 0)

    # --- control surface -----------------------------------------------------------------
    async def cli_events(self, function: str | None = None, stack: str | None = None, start_ms: int | None = None,
                         end_ms: int | None = None, filter: str | None = None, after_id: int | None = None,
                         limit: int = 1000, tail_start: bool = False) -> dict[str, Any]:
        """`events` below, off the loop (a filter may scan every stored event)."""
        names = self.catalog.function_names(function, stack)  # on the loop: the catalog is the writer's
        return await asyncio.to_thread(self._cli_events, names, start_ms, end_ms, filter, after_id, limit,
                                       tail_start)

    def _cli_events(self, names: list[str], start_ms: int | None, end_ms: int | None, filter: str | None,
                    after_id: int | None, limit: int, tail_start: bool) -> dict[str, Any]:
        """Events for `samlite logs`: one function, or every function of a stack (or of all stacks).

        Returns {"functions": [...], "events": [{function, stream, timestamp, message, id}], "last_id"}.
        `tail_start=True` with no `after_id` answers no events but the current cursor (so `--tail`
        without -s starts at "now").
        """
        try:
            compile_pattern(filter)
        except BadFilterPattern as exc:
            raise UsageError(f"bad --filter: {exc}") from None
        groups = {f"/aws/lambda/{name}": name for name in names}
        if tail_start and after_id is None and start_ms is None:
            return {"functions": names, "events": [], "last_id": self.last_id()}
        limit = max(1, min(int(limit), MAX_LIMIT))
        events = self.events(list(groups), start_ms=start_ms, end_ms=end_ms, filter_pattern=filter,
                             after_id=after_id, limit=limit)
        # Fewer than `limit` means every matching event up to now was read: the cursor can jump to
        # the newest row (rows skipped by the filter can never match later).
        last = events[-1].id if len(events) >= limit else max(self.last_id(), after_id or 0)
        return {
            "functions": names,
            "events": [{"id": e.id, "function": groups[e.group], "stream": e.stream, "timestamp": e.timestamp,
                        "message": e.message} for e in events],
            "last_id": last,
        }

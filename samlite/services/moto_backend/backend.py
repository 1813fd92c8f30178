"""The in-process moto backend behind the AWS endpoint: every service samlite does not run itself.

moto's backends are plain Python objects; each request is turned into the AWS URL moto's own URL
patterns expect and dispatched the way moto's botocore stubber does, with no moto server and no
Flask. moto is not thread-safe and not async, so every call runs on ONE worker thread (which also
orders the journal). moto is imported on the first request, keeping engine start-up and idle
memory unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import logging
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, cast
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from samlite.config import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from samlite.core.aws_api import AwsError, Reply, request_id
from samlite.core.http import MAX_BODY, BodyTooLarge, Receive, Request, Send, read_body
from samlite.services.moto_backend import aws_chunked, checksums, large_bodies, replay_ids, routing
from samlite.services.moto_backend.fixups import FIXUPS
from samlite.services.moto_backend.ingest import INGEST_MIN, Blob, Ingest
from samlite.services.moto_backend.ingest import needs_bytes as ingest_needs_bytes
from samlite.services.moto_backend.journal import Journal

log = logging.getLogger("samlite.engine")

S3_MAX_OBJECT = 5 * 1024**3  # S3's limit for one PutObject
CALL_TIMEOUT_S = 120.0
# Journal entries after which a snapshot replaces them (an env knob so tests can force it).
COMPACT_ENTRIES = int(os.environ.get("SAMLITE_CLOUD_COMPACT_ENTRIES", "5000"))
READ_ACTIONS = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "Search", "Lookup")

# Deploy-time fixes that must be replayed too (name -> function(args)); see deploy_handlers.


class Clock:
    """moto's time source while a mutating call runs: frozen at the journalled time, so a replay
    recreates time-derived ids (a DynamoDB stream label) exactly."""

    def __init__(self) -> None:
        self.frozen: float | None = None

    def utcnow(self) -> datetime.datetime:
        ts = time.time() if self.frozen is None else self.frozen
        return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).replace(tzinfo=None)


class MotoBackend:
    def __init__(self, home: Path, region: str, account_id: str, aws_url: str = "",
                 owners: Callable[[], dict[str, str]] | None = None,
                 verify: Callable[[Request], Any] | None = None) -> None:
        self.home = home
        self.verify = verify  # SigV4 check (settings.verify_sigv4), as for samlite's own services
        self.aws_url = aws_url
        self._owners = owners or dict  # physical id -> the stack that created it
        self.region = region
        self.account_id = account_id
        self.journal: Journal | None = None
        self.clock = Clock()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="moto")
        self._load_error: BaseException | None = None
        self._loading: asyncio.Future[None] | None = None
        self._urls: dict[str, list[tuple[re.Pattern[str], Any]]] = {}
        self.services: set[str] = set()
        # Called on the moto thread with the AWS URL of each acknowledged write (stream pollers wake up).
        self.on_write: list[Callable[[str], None]] = []
        self._clients: dict[str, Any] = {}  # boto3 clients to our own endpoint (listings, console reads)
        self._clients_lock = threading.Lock()
        # What moto would deliver (S3 notifications, SNS, EventBridge) goes to samlite's services
        # instead: install/begin/end run on the moto thread, deliver(notes) on the loop.
        self.observer: Any = None

    # --- the endpoint's hook -----------------------------------------------------------------
    claims_unsigned = staticmethod(routing.claims_unsigned)

    async def serve(self, head: Request, receive: Receive, send: Send) -> None:
        """The endpoint's hand-over: read the body of a request it routed here by its head, with
        its service's size limit, and answer it."""
        headers = {k.lower(): v for k, v in head.headers}
        s3 = routing.is_s3(headers, head.query_string.decode("latin-1"))
        chunked = s3 and aws_chunked.is_chunked(headers)
        received = await self._receive(head, headers, s3, chunked, receive, send)
        if received is None:
            return  # answered already, or the client is gone
        request, blob = received
        if self.verify is not None:
            try:
                self.verify(request)
            except AwsError as err:
                if blob is not None:
                    blob.path.unlink(missing_ok=True)
                await _send(send, _error(request, err), head=False)
                return
        if s3:
            try:
                if chunked:  # its checksums come in its trailer, checked as it is decoded
                    request.headers, request.body = aws_chunked.plain(request.headers, request.body)
                    request._lower.clear()  # the cached header lookup
                elif blob is not None:
                    blob.digests.check(blob.md5)
                elif request.method in ("PUT", "POST"):
                    checksums.check(headers, request.method, request.body)
            except (aws_chunked.ChunkedError, checksums.ChecksumError) as err:
                if blob is not None:
                    blob.path.unlink(missing_ok=True)
                await _send(send, _s3_error(err.code, err.message, 400), head=False)
                return
        reply = await self.handle(request, blob)
        await _send(send, reply, head=request.method == "HEAD")

    async def _receive(self, request: Request, headers: dict[str, str], s3: bool, chunked: bool,
                       receive: Receive, send: Send) -> tuple[Request, Blob | None] | None:
        """The request with its body, and the body's stored file for a large S3 upload (ingest.py);
        None once a refusal is sent, or when the client went away mid-body (nothing is stored)."""
        declared = headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else None
        ingest = None
        if s3 and not chunked and size is not None and INGEST_MIN <= size <= S3_MAX_OBJECT \
                and request.method in ("PUT", "POST"):
            ingest = await self._ingest(ingest_needs_bytes(
                request.method, request.query_string.decode("latin-1"), headers, self.verify is not None),
                checksums.Digests(headers, request.method, md5_known=True))
        try:
            request.body = await read_body(request.headers, receive, S3_MAX_OBJECT if s3 else MAX_BODY,
                                           ingest.feed if ingest is not None else None)
            if size is not None and (ingest.size if ingest is not None else len(request.body)) != size:
                raise ConnectionResetError("the client went away mid-body")
        except BodyTooLarge:
            if ingest is not None:
                await ingest.abort()
            if s3:
                reply = _s3_error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400)
            else:
                reply = Reply.json({"__type": "RequestEntityTooLarge", "message": "Request entity too large"}, 413)
            await _send(send, reply, head=False)
            return None
        except ConnectionResetError:
            if ingest is not None:
                await ingest.abort()
            return None
        except BaseException:
            if ingest is not None:
                await ingest.abort()
            raise
        if ingest is None:
            return request, None
        try:
            blob = await ingest.finish()
        except Exception as exc:
            await ingest.abort()
            rid = request_id()
            log.exception("moto backend: storing the body of %s %s failed (request id %s)",
                          request.method, request.path, rid)
            await _send(send, _internal_error(request, rid, exc), head=False)
            return None
        # A StoredBody is not bytes: only moto's PutObject/UploadPart see it (ingest.py).
        request.body = cast(bytes, blob.body)
        return request, blob

    async def _ingest(self, in_memory: bool, digests: checksums.Digests) -> Ingest | None:
        """A large S3 body's store-while-receiving (after loading: the journal's load clears
        orphaned incoming files). None if the backend cannot load: handle() answers that."""
        try:
            await self._ensure_loaded()
        except RuntimeError:
            return None
        assert self.journal is not None
        return Ingest(self.journal.blobs, in_memory, digests)

    async def handle(self, request: Request, blob: Blob | None = None) -> Reply:
        """Answer one AWS API request with moto. Never raises: failures are a 500 with a request id.
        `blob`: the request's body, already stored (ingest.py); the call takes it over."""
        rid = request_id()
        try:
            await self._ensure_loaded()
            fut = asyncio.get_running_loop().run_in_executor(self._executor, self._call, request, blob)
            status, headers, body, notes = await asyncio.wait_for(fut, CALL_TIMEOUT_S)
        except Exception as exc:  # an API answers, it never drops the connection
            log.exception("moto backend failed on %s %s (request id %s)", request.method, request.path, rid)
            return _internal_error(request, rid, exc)
        if notes:
            await self.observer.deliver(notes)  # committed before the answer, like the journal entry
        content_type = None
        out: list[tuple[str, str]] = []
        for key, value in headers.items():
            lk = key.lower()
            if lk == "content-type":
                content_type = str(value)
            elif lk not in ("content-length", "server", "connection", "transfer-encoding") or \
                    (lk == "content-length" and request.method == "HEAD"):
                out.append((key, str(value)))
        if not any(k.lower() in ("x-amzn-requestid", "x-amz-request-id") for k, _ in out):
            out.append(("x-amzn-requestid", rid))
        return Reply(status, body, content_type, out)

    async def close(self) -> None:
        """At engine stop: compact a long journal, close it, end the worker thread."""
        if self._loading is not None and self._load_error is None:
            try:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
            except Exception:
                log.exception("moto backend: closing the journal failed")
        self._executor.shutdown(wait=False)

    async def run(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the moto thread (deploy handlers read and fix backend state this way)."""
        await self._ensure_loaded()
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def fixup(self, name: str, args: dict[str, Any]) -> None:
        """Apply a registered deploy-time fix and journal it, so a replay applies it too."""
        import json

        def apply() -> None:
            FIXUPS[name](args)
            assert self.journal is not None
            self.journal.append(self.journal.next_seq(), "fixup", "", name, [], json.dumps(args).encode(), time.time())

        await self.run(apply)

    # --- control surface: `samlite list buckets|tables|...` -------------------------------------------
    async def cli_list(self, kind: str, stack: str | None = None) -> list[dict[str, Any]]:
        from samlite.services.moto_backend import listing

        if kind == "emails":
            found = await self.run(lambda: listing.sent_emails(self.account_id, self.region))
        else:
            await self._ensure_loaded()
            found = await asyncio.to_thread(listing.rows, kind, self._client)
        owners = self._owners()
        for row in found:
            row["stack"] = next((owners[v] for v in (row.get("name"), row.get("arn"), row.get("id")) if v in owners), None)
        return [row for row in found if stack is None or row["stack"] == stack]

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a read-only `fn(client, *args)` (listing.py) off the loop: it calls the AWS endpoint
        with boto3, so each call is answered on the moto thread like any SDK call."""
        await self._ensure_loaded()
        return await asyncio.to_thread(fn, self._client, *args)

    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        with self._clients_lock:  # making a client is not thread-safe; using one is
            client = self._clients.get(service)
            if client is None:
                client = self._clients[service] = boto3.session.Session().client(
                    service, endpoint_url=self.aws_url, region_name=self.region, aws_access_key_id=ACCESS_KEY_ID,
                    aws_secret_access_key=SECRET_ACCESS_KEY, config=Config(retries={"max_attempts": 1}))
        return client

    # --- loading (moto thread) -----------------------------------------------------------------
    async def _ensure_loaded(self) -> None:
        if self._loading is None:
            self._loading = asyncio.get_running_loop().run_in_executor(self._executor, self._load)
        try:
            await asyncio.shield(self._loading)
        except Exception as exc:
            raise RuntimeError(f"the moto backend could not load: {exc}") from exc

    def _load(self) -> None:
        started = time.monotonic()
        os.environ.setdefault("MOTO_ACCOUNT_ID", self.account_id)
        import moto.core.utils as moto_utils

        # Before any backend module is imported (they bind `utcnow` at import): moto's clock is ours.
        moto_utils.utcnow = self.clock.utcnow
        import moto.backends  # noqa: F401
        import moto.core.responses as moto_responses

        # moto lists a response class's methods (inspect.getmembers) on every call; they never change.
        moto_responses.method_names_from_class = functools.lru_cache(maxsize=None)(
            moto_responses.method_names_from_class)
        large_bodies.install()
        replay_ids.install()
        if self.observer is not None:
            self.observer.install()

        self.journal = Journal(self.home)
        seq, state = self.journal.load_snapshot()
        if state is not None:
            self._restore(state)
        replayed = 0
        for entry in self.journal.entries(seq):
            try:
                if entry.kind == "fixup":
                    import json

                    FIXUPS[entry.url](json.loads(entry.body))
                else:
                    # A stored body's key reads from its blob, as when it was first written.
                    with large_bodies.known(entry.body, entry.blob, None) if entry.blob else contextlib.nullcontext():
                        status, _, body = self._execute(entry.seq, entry.clock, entry.method, entry.url,
                                                         entry.headers, entry.body)
                    if status >= 400:
                        log.warning("moto replay: entry %s answered %s: %s", entry.seq, status, body[:200])
            except Exception:  # one bad entry must not lose the rest
                log.exception("moto replay: entry %s failed", entry.seq)
            replayed += 1
        self.journal.since_snapshot = replayed
        if replayed > COMPACT_ENTRIES // 5:
            self._compact()
        log.info("moto backend loaded in %.0f ms (%d journal entries replayed)",
                 (time.monotonic() - started) * 1000, replayed)

    def _close(self) -> None:
        if self.journal is None:
            return
        if self.journal.since_snapshot > COMPACT_ENTRIES // 5:
            self._compact()
        self.journal.close()

    # --- snapshots -----------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        import moto.backends as backends

        state: dict[str, Any] = {}
        for service in sorted(self.services):
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            state[service] = {account: {region: dict(b.__dict__) for region, b in regions.items()}
                              for account, regions in backend_dict.items()}
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        import moto.backends as backends

        for service, accounts in state.items():
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            for account, regions in accounts.items():
                for region, attrs in regions.items():
                    backend_dict[account][region].__dict__.update(attrs)
            self.services.add(service)

    def _compact(self) -> None:
        assert self.journal is not None
        try:
            self.journal.write_snapshot(self._state())
        except Exception:  # the journal alone is still complete
            log.exception("moto backend: snapshot failed; keeping the journal")

    # --- one call (moto thread) -----------------------------------------------------------------
    def _call(self, request: Request, blob: Blob | None = None) -> tuple[int, dict[str, Any], bytes, list[Any]]:
        try:
            return self._call_once(request, blob)
        finally:
            if blob is not None:  # not taken over by the journal: the request changed nothing
                blob.path.unlink(missing_ok=True)

    def _call_once(self, request: Request, blob: Blob | None) -> tuple[int, dict[str, Any], bytes, list[Any]]:
        assert self.journal is not None
        query = request.query_string.decode("latin-1")
        lowered = {k.lower(): v for k, v in request.headers}
        url, host = routing.aws_url(request.raw_path.decode("latin-1"), query, lowered, self.region)
        headers = [(k, v) for k, v in request.headers if k.lower() != "host"] + [("Host", host)]
        json_protocol = bool(lowered.get("x-amz-target"))
        if json_protocol and not _json_object(request.body):
            return 400, {"Content-Type": "application/x-amz-json-1.1"}, (
                b'{"__type": "SerializationException", "message": "The request body is not a valid JSON object."}'), []
        if not _mutates(request.method, lowered, request.body, host):
            return (*_aws_status(json_protocol, *self._execute(None, None, request.method, url, headers, request.body)),
                    [])
        # Deploy handlers pin moto's clock for time-derived ids (a table's stream label).
        pinned = lowered.get("x-samlite-clock")
        seq, clock = self.journal.next_seq(), float(pinned) if pinned else time.time()
        if self.observer is not None:
            self.observer.begin()
        try:
            with large_bodies.known(request.body, blob.path, blob.md5) if blob else contextlib.nullcontext():
                status, out_headers, body = _aws_status(
                    json_protocol, *self._execute(seq, clock, request.method, url, headers, request.body))
        finally:
            notes = self.observer.end() if self.observer is not None else []
        if status < 400:
            # Committed before the answer is sent: an acknowledged write survives a SIGKILL.
            self.journal.append(seq, "request", request.method, url, headers, request.body, clock,
                                blob.path if blob else None)
            for listener in self.on_write:
                listener(url)
            if self.journal.since_snapshot >= COMPACT_ENTRIES:
                self._compact()
        return status, out_headers, body, notes if status < 400 else []

    def _execute(self, seq: int | None, clock: float | None, method: str, url: str,
                 headers: list[tuple[str, str]], body: bytes) -> tuple[int, dict[str, Any], bytes]:
        from moto.moto_api._internal import mock_random

        if seq is not None:
            mock_random.seed(seq)  # the same ids on replay
        self.clock.frozen = clock
        try:
            return self._dispatch(method, url, headers, body, mutating=seq is not None)
        finally:
            self.clock.frozen = None

    def _dispatch(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes,
                  mutating: bool) -> tuple[int, dict[str, Any], bytes]:
        """moto's botocore-stubber dispatch: the first backend whose URL patterns match."""
        import moto.backend_index as backend_index
        from botocore.awsrequest import AWSPreparedRequest
        from botocore.compat import HTTPHeaders
        from moto.core.exceptions import HTTPException
        from moto.core.request import normalize_request

        http_headers = HTTPHeaders()
        for key, value in headers:
            http_headers[key] = value
        parts = urlsplit(url)
        clean_url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        for service, pattern in backend_index.backend_url_patterns:
            if not pattern.match(clean_url):
                continue
            for url_re, handler in self._backend_urls(service):
                if not url_re.match(clean_url):
                    continue
                if mutating:
                    self.services.add(service)
                # A StoredBody (ingest.py) reaches moto only as the request's cached data.
                data = body if isinstance(body, bytes) else None
                prepared = AWSPreparedRequest(method, url, http_headers, data or None, stream_output=False)
                normalized = normalize_request(prepared)
                large_bodies.preset_body(normalized, body, service == "s3" and method == "PUT")
                try:
                    status, out_headers, out_body = handler(normalized, normalized.raw_url, normalized.headers)
                except HTTPException as exc:
                    status, out_headers, out_body = exc.code, dict(exc.get_headers() or {}), exc.get_body()
                except NotImplementedError as exc:
                    return _unknown_operation(headers, body, str(exc))
                out_body = _bytes(out_body)
                # moto's answer to an action it does not know (a HEAD's 404 has no body by nature:
                # HeadObject/HeadBucket of a missing key or bucket is a real 404)
                if int(status) == 404 and not out_body and method != "HEAD":
                    return _unknown_operation(headers, body, f"unknown operation for {service}")
                return int(status), dict(out_headers or {}), out_body
        return _unknown_operation(headers, body, f"samlite does not emulate {parts.netloc.split('.')[0]}")

    def _backend_urls(self, service: str) -> list[tuple[re.Pattern[str], Any]]:
        urls = self._urls.get(service)
        if urls is None:
            import moto.backends as backends
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.core.base_backend import BackendDict

            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            else:
                backend = backend_dict["global"]
            urls = self._urls[service] = [(re.compile(u), h) for u, h in backend.urls.items()]
        return urls


# --- helpers -------------------------------------------------------------------------------------
# JSON-protocol errors that moto answers with another HTTP status than AWS: AWS's JSON services
# answer every client error 400 (Secrets Manager's ResourceNotFoundException included), and SDKs,
# the Parameters and Secrets extension and callers that check the status see the difference.
_JSON_404_IS_400 = (b'"__type": "ResourceNotFoundException"', b'"__type":"ResourceNotFoundException"')


def _aws_status(json_protocol: bool, status: int, headers: dict[str, Any],
                body: bytes) -> tuple[int, dict[str, Any], bytes]:
    if json_protocol and status == 404 and any(m in body for m in _JSON_404_IS_400):
        return 400, headers, body
    return status, headers, body


def _mutates(method: str, headers: dict[str, str], body: bytes, host: str) -> bool:
    target = headers.get("x-amz-target")
    if target:
        return not target.rpartition(".")[2].startswith(READ_ACTIONS)
    if "x-www-form-urlencoded" in headers.get("content-type", "") and ".s3." not in f".{host}":
        action = dict(parse_qsl(body.decode("utf-8", "replace"))).get("Action", "")
        return not action.startswith(READ_ACTIONS)
    return method not in ("GET", "HEAD", "OPTIONS")


def _json_object(body: bytes) -> bool:
    import json

    try:
        return isinstance(json.loads(body or b"{}"), dict)
    except ValueError:
        return False


def _bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return b"".join(c.encode() if isinstance(c, str) else c for c in body)


def _protocol(headers: Any) -> str:
    lowered = {k.lower(): v for k, v in (headers.items() if isinstance(headers, dict) else headers)}
    if lowered.get("x-amz-target"):
        return "json"
    if "x-www-form-urlencoded" in lowered.get("content-type", ""):
        return "query"
    return "rest"


def _unknown_operation(headers: list[tuple[str, str]], body: bytes, message: str) -> tuple[int, dict[str, Any], bytes]:
    import json

    kind = _protocol(headers)
    if kind == "json":
        return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
            {"__type": "UnknownOperationException", "message": message}).encode()
    if kind == "query":
        xml = (f'<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>'
               f"<Message>{escape(message)}</Message></Error><RequestId>{request_id()}</RequestId></ErrorResponse>")
        return 400, {"Content-Type": "text/xml"}, xml.encode()
    reply = _s3_error("NotImplemented", message, 501)
    return reply.status, {"Content-Type": "application/xml"}, reply.body


def _s3_error(code: str, message: str, status: int, rid: str | None = None) -> Reply:
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{escape(message)}</Message>'
           f"<RequestId>{rid or request_id()}</RequestId></Error>")
    return Reply(status, xml.encode(), "application/xml")


def _error(request: Request, err: AwsError) -> Reply:
    """An error of samlite's own (a bad signature) in the request's protocol."""
    kind = _protocol(request.headers)
    if kind == "json":
        return Reply.json({"__type": err.code, "message": err.message}, err.status)
    if kind == "query":
        xml = (f'<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>{escape(err.code)}</Code>'
               f"<Message>{escape(err.message)}</Message></Error><RequestId>{request_id()}</RequestId></ErrorResponse>")
        return Reply(err.status, xml.encode(), "text/xml")
    return _s3_error(err.code, err.message, err.status)


def _internal_error(request: Request, rid: str, exc: BaseException) -> Reply:
    message = f"Internal error in the emulated service ({type(exc).__name__}); see the engine log, request id {rid}"
    kind = _protocol(request.headers)
    headers = [("x-amzn-requestid", rid)]
    if kind == "json":
        return Reply.json({"__type": "InternalFailure", "message": message}, 500, headers=headers)
    if kind == "query":
        xml = (f'<?xml version="1.0"?><ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>'
               f"<Message>{escape(message)}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return Reply(500, xml.encode(), "text/xml", headers)
    reply = _s3_error("InternalError", message, 500, rid)
    reply.headers = headers
    return reply


async def _send(send: Send, reply: Reply, head: bool) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    if reply.content_type:
        raw.append((b"content-type", reply.content_type.encode("latin-1")))
    if not head or not any(k.lower() == "content-length" for k, _ in reply.headers):
        raw.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else reply.body})

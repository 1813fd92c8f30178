"""Lambda-backed custom resources: CloudFormation's Create / Update / Delete requests to a function
of the stack, answered by an HTTP PUT to the request's ResponseURL, served here on the gateway
port under /_samlite/cfn-response/.

A deploy runs its custom resources before it writes the stack: a FAILED answer, an invalid one or
no answer fails the deploy, the custom resources this deploy had created get a Delete (as a
rollback would send), and the previous stack stays as it was. The answers' PhysicalResourceId
and Data replace the tokens the template put where Ref / GetAtt name a custom resource, and are
kept (table custom_resources) for later updates, deletes and unchanged redeploys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from typing import TYPE_CHECKING, Any, Callable

from samlite.errors import DeployError
from samlite.template.model import Context, Resource, Stack, from_dict, to_dict
from samlite.template.types import custom

if TYPE_CHECKING:
    from samlite.core.invoke import InvokeService
    from samlite.core.runtime import FunctionSpec
    from samlite.core.store import Store

log = logging.getLogger("samlite.engine")

PREFIX = "/_samlite/cfn-response/"
MAX_DATA = 4096  # CloudFormation's limit on a response's size
# How long to wait for the answer after the function returned (cfnresponse answers before returning).
ANSWER_GRACE_S = float(os.environ.get("SAMLITE_CUSTOM_RESOURCE_WAIT", "5"))


class CustomResources:
    def __init__(self, store: "Store", invoker: "InvokeService", gateway_url: str) -> None:
        self.store = store
        self.invoker = invoker
        self.gateway_url = gateway_url
        self._waiting: dict[str, asyncio.Future[bytes]] = {}

    # --- the ResponseURL ---------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI: PUT /_samlite/cfn-response/<request id> with the function's answer."""
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request_id = scope["path"][len(PREFIX):].strip("/")
        future = self._waiting.get(request_id)
        if scope.get("method") != "PUT" or future is None:
            status, reply = 404, b"<Error><Code>NoSuchKey</Code></Error>"
        else:
            if not future.done():
                future.set_result(body)
            status, reply = 200, b""
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(reply)).encode())]})
        await send({"type": "http.response.body", "body": reply})

    # --- a deploy ------------------------------------------------------------------------------
    async def apply(self, new: Stack, previous: dict[str, dict[str, Any]],
                    spec_of: Callable[[str], "FunctionSpec | None"]) -> tuple[Stack, dict[str, dict[str, Any]]]:
        """Create or update the custom resources of `new` (`previous`: the stack's stored answers).
        Returns `new` with their tokens replaced, and the rows to save. Raises DeployError (after
        deleting what it created) when one fails."""
        stored = dict(previous)
        results: dict[str, tuple[str, dict[str, Any]]] = {lid: (row["physical_id"], row["data"])
                                                            for lid, row in stored.items()}
        pending = [r for r in new.resources.values() if custom.is_custom(r.type) and r.emulated]
        created: list[tuple[Resource, str]] = []
        ctx = Context(stack_name=new.name, region=new.region, account_id=new.account_id)
        try:
            while pending:
                # A custom resource whose properties name another one waits for that one's answer.
                ready = [r for r in pending if not _blocked(r, pending)] or pending[:1]
                for resource in ready:
                    pending.remove(resource)
                    props = json.loads(_substitute(json.dumps(dict(resource.properties)), results, resource.logical_id))
                    before = stored.get(resource.logical_id)
                    if before is not None and before["properties"] == props:
                        continue  # unchanged: no request, the stored answer stands
                    kind = "Create" if before is None else "Update"
                    answer = await self._request(kind, resource, props, before, ctx, spec_of)
                    results[resource.logical_id] = answer
                    stored[resource.logical_id] = {"physical_id": answer[0], "data": answer[1], "properties": props}
                    if kind == "Create":
                        created.append((resource, answer[0]))
        except DeployError:
            for resource, physical in reversed(created):  # roll back what this deploy created
                await self._quietly("Delete", resource, stored[resource.logical_id]["properties"],
                                    {"physical_id": physical}, ctx, spec_of)
            raise
        model = json.loads(_substitute(json.dumps(to_dict(new)), results, None))
        rows = {lid: row for lid, row in stored.items()
                if lid in new.resources and custom.is_custom(new.resources[lid].type)}
        return from_dict(Stack, model), rows

    @staticmethod
    def save(db: Any, stack: str, rows: dict[str, dict[str, Any]]) -> None:
        """Inside the deploy's transaction: keep the answers of the resources just applied."""
        db.execute("DELETE FROM custom_resources WHERE stack = ?", (stack,))
        for lid, row in rows.items():
            db.execute("INSERT INTO custom_resources (stack, logical_id, physical_id, data_json, properties_json)"
                       " VALUES (?, ?, ?, ?, ?)", (stack, lid, row["physical_id"], json.dumps(row["data"]),
                                                   json.dumps(row["properties"])))

    async def delete_removed(self, new: Stack | None, old: Stack | None, stored: dict[str, dict[str, Any]],
                             spec_of: Callable[[str], "FunctionSpec | None"]) -> None:
        """After the stack changed (`new` None: deleted): Delete the custom resources it no longer
        has, from their `stored` answers (failures are logged, as CloudFormation's cleanup does)."""
        if old is None:
            return
        keep = {lid for lid, r in (new.resources.items() if new else []) if custom.is_custom(r.type)}
        ctx = Context(stack_name=old.name, region=old.region, account_id=old.account_id)
        for lid in reversed(list(stored)):
            resource = old.resources.get(lid)
            if lid in keep or resource is None:
                continue
            await self._quietly("Delete", resource, stored[lid]["properties"], stored[lid], ctx, spec_of)
        if new is None:
            with self.store.transaction() as db:
                db.execute("DELETE FROM custom_resources WHERE stack = ?", (old.name,))

    # --- one request ---------------------------------------------------------------------------
    async def _quietly(self, kind: str, resource: Resource, props: dict[str, Any], before: dict[str, Any] | None,
                       ctx: Context, spec_of: Callable[[str], "FunctionSpec | None"]) -> None:
        try:
            await self._request(kind, resource, props, before, ctx, spec_of)
        except DeployError as exc:
            log.warning("custom resource %s: %s failed: %s", resource.logical_id, kind, exc.message)

    async def _request(self, kind: str, resource: Resource, props: dict[str, Any], before: dict[str, Any] | None,
                       ctx: Context, spec_of: Callable[[str], "FunctionSpec | None"]) -> tuple[str, dict[str, Any]]:
        lid = resource.logical_id
        token = props.get("ServiceToken")
        spec = spec_of(str(token))
        if spec is None:
            raise DeployError(f"{lid}: ServiceToken {token!r} is not a function of this stack")
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": kind, "ServiceToken": token,
            "ResponseURL": f"{self.gateway_url}{PREFIX}{request_id}",
            "StackId": ctx.stack_id, "RequestId": request_id, "LogicalResourceId": lid,
            "ResourceType": resource.type, "ResourceProperties": props,
        }
        if before is not None:
            event["PhysicalResourceId"] = before["physical_id"]
        if kind == "Update" and before is not None:
            event["OldResourceProperties"] = before["properties"]
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            result = await self.invoker.run(spec, json.dumps(event).encode(), str(uuid.uuid4()), source="cfn")
            try:
                body = await asyncio.wait_for(asyncio.shield(future), ANSWER_GRACE_S)
            except asyncio.TimeoutError:
                error = f" (the function failed: {result.payload[:300].decode(errors='replace')})" \
                    if result.function_error else ""
                raise DeployError(f"{lid}: CloudFormation did not receive a response from your Custom Resource"
                                  f"{error}. Please check your logs for requestId [{request_id}].") from None
        finally:
            self._waiting.pop(request_id, None)
        return _answer(lid, body, request_id, before)

    def stored(self, stack: str) -> dict[str, dict[str, Any]]:
        return {row["logical_id"]: {"physical_id": row["physical_id"], "data": json.loads(row["data_json"]),
                                    "properties": json.loads(row["properties_json"])}
                for row in self.store.query("SELECT * FROM custom_resources WHERE stack = ?", (stack,))}


def _answer(lid: str, body: bytes, request_id: str, before: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The (PhysicalResourceId, Data) of a SUCCESS answer; DeployError for FAILED or garbage."""
    if len(body) > MAX_DATA:
        raise DeployError(f"{lid}: Response object is too long.")
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("Status") not in ("SUCCESS", "FAILED"):
        raise DeployError(f"{lid}: Invalid response object: the response to request {request_id} is not a JSON "
                          "object with Status SUCCESS or FAILED")
    if answer["Status"] == "FAILED":
        raise DeployError(f"{lid}: Received response status [FAILED] from custom resource. Message returned: "
                          f"{answer.get('Reason') or 'See the details in CloudWatch Log Stream'} "
                          f"(RequestId: {request_id})")
    physical = answer.get("PhysicalResourceId") or (before or {}).get("physical_id")
    if not isinstance(physical, str) or not physical:
        raise DeployError(f"{lid}: Invalid PhysicalResourceId")
    data = answer.get("Data") or {}
    if not isinstance(data, dict):
        raise DeployError(f"{lid}: Invalid response object: Data must be an object")
    return physical, data


def _blocked(resource: Resource, pending: list[Resource]) -> bool:
    names = {m.group(1) for m in custom.TOKEN.finditer(json.dumps(dict(resource.properties)))}
    return any(other.logical_id in names for other in pending if other is not resource)


def _substitute(text: str, results: dict[str, tuple[str, dict[str, Any]]], current: str | None) -> str:
    """Replace custom-resource tokens in JSON text with the answers (JSON-escaped)."""
    def one(match: Any) -> str:
        lid, attr = match.group(1), match.group(2)
        if lid not in results:
            if current is not None:
                raise DeployError(f"{current}: it refers to custom resource {lid}, which has no answer")
            return match.group(0)
        physical, data = results[lid]
        if attr is None:
            value = physical
        elif attr in data:
            value = data[attr]
        else:
            raise DeployError(f"{lid}: CustomResource attribute error: Vendor response doesn't contain {attr} key "
                              "in object")
        return json.dumps(value if isinstance(value, str) else json.dumps(value))[1:-1]

    return custom.TOKEN.sub(one, text)

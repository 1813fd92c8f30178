"""Deploy: plan the diff between a model and the stored stack, then apply it atomically.

`plan()` is pure: it compares logical resources by type and properties hash. `apply()` first does
the idempotent file work (content-addressed artifacts, unpacked code), then writes every row of
the new stack in ONE SQLite transaction: a crash before COMMIT leaves the old stack, after it the
new one, never a mix. Only then are the live services refreshed from the store, so the store is
always the source of truth (the same refresh runs at engine start-up).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samlite.errors import DeployError, NotFoundError
from samlite.services.lambda_.esm import EsmManager
from samlite.services.moto_backend import deploy_handlers as cloud_resources
from samlite.template import model
from samlite.template.model import Stack, from_dict, to_dict
from samlite.template.streams import stream_kind
from samlite.template.types.cloud import INERT_TYPES
from samlite.template.types.custom import is_custom

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.core.invoke import InvokeService
    from samlite.core.stacks import StackCatalog
    from samlite.core.store import Store
    from samlite.services.apigateway.gateway import GatewayApp
    from samlite.services.cloudformation.custom_resources import CustomResources
    from samlite.services.logs.service import LogService
    from samlite.services.moto_backend import MotoBackend
    from samlite.services.sqs.service import QueueService

log = logging.getLogger("samlite.engine")

# Properties whose change makes CloudFormation replace the resource rather than update it.
REPLACING_PROPERTIES = {
    "AWS::Serverless::Function": ("FunctionName",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::SQS::Queue": ("QueueName", "FifoQueue"),
    "AWS::Lambda::EventSourceMapping": ("EventSourceArn",),
}
_EXECUTE_API = re.compile(r"https?://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(/[^\s\"']*)?")
_LAMBDA_URL = re.compile(r"https?://([a-z0-9]+)\.lambda-url\.[a-z0-9-]+\.on\.aws(/[^\s\"']*)?")


@dataclass(frozen=True)
class Change:
    action: str  # Add | Modify | Remove
    logical_id: str
    type: str
    replacement: bool
    emulated: bool

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "logical_id": self.logical_id, "type": self.type,
                "replacement": self.replacement, "emulated": self.emulated}


def plan(new: Stack, old_resources: dict[str, dict[str, Any]], old_properties: dict[str, Any]) -> list[Change]:
    """The change set: Add / Modify / Remove per logical id, with replacement flags."""
    changes: list[Change] = []
    for logical_id, res in sorted(new.resources.items()):
        old = old_resources.get(logical_id)
        if old is None:
            changes.append(Change("Add", logical_id, res.type, False, res.emulated))
        elif old["type"] != res.type:
            changes.append(Change("Modify", logical_id, res.type, True, res.emulated))
        elif old["properties_hash"] != res.properties_hash:
            before = old_properties.get(logical_id, {})
            replacing = any(
                before.get(key) != res.properties.get(key) for key in REPLACING_PROPERTIES.get(res.type, ())
            )
            changes.append(Change("Modify", logical_id, res.type, replacing, res.emulated))
    for logical_id, old in sorted(old_resources.items()):
        if logical_id not in new.resources:
            changes.append(Change("Remove", logical_id, old["type"], False, bool(old["emulated"])))
    return changes


class Deployer:
    """Plans and applies stacks; after each change it refreshes the services that serve them."""

    def __init__(self, settings: "Settings", store: "Store", catalog: "StackCatalog", invoker: "InvokeService",
                 queues: "QueueService", esm: "EsmManager", gateway: "GatewayApp", cloud: "MotoBackend",
                 logs: "LogService", gateway_url: str, custom: "CustomResources | None" = None) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.invoker = invoker
        self.functions = invoker.functions
        self.queues = queues
        self.esm = esm
        self.gateway = gateway
        self.cloud = cloud
        self.logs = logs
        self.gateway_url = gateway_url
        self.custom = custom  # Lambda-backed custom resources (CloudFormation's requests)
        self.deploying: set[str] = set()  # stacks with a deploy or delete under way
        self.last_changes: dict[str, dict[str, Any]] = {}  # stack -> its last applied change set (this run)

    # --- reading ---------------------------------------------------------------------------
    def stack_names(self) -> list[str]:
        return self.catalog.names()

    def load_model(self, name: str) -> Stack | None:
        return self.catalog.model(name)

    def models(self) -> list[Stack]:
        return self.catalog.models()

    # --- control surface -------------------------------------------------------------------
    def cli_exports(self) -> dict[str, str]:
        exports: dict[str, str] = {}
        for stack in self.models():
            for out in stack.outputs:
                if out.export_name:
                    exports[out.export_name] = out.value
        return exports

    def cli_plan(self, model: dict[str, Any]) -> dict[str, Any]:
        new = from_dict(Stack, model)
        old_resources, old_props = self._old_state(new.name)
        changes = plan(new, old_resources, old_props)
        return {
            "stack": new.name,
            "exists": bool(old_resources) or new.name in self.stack_names(),
            "changes": [c.to_dict() for c in changes],
            "skipped": [{"logical_id": r.logical_id, "type": r.type}
                        for r in new.resources.values() if not r.emulated],
        }

    async def cli_apply(self, model: dict[str, Any], artifacts: list[dict[str, Any]]) -> dict[str, Any]:
        new = from_dict(Stack, model)
        if new.name in self.deploying:
            raise DeployError(f"stack {new.name!r} is being deployed by another command",
                              hint="Wait for it to finish, then deploy again.")
        self.deploying.add(new.name)
        try:
            return await self._apply(new, artifacts)
        finally:
            self.deploying.discard(new.name)

    async def cli_delete(self, stack: str) -> dict[str, Any]:
        if stack not in self.stack_names():
            raise NotFoundError(f"stack {stack!r} is not deployed")
        if stack in self.deploying:
            raise DeployError(f"stack {stack!r} is being deployed; try again when it finishes")
        exports = {o.export_name for o in (self.load_model(stack) or _empty()).outputs if o.export_name}
        for other in self.models():
            if other.name != stack and exports & set(other.imports):
                used = sorted(exports & set(other.imports))
                raise DeployError(f"stack {stack!r} cannot be deleted: stack {other.name!r} imports {', '.join(used)}")
        self.deploying.add(stack)
        try:
            if self.custom is not None:  # Delete requests while their functions still run
                await self.custom.delete_removed(None, self.load_model(stack), self.custom.stored(stack),
                                                 self._live_spec)
            await cloud_resources.delete(self.cloud, self.load_model(stack))  # S3, DynamoDB, ... (moto)
            with self.store.transaction() as db:
                removed = [r["logical_id"] for r in db.execute(
                    "SELECT logical_id FROM resources WHERE stack = ?", (stack,))]
                names = [r["name"] for r in db.execute("SELECT name FROM functions WHERE stack = ?", (stack,))]
                queues = [r["name"] for r in db.execute("SELECT name FROM queues WHERE stack = ?", (stack,))]
                for table in ("functions", "resources", "mappings", "api_keys", "custom_resources"):
                    db.execute(f"DELETE FROM {table} WHERE stack = ?", (stack,))
                for name in queues:
                    _delete_queue(db, name)
                db.execute("DELETE FROM stacks WHERE name = ?", (stack,))
                groups = self.logs.forget_stack(db, stack, names)
            self.last_changes.pop(stack, None)
            await self.refresh(retire=names)
            self.invoker.recorder.flush()  # buffered lines of the retired functions go too
            for group in groups:  # after the transaction: in short batches, the engine serving between them
                await self.logs.delete_group(group)
        finally:
            self.deploying.discard(stack)
        return {"stack": stack, "removed": removed}

    def cli_stacks(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT s.name, s.status, s.template_path, s.created_at, s.updated_at,"
                                " (SELECT COUNT(*) FROM resources r WHERE r.stack = s.name) AS resources"
                                " FROM stacks s ORDER BY s.name")
        return [{"stack": r["name"], "status": r["status"], "template": r["template_path"],
                 "resources": r["resources"], "created": _iso(r["created_at"]), "updated": _iso(r["updated_at"])}
                for r in rows]

    def cli_resources(self, stack: str | None = None) -> list[dict[str, Any]]:
        return self.catalog.resources(stack)

    def cli_outputs(self, stack: str | None = None) -> list[dict[str, Any]]:
        names = self.catalog.selected(stack)
        out = []
        for name in names:
            row = self.store.query_one("SELECT outputs_json FROM stacks WHERE name = ?", (name,))
            for o in json.loads(row["outputs_json"]) if row else []:
                out.append({"stack": name, **o})
        return out

    def cli_endpoints(self, stack: str | None = None) -> list[dict[str, Any]]:
        names = self.catalog.selected(stack)
        out: list[dict[str, Any]] = []
        for name in names:
            st = self.load_model(name)
            if st is not None:
                out.extend(endpoints(st, self.gateway_url))
        return out

    def cli_api_keys(self, stack: str | None = None) -> list[dict[str, Any]]:
        names = self.catalog.selected(stack)
        rows = []
        for name in names:
            rows += [{"stack": r["stack"], "id": r["id"], "name": r["name"], "api_id": r["api_id"], "value": r["value"]}
                     for r in self.store.query("SELECT * FROM api_keys WHERE stack = ? ORDER BY name", (name,))]
        return rows

    def cli_function(self, function: str, stack: str | None = None) -> dict[str, Any]:
        return self.catalog.function(function, stack)

    # --- applying --------------------------------------------------------------------------
    def _old_state(self, name: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        rows = self.store.query("SELECT * FROM resources WHERE stack = ?", (name,))
        old_resources = {r["logical_id"]: dict(r) for r in rows}
        old_model = self.load_model(name)
        old_props = {k: dict(v.properties) for k, v in old_model.resources.items()} if old_model else {}
        return old_resources, old_props

    async def _apply(self, new: Stack, artifacts: list[dict[str, Any]]) -> dict[str, Any]:
        code = await asyncio.to_thread(self._install_artifacts, artifacts)
        await _fault_hold()
        self._check(new)
        changes = plan(new, *self._old_state(new.name))
        await self.esm.check_sources(new)
        old_model = self.load_model(new.name)
        await cloud_resources.apply(self.cloud, new, old_model)  # S3, DynamoDB, ... (moto)
        custom_rows: dict[str, Any] = {}
        if self.custom is not None and any(is_custom(r.type) for r in new.resources.values() if r.emulated):
            # Custom resources answer before the stack is written; the queues they may use exist already.
            early = self._early_queues(new)
            previous = self.custom.stored(new.name)
            try:
                new, custom_rows = await self.custom.apply(new, previous, lambda arn: self._new_spec(arn, new, code))
            except DeployError:
                with self.store.transaction() as db:
                    for name in early:
                        _delete_queue(db, name)
                self.queues.reload()
                raise
            await self.custom.delete_removed(new, old_model, previous, self._live_spec)
        outputs = [self._output(o) for o in new.outputs]
        old_functions = {r["name"]: r["code_sha"] for r in self.store.query(
            "SELECT name, code_sha FROM functions WHERE stack = ?", (new.name,))}
        now = time.time()
        with self.store.transaction() as db:
            created = db.execute("SELECT created_at FROM stacks WHERE name = ?", (new.name,)).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO stacks (name, status, template_path, project_dir, model_json, outputs_json,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (new.name, "UPDATE_COMPLETE" if created else "CREATE_COMPLETE", new.template_path,
                 new.project_dir, json.dumps(to_dict(new)), json.dumps(outputs),
                 created["created_at"] if created else now, now),
            )
            db.execute("DELETE FROM resources WHERE stack = ?", (new.name,))
            db.executemany(
                "INSERT INTO resources (stack, logical_id, type, physical_id, properties_hash, status, emulated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(new.name, r.logical_id, r.type, r.physical_id, r.properties_hash,
                  _status(r), int(r.emulated)) for r in new.resources.values()],
            )
            retire = self._write_functions(db, new, code, now)
            self._write_queues(db, new, now)
            self._write_mappings(db, new, now)
            self._write_api_keys(db, new, now)
            self.logs.declare_groups(db, new.name, _log_groups(new))
            if self.custom is not None:
                self.custom.save(db, new.name, custom_rows)
            _fault_pause()
        kept = {f.name for f in new.functions.values()}
        await self.refresh(retire=retire + [n for n in old_functions if n not in kept])
        self.last_changes[new.name] = {"at": now, "changes": [c.to_dict() for c in changes]}
        return {
            "stack": new.name,
            "changes": [c.to_dict() for c in changes],
            "outputs": outputs,
            "endpoints": endpoints(new, self.gateway_url),
            "skipped": [{"logical_id": r.logical_id, "type": r.type} for r in new.resources.values() if not r.emulated],
            "warnings": [{"logical_id": w.logical_id, "message": w.message} for w in new.warnings],
        }

    def _check(self, new: Stack) -> None:
        """Checks that need deployed state: name clashes with other stacks, ESM rules."""
        for fn in new.functions.values():
            row = self.store.query_one("SELECT stack FROM functions WHERE name = ?", (fn.name,))
            if row and row["stack"] != new.name:
                raise DeployError(
                    f"{fn.logical_id}: function name {fn.name!r} already exists in stack {row['stack']!r}")
        for q in new.queues.values():
            row = self.store.query_one("SELECT stack FROM queues WHERE name = ?", (q.name,))
            if row and row["stack"] != new.name:
                owner = row["stack"] or "an API call"
                raise DeployError(f"{q.logical_id}: queue {q.name!r} already exists (created by {owner})")
        queues_by_arn = {q.arn: q for q in new.queues.values()}
        for m in new.mappings.values():
            target = new.functions.get(m.function)
            if target is None:
                raise DeployError(f"{m.logical_id}: target function {m.function!r} is not in the stack")
            if stream_kind(m.event_source_arn):
                continue  # a stream: checked by the mapping manager (stream_esm.check_sources)
            source = queues_by_arn.get(m.event_source_arn)
            attributes = _queue_attributes(source) if source else self._stored_queue_attributes(m.event_source_arn)
            if attributes is None:
                raise DeployError(f"{m.logical_id}: event source {m.event_source_arn} does not exist",
                                  hint="Create the queue in this stack or another deployed stack first.")
            # Checked again here because the queue may live in another stack the template cannot see.
            message = EsmManager.check_mapping(target.timeout, attributes, _mapping_config(m))
            if message:
                raise DeployError(f"{m.logical_id}: InvalidParameterValueException: {message}")

    def _stored_queue_attributes(self, arn: str) -> dict[str, str] | None:
        row = self.store.query_one("SELECT attributes_json FROM queues WHERE arn = ?", (arn,))
        return json.loads(row["attributes_json"]) if row else None

    def _install_artifacts(self, artifacts: list[dict[str, Any]]) -> dict[str, Path]:
        """Copy each zip into the content-addressed store and unpack it once: sha256 -> code dir."""
        from samlite.package.unpack import unpack_artifact

        settings = self.settings
        settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
        out: dict[str, Path] = {}
        for art in artifacts:
            sha = art["sha256"]
            if not re.fullmatch(r"[0-9a-f]{64}", sha):
                raise DeployError(f"{art.get('logical_id')}: bad artifact digest {sha!r}")
            stored = settings.artifacts_dir / f"{sha}.zip"
            if not stored.exists():
                src = Path(art["path"])
                if not src.is_file():
                    raise DeployError(f"{art.get('logical_id')}: artifact {src} is missing", hint="Run `samlite build`.")
                # Unique per call: two deploys in this process may install the same artifact at once.
                tmp = stored.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
                shutil.copyfile(src, tmp)
                if _sha256(tmp) != sha:
                    tmp.unlink()
                    raise DeployError(f"{art.get('logical_id')}: artifact {src} changed since it was built",
                                      hint="Run `samlite build` again.")
                os.replace(tmp, stored)
            dest = settings.code_dir / sha
            unpack_artifact(stored, dest)
            out[art["logical_id"]] = dest
        return out

    def _write_functions(self, db: Any, new: Stack, code: dict[str, Path], now: float) -> list[str]:
        """Upsert function rows; return the names whose environments must be replaced."""
        retire: list[str] = []
        # The stack's own layers, and public layers the build provided (keyed by their ARN).
        layer_dirs = {lid: str(code[lid]) for fn in new.functions.values() for lid in fn.layers if lid in code}
        for fn in new.functions.values():
            blob, code_sha = _function_config(fn, new, code, layer_dirs, self._not_emulated_dir)
            row = db.execute("SELECT code_sha FROM functions WHERE name = ?", (fn.name,)).fetchone()
            if row is not None and row["code_sha"] != code_sha:
                retire.append(fn.name)
            db.execute(
                "INSERT OR REPLACE INTO functions (name, stack, logical_id, config_json, code_sha, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)", (fn.name, new.name, fn.logical_id, blob, code_sha, now))
        keep = [f.name for f in new.functions.values()]
        db.execute(f"DELETE FROM functions WHERE stack = ? AND name NOT IN ({','.join('?' * len(keep))})",
                   (new.name, *keep))
        return retire

    def _write_queues(self, db: Any, new: Stack, now: float, remove: bool = True) -> None:
        keep = {q.name for q in new.queues.values()}
        for row in db.execute("SELECT name FROM queues WHERE stack = ?", (new.name,)).fetchall():
            if remove and row["name"] not in keep:
                _delete_queue(db, row["name"])
        for q in new.queues.values():
            attrs = json.dumps(_queue_attributes(q))
            db.execute(
                "INSERT INTO queues (name, arn, stack, logical_id, fifo, attributes_json, tags_json, created_at,"
                " modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " attributes_json = excluded.attributes_json, tags_json = excluded.tags_json,"
                " logical_id = excluded.logical_id, modified_at = excluded.modified_at",
                (q.name, q.arn, new.name, q.logical_id, int(q.fifo), attrs, json.dumps(dict(q.tags)), now, now),
            )

    def _early_queues(self, new: Stack) -> list[str]:
        """Create the stack's new queues ahead of its transaction; return their names."""
        stored = {r["name"] for r in self.store.query("SELECT name FROM queues WHERE stack = ?", (new.name,))}
        fresh = [q for q in new.queues.values() if q.name not in stored]
        if fresh:
            with self.store.transaction() as db:
                self._write_queues(db, Stack(name=new.name, region=new.region, account_id=new.account_id,
                                             template_path="", project_dir="",
                                             queues={q.logical_id: q for q in fresh}), time.time(), remove=False)
            self.queues.reload()
        return [q.name for q in fresh]

    def _write_mappings(self, db: Any, new: Stack, now: float) -> None:
        db.execute("DELETE FROM mappings WHERE stack = ?", (new.name,))
        for m in new.mappings.values():
            fn = new.functions[m.function]
            db.execute(
                "INSERT OR REPLACE INTO mappings (uuid, stack, logical_id, function_name, event_source_arn,"
                " config_json,"
                " enabled, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (m.uuid, new.name, m.logical_id, fn.name, m.event_source_arn, json.dumps(_mapping_config(m)),
                 int(m.enabled), "Enabled" if m.enabled else "Disabled", now),
            )

    def _write_api_keys(self, db: Any, new: Stack, now: float) -> None:
        """One usage-plan key per API that requires keys; kept across redeploys."""
        wanted = {a.api_id: a for a in new.apis.values()
                  if a.kind == "rest" and (a.api_key_required or any(r.api_key_required for r in a.routes))}
        existing = {r["api_id"] for r in db.execute("SELECT api_id FROM api_keys WHERE stack = ?", (new.name,))}
        for api_id in existing - set(wanted):
            db.execute("DELETE FROM api_keys WHERE stack = ? AND api_id = ?", (new.name, api_id))
        for api_id, api in wanted.items():
            if api_id not in existing:
                db.execute("INSERT INTO api_keys (id, value, name, stack, api_id, created_at)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           (model.stable_id(f"key/{new.name}/{api_id}", 10), secrets.token_urlsafe(30),
                            f"{new.name}-{api.logical_id}-key", new.name, api_id, now))

    def _new_spec(self, arn: str, new: Stack, code: dict[str, Path]) -> Any:
        """The spec a function of `new` will run with (a custom resource's ServiceToken), or None."""
        from samlite.core.runtime import FunctionSpec

        fn = next((f for f in new.functions.values() if arn == f.arn or arn.startswith(f.arn + ":")), None)
        if fn is None:
            return None
        layer_dirs = {lid: str(code[lid]) for lid in fn.layers if lid in code}
        blob, code_sha = _function_config(fn, new, code, layer_dirs, self._not_emulated_dir)
        return FunctionSpec.from_config(json.loads(blob), code_sha)

    @property
    def _not_emulated_dir(self) -> Path:
        return self.settings.code_dir / "not-emulated"

    def _live_spec(self, arn: str) -> Any:
        return next((s for s in self.functions.values() if arn == s.arn or arn.startswith(s.arn + ":")), None)

    def _output(self, out: model.Output) -> dict[str, Any]:
        value = local_url(out.value, self.gateway_url)
        row: dict[str, Any] = {"key": out.key, "value": value, "description": out.description}
        if value != out.value:
            row["aws_value"] = out.value
        if out.export_name:
            row["export_name"] = out.export_name
        return row

    # --- live state ------------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the live function table from the store (start-up and after every change)."""
        from samlite.core.runtime import FunctionSpec

        specs = {row["name"]: FunctionSpec.from_config(json.loads(row["config_json"]), row["code_sha"])
                 for row in self.store.query("SELECT name, config_json, code_sha FROM functions")}
        self.functions.clear()
        self.functions.update(specs)

    async def refresh(self, retire: list[str]) -> None:
        self.restore()
        for name in retire:
            self.invoker.retire(name)
        self.queues.reload()
        await self.esm.reload()
        self.gateway.reload()


# --- helpers -------------------------------------------------------------------------------
def endpoints(stack: Stack, gateway_url: str) -> list[dict[str, Any]]:
    """The local base URL of every API and function URL (stage included)."""
    out = []
    for api in stack.apis.values():
        stage = "" if api.stage_name == "$default" else f"{api.stage_name}/"
        out.append({"stack": stack.name, "resource": api.logical_id,
                    "kind": "rest-api" if api.kind == "rest" else "http-api",
                    "url": f"{gateway_url}/_api/{api.api_id}/{stage}", "api_id": api.api_id, "stage": api.stage_name,
                    "host_url": f"http://{api.api_id}.execute-api.localhost:{gateway_url.rsplit(':', 1)[1]}/{stage}",
                    "routes": [f"{r.method} {r.path}" for r in api.routes]})
    for url in stack.function_urls.values():
        out.append({"stack": stack.name, "resource": url.logical_id, "kind": "function-url",
                    "url": f"{gateway_url}/_url/{url.url_id}/", "function": url.function, "auth_type": url.auth_type})
    return out


def local_url(value: str, gateway_url: str) -> str:
    """Rewrite execute-api and lambda-url hosts to the local gateway URLs that serve them."""
    value = _EXECUTE_API.sub(lambda m: f"{gateway_url}/_api/{m.group(1)}{m.group(2) or '/'}", value)
    return _LAMBDA_URL.sub(lambda m: f"{gateway_url}/_url/{m.group(1)}{m.group(2) or '/'}", value)


def _status(r: model.Resource) -> str:
    if not r.emulated:
        return "SKIPPED"
    return "RECORDED" if r.type in INERT_TYPES else "CREATE_COMPLETE"  # inert: no local effect


def _queue_attributes(q: model.Queue) -> dict[str, str]:
    attrs = {
        "VisibilityTimeout": str(q.visibility_timeout),
        "MessageRetentionPeriod": str(q.message_retention_period),
        "DelaySeconds": str(q.delay_seconds),
        "MaximumMessageSize": str(q.maximum_message_size),
        "ReceiveMessageWaitTimeSeconds": str(q.receive_message_wait_time_seconds),
    }
    if q.fifo:
        attrs["FifoQueue"] = "true"
        attrs["ContentBasedDeduplication"] = "true" if q.content_based_deduplication else "false"
    if q.redrive_policy:
        attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": q.redrive_policy.dead_letter_target_arn,
                                             "maxReceiveCount": q.redrive_policy.max_receive_count})
    return attrs


def _function_config(fn: model.Function, new: Stack, code: dict[str, Path], layer_dirs: dict[str, str],
                     not_emulated_dir: Path) -> tuple[str, str]:
    """A function's deployed configuration (JSON) and its digest, which names its environments."""
    code_dir = code.get(fn.logical_id)
    if code_dir is None and fn.not_emulated:
        code_dir = not_emulated_dir  # never run: invoking returns the reason
        code_dir.mkdir(parents=True, exist_ok=True)
    if code_dir is None:
        raise DeployError(f"{fn.logical_id}: no artifact was built for this function",
                          hint="Functions need CodeUri or InlineCode; run `samlite build`.")
    config = to_dict(fn)
    config["code_dir"] = str(code_dir)
    config["layer_dirs"] = [layer_dirs[lid] for lid in fn.layers if lid in layer_dirs]
    config["stack"] = new.name
    blob = json.dumps(config, sort_keys=True)
    return blob, hashlib.sha256(blob.encode()).hexdigest()


def _mapping_config(m: model.EventSourceMapping) -> dict[str, Any]:
    config: dict[str, Any] = {
        "BatchSize": m.batch_size,
        "MaximumBatchingWindowInSeconds": m.maximum_batching_window_seconds,
        "FunctionResponseTypes": list(m.function_response_types),
    }
    if m.filter_patterns:
        config["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in m.filter_patterns]}
    if m.maximum_concurrency is not None:
        config["ScalingConfig"] = {"MaximumConcurrency": m.maximum_concurrency}
    config.update(m.stream)
    return config


def _log_groups(stack: Stack) -> list[tuple[str, int | None, bool]]:
    """The stack's Logs::LogGroup resources: (name, RetentionInDays, DeletionPolicy Retain)."""
    out = []
    for r in stack.resources.values():
        if r.type == "AWS::Logs::LogGroup":
            days = r.properties.get("RetentionInDays")
            days = int(days) if isinstance(days, (int, str)) and str(days).isdigit() else None
            out.append((str(r.properties.get("LogGroupName") or r.physical_id), days, r.deletion_policy == "Retain"))
    return out


def _delete_queue(db: Any, name: str) -> None:
    db.execute("DELETE FROM messages WHERE queue = ?", (name,))
    db.execute("DELETE FROM fifo_dedup WHERE queue = ?", (name,))
    db.execute("DELETE FROM queues WHERE name = ?", (name,))
    db.execute("INSERT OR REPLACE INTO deleted_queues (name, deleted_at) VALUES (?, ?)", (name, time.time()))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _empty() -> Stack:
    return Stack(name="", region="", account_id="", template_path="", project_dir="")


# Test hooks (fault injection at the OS edge), inert unless their variable is set.
async def _fault_hold() -> None:
    """Keep a deploy in progress (before its transaction) so a test can start a concurrent one."""
    hold = os.environ.get("SAMLITE_FAULT_DEPLOY_HOLD")
    if hold:
        log.warning("fault injection: holding the deploy %s s before its transaction", hold)
        await asyncio.sleep(float(hold))


def _fault_pause() -> None:
    """Hold the deploy transaction open (blocking, as a slow disk would) so a test can SIGKILL mid-deploy."""
    pause = os.environ.get("SAMLITE_FAULT_DEPLOY_PAUSE")
    if pause:
        log.warning("fault injection: pausing %s s inside the deploy transaction", pause)
        time.sleep(float(pause))
